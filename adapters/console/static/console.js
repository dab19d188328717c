/* The operator console's only script: live sections (server-sent events, then a 30 s refresh in case
   the event happened on another worker) and confirmations. Pages work without it. */
(function () {
  "use strict";

  var live = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));

  function refresh(el) {
    return fetch(el.getAttribute("data-live"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (html !== null) {
          el.innerHTML = html; /* server-rendered and escaped by the server */
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
