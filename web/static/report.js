// Progressive help for the report form; the form works without it (the server checks everything).
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) { return; }

  // Date and time matter only for "earlier today" and "another day".
  var details = form.querySelector(".when-details");
  var dateField = document.getElementById("date");
  function showWhen() {
    var chosen = form.querySelector('input[name="when"]:checked');
    var mode = chosen ? chosen.value : "";
    details.hidden = mode !== "today" && mode !== "day";
    dateField.parentNode.querySelector('label[for="date"]').hidden = mode !== "day";
    dateField.hidden = mode !== "day";
  }
  form.querySelectorAll('input[name="when"]').forEach(function (radio) {
    radio.addEventListener("change", showWhen);
  });
  showWhen();

  // Warn before a long upload that the server would refuse.
  var photos = document.getElementById("photos");
  var warning = document.getElementById("photo-warning");
  function photoProblem() {
    var files = photos.files || [];
    var maxCount = Number(photos.dataset.maxCount);
    if (files.length > maxCount) {
      return photos.dataset.tooMany.replace("{count}", String(files.length));
    }
    var total = 0;
    for (var i = 0; i < files.length; i++) {
      if (files[i].size > Number(photos.dataset.maxBytes)) {
        return photos.dataset.tooLarge.replace("{name}", files[i].name);
      }
      total += files[i].size;
    }
    return total > Number(photos.dataset.maxTotal) ? photos.dataset.total : "";
  }
  function checkPhotos() {
    var problem = photoProblem();
    warning.textContent = problem;
    warning.hidden = !problem;
    return !problem;
  }
  photos.addEventListener("change", checkPhotos);
  form.addEventListener("submit", function (event) {
    if (!checkPhotos()) { event.preventDefault(); photos.focus(); }
  });

  // Fill the coordinates from the device, only when asked.
  var locate = document.getElementById("locate");
  if (navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (position) {
        document.getElementById("lat").value = position.coords.latitude.toFixed(5);
        document.getElementById("lon").value = position.coords.longitude.toFixed(5);
      }, function () { locate.disabled = true; }, { enableHighAccuracy: true, timeout: 15000 });
    });
  }
}());
