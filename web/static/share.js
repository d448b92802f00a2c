// Copy the page's link; without this script the link stays selectable in its field.
(function () {
  "use strict";
  var button = document.getElementById("share-copy");
  var field = document.getElementById("share-url");
  if (!button || !field) { return; }
  button.addEventListener("click", function () {
    var done = function () { button.textContent = button.getAttribute("data-copied"); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {
      field.select();
      document.execCommand("copy");
      done();
    }
  });
}());
