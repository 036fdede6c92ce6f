/* Live figures: an element with data-poll-url="..." (JSON endpoint) and data-poll-seconds="10" gets
   every [data-field="key"] inside it refreshed with the endpoint's value for that key, and every
   [data-bar="key"] (a progress bar) set to that many percent. With data-poll-reload-when="key" the page
   reloads once the endpoint's value for that key turns false (a background job has finished). */
(function () {
  "use strict";
  function watch(box) {
    var url = box.getAttribute("data-poll-url");
    var seconds = parseInt(box.getAttribute("data-poll-seconds") || "10", 10);
    function refresh() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          box.querySelectorAll("[data-field]").forEach(function (el) {
            var key = el.getAttribute("data-field");
            if (key in data) { el.textContent = data[key]; }
          });
          box.querySelectorAll("[data-bar]").forEach(function (el) {
            var key = el.getAttribute("data-bar");
            if (key in data) {
              el.style.width = data[key] + "%";
              el.parentNode.setAttribute("aria-valuenow", data[key]);
            }
          });
          var until = box.getAttribute("data-poll-reload-when");
          if (until && data[until] === false) { window.location.reload(); return; }
          var stamp = box.querySelector("[data-poll-stamp]");
          if (stamp) { stamp.textContent = new Date().toLocaleTimeString("zh-CN"); }
        })
        .catch(function () { /* offline for a moment: try again next tick */ });
    }
    setInterval(refresh, seconds * 1000);
  }
  document.querySelectorAll("[data-poll-url]").forEach(watch);
})();
