/* The operator console's only script: live sections (server-sent events, then a 30 s refresh in case
   the event happened on another worker), details that load when opened, and confirmations. Pages work
   without it. */
(function () {
  "use strict";

  var live = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));

  function getHtml(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; });
  }

  /* A <details data-load="..."> fills its last child with the server's fragment when first opened. */
  function load(details) {
    var url = details.getAttribute("data-load");
    if (!url || details.getAttribute("data-loaded")) { return; }
    details.setAttribute("data-loaded", "1");
    getHtml(url).then(function (html) {
      if (html !== null) { details.lastElementChild.innerHTML = html; /* escaped by the server */ }
      else { details.removeAttribute("data-loaded"); }
    }).catch(function () { details.removeAttribute("data-loaded"); });
  }

  document.addEventListener("toggle", function (event) {
    if (event.target.open) { load(event.target); }
  }, true);

  function refresh(el) {
    var open = Array.prototype.map.call(el.querySelectorAll("details[open][id]"), function (d) { return d.id; });
    return getHtml(el.getAttribute("data-live"))
      .then(function (html) {
        if (html !== null) {
          el.innerHTML = html; /* server-rendered and escaped by the server */
          open.forEach(function (id) { /* what the user had opened stays open */
            var details = document.getElementById(id);
            if (details && el.contains(details)) { details.open = true; load(details); }
          });
          el.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () { /* offline for a moment: the next event or tick retries */ });
  }

  function onTicket(event) {
    var data = {};
    try { data = JSON.parse(event.data); } catch (e) { return; }
    live.forEach(function (el) {
      var only = el.getAttribute("data-ticket");
      if (!only || only === String(data.ticket_id)) { refresh(el); }
    });
  }

  if (live.length) {
    if (window.EventSource) {
      var source = new EventSource("/api/admin/tickets/events");
      source.addEventListener("ticket", onTicket);
      source.addEventListener("open", function () { document.body.setAttribute("data-live", "on"); });
    }
    window.setInterval(function () { live.forEach(refresh); }, 30000);
  }

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
})();
