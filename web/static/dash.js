// Tipline dashboard: keyboard shortcuts, the help overlay and the maps. No inline script anywhere
// (the CSP forbids it); every page works without this file, only slower.
(function () {
  "use strict";

  var DECISION_KEYS = { p: "promising", u: "urgent", n: "not_relevant", s: "spam" };
  var armed = null;

  function typing(event) {
    var el = event.target;
    var tag = el && el.tagName ? el.tagName.toLowerCase() : "";
    return tag === "input" || tag === "textarea" || tag === "select" || (el && el.isContentEditable);
  }

  function helpOverlay() {
    return document.getElementById("help");
  }

  function toggleHelp(show) {
    var help = helpOverlay();
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
  }

  function banner(text) {
    var box = document.getElementById("armed");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  function disarm() {
    armed = null;
    banner("");
  }

  // Queue: j/k move the selection, Enter opens, c claims the next tip.
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
  }

  function selectedIndex(list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].classList.contains("selected")) return i;
    }
    return -1;
  }

  function select(list, index) {
    if (!list.length) return;
    index = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (row) {
      row.classList.remove("selected");
      row.removeAttribute("aria-selected");
    });
    list[index].classList.add("selected");
    list[index].setAttribute("aria-selected", "true");
    list[index].scrollIntoView({ block: "nearest" });
  }

  function queueKey(key) {
    var list = rows();
    var at = selectedIndex(list);
    if (key === "j") {
      select(list, at + 1);
    } else if (key === "k") {
      select(list, at < 0 ? 0 : at - 1);
    } else if (key === "Enter") {
      if (at >= 0) window.location.assign(list[at].getAttribute("data-href"));
    } else if (key === "c") {
      var claim = document.getElementById("claim-next");
      if (claim) claim.requestSubmit();
    } else {
      return false;
    }
    return true;
  }

  // Tip: a decision key arms, the same key again decides; d asks for the reference first.
  function outcomeButton(outcome) {
    return document.querySelector('#decide button[name="outcome"][value="' + outcome + '"]');
  }

  function decideWith(outcome) {
    var button = outcomeButton(outcome);
    var form = document.getElementById("decide");
    if (button && form) form.requestSubmit(button);
  }

  function askDuplicate() {
    var field = document.getElementById("duplicate_of");
    if (!field) return;
    var ref = window.prompt("Duplicate of which tip? Type its reference:", field.value || "");
    if (ref && ref.trim()) {
      field.value = ref.trim();
      decideWith("duplicate");
    }
  }

  function tipKey(key) {
    if (!document.getElementById("decide")) {
      if (key === "q") window.location.assign("/queue");
      return key === "q";
    }
    if (DECISION_KEYS[key]) {
      var outcome = DECISION_KEYS[key];
      if (armed === key) {
        disarm();
        decideWith(outcome);
      } else {
        armed = key;
        banner("Press " + key + " again to mark this tip " + outcome.replace("_", " ") + " (Esc cancels).");
      }
      return true;
    }
    disarm();
    if (key === "i") {
      var question = document.getElementById("question");
      if (question && !question.disabled) question.focus();
    } else if (key === "d") {
      askDuplicate();
    } else if (key === "q") {
      window.location.assign("/queue");
    } else {
      return false;
    }
    return true;
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      toggleHelp(false);
      disarm();
      if (typing(event)) event.target.blur();
      return;
    }
    if (typing(event)) return;
    if (event.key === "?") {
      toggleHelp();
      event.preventDefault();
      return;
    }
    var page = document.body.getAttribute("data-page");
    var handled = page === "queue" ? queueKey(event.key) : page === "tip" ? tipKey(event.key) : false;
    if (handled) event.preventDefault();
  }

  // In the decision form, Enter in the duplicate box decides "duplicate", Ctrl+Enter in the
  // question box asks it; nothing else submits (the form's default button is disabled).
  function onFormKey(event) {
    if (event.key !== "Enter") return;
    if (event.target.id === "duplicate_of" && event.target.value.trim()) {
      event.preventDefault();
      decideWith("duplicate");
    } else if (event.target.id === "question" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      decideWith("needs_info");
    }
  }

  // Maps: points come from a hidden list of data attributes; text above the map has them too,
  // so with no tiles (or no Leaflet) nothing is lost.
  var COLOURS = { "last-seen": "#1f4e9c", urgent: "#b00020", area: "#1f4e9c", coarse: "#888888" };

  function drawMap(el) {
    if (!window.L) return;
    var list = document.querySelector(el.getAttribute("data-points"));
    if (!list) return;
    var map = window.L.map(el, { scrollWheelZoom: false });
    var tiles = el.getAttribute("data-tiles");
    if (tiles) {
      window.L.tileLayer(tiles, { maxZoom: 18, attribution: "© OpenStreetMap contributors" }).addTo(map);
    } else {
      el.classList.add("no-tiles");
    }
    var bounds = [];
    Array.prototype.forEach.call(list.querySelectorAll("li"), function (li) {
      var lat = parseFloat(li.getAttribute("data-lat"));
      var lon = parseFloat(li.getAttribute("data-lon"));
      if (isNaN(lat) || isNaN(lon)) return;
      var kind = li.getAttribute("data-kind") || "sighting";
      var colour = COLOURS[kind] || "#8a1c1c";
      var radiusKm = parseFloat(li.getAttribute("data-radius-km"));
      var layer = !isNaN(radiusKm)
        ? window.L.circle([lat, lon], { radius: radiusKm * 1000, color: colour, fillOpacity: 0.08 })
        : window.L.circleMarker([lat, lon], { radius: kind === "coarse" ? 14 : 7, color: colour, fillOpacity: 0.6 });
      layer.bindTooltip(li.getAttribute("data-label") || kind);
      var href = li.getAttribute("data-href");
      if (href) layer.on("click", function () { window.location.assign(href); });
      layer.addTo(map);
      bounds.push([lat, lon]);
    });
    if (bounds.length > 1) map.fitBounds(bounds, { padding: [30, 30], maxZoom: 14 });
    else if (bounds.length === 1) map.setView(bounds[0], 13);
    else map.setView([0, 0], 1);
  }

  function resetAfterHtmx(event) {
    var form = event.target && event.target.closest ? event.target.closest("form") : null;
    if (form && form.getAttribute("hx-post")) form.reset();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("keydown", onKey);
    var decide = document.getElementById("decide");
    if (decide) decide.addEventListener("keydown", onFormKey);
    Array.prototype.forEach.call(document.querySelectorAll("[data-help-toggle]"), function (b) {
      b.addEventListener("click", function () { toggleHelp(); });
    });
    Array.prototype.forEach.call(document.querySelectorAll(".map[data-points]"), drawMap);
    document.body.addEventListener("htmx:after:request", resetAfterHtmx);
    if (document.body.getAttribute("data-page") === "queue") select(rows(), 0);
  });
})();
