// The event page, while its event runs: fetch the page again every second and put its live part
// (status, graph, steps) in place of the one shown, until the event has ended.
(function () {
  "use strict";
  var PERIOD_MS = 1000;

  function refresh() {
    var live = document.getElementById("live");
    if (!live || live.getAttribute("data-live") !== "true") {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
          if (fresh) {
            live.replaceWith(fresh);
          }
        }
      })
      .catch(function () {})
      .then(function () {
        window.setTimeout(refresh, PERIOD_MS);
      });
  }

  window.addEventListener("DOMContentLoaded", function () {
    window.setTimeout(refresh, PERIOD_MS);
  });
})();
