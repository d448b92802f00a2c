// "Use my position" on the landing page: fills the coordinates from the device, only when asked,
// and sends them for this one answer. The page works without it (coordinates can be typed).
(function () {
  "use strict";
  var locate = document.getElementById("near-locate");
  if (!locate || !navigator.geolocation) { return; }
  locate.hidden = false;
  locate.addEventListener("click", function () {
    navigator.geolocation.getCurrentPosition(function (position) {
      document.getElementById("near-lat").value = position.coords.latitude.toFixed(4);
      document.getElementById("near-lon").value = position.coords.longitude.toFixed(4);
      document.getElementById("near-point").submit();
    }, function () { locate.disabled = true; }, { timeout: 15000 });
  });
})();
