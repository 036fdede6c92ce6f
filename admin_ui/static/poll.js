/* Live figures: an element with data-poll-url="..." (JSON endpoint) and data-poll-seconds="10" gets
   every [data-field="key"] inside it refreshed with the endpoint's value for that key. */
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
          var stamp = box.querySelector("[data-poll-stamp]");
          if (stamp) { stamp.textContent = new Date().toLocaleTimeString("zh-CN"); }
        })
        .catch(function () { /* offline for a moment: try again next tick */ });
    }
    setInterval(refresh, seconds * 1000);
  }
  document.querySelectorAll("[data-poll-url]").forEach(watch);
})();
