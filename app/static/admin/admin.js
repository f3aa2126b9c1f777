// Kizuna admin: small progressive enhancements; every page works without this file.
// - the store switcher submits on change;
// - the home page polls /app/status.json while a sync runs and updates the progress in place.
//   Plain relative fetch(): embedded, App Bridge adds the session token; standalone, the cookie.
(function () {
  "use strict";

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var button = select.form && select.form.querySelector("[data-autosubmit-button]");
    if (button) button.hidden = true;
    select.addEventListener("change", function () {
      // requestSubmit: the submit event fires, so navigate.js can send it with the session token.
      if (select.form.requestSubmit) select.form.requestSubmit(); else select.form.submit();
    });
  });

  var card = document.querySelector("[data-status-url]");
  if (!card) return;
  var url = card.getAttribute("data-status-url");
  var lang = card.getAttribute("data-lang") || "en";
  var POLL_MS = 3000;
  var TONES = { running: "info", done: "success", failed: "critical" };

  function field(name) { return card.querySelector('[data-field="' + name + '"]'); }
  function fmt(n) { return n === null || n === undefined ? "—" : Number(n).toLocaleString(lang); }
  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }

  function update(status) {
    var sync = status.sync, display = status.display || {};
    var tone = TONES[sync.status] || "neutral";
    var badge = field("sync-status");
    if (badge) { badge.className = "badge badge-" + tone; setText(badge, display.sync_status || sync.status); }

    var progress = field("sync-progress");
    if (progress) {
      var bar = progress.querySelector(".progress-bar");
      var known = sync.percent !== null && sync.percent !== undefined;
      progress.classList.toggle("progress-indeterminate", !known);
      if (known) progress.setAttribute("aria-valuenow", String(sync.percent));
      else progress.removeAttribute("aria-valuenow");
      bar.style.width = (known ? sync.percent : 100) + "%";
      bar.className = "progress-bar tone-" + tone;
      setText(field("sync-percent"), known ? Math.round(sync.percent) + "%" : "");
    }
    setText(field("sync-stream"), sync.status === "running" && display.stream
      ? (field("sync-stream").getAttribute("data-prefix") || "") + display.stream : "");

    var body = field("sync-streams");
    if (body) {
      sync.streams.forEach(function (s) {
        var row = body.querySelector('tr[data-stream="' + CSS.escape(s.name) + '"]');
        if (!row) {
          var placeholder = body.querySelector("tr.placeholder");
          if (placeholder) placeholder.remove();
          row = document.createElement("tr");
          row.setAttribute("data-stream", s.name);
          var name = document.createElement("td");
          name.textContent = (display.streams && display.streams[s.name]) || s.name;
          var done = document.createElement("td"); done.className = "num"; done.setAttribute("data-done", "");
          var total = document.createElement("td"); total.className = "num"; total.setAttribute("data-total", "");
          row.append(name, done, total);
          body.appendChild(row);
        }
        setText(row.querySelector("[data-done]"), fmt(s.done));
        setText(row.querySelector("[data-total]"), fmt(s.total));
      });
    }
    setText(field("sync-elapsed"), display.elapsed || "—");
    setText(field("sync-rate"), display.rate || "—");
    setText(field("sync-eta"), display.eta || "—");
    setText(field("sync-started"), display.started_at || "—");
    setText(field("sync-finished"), display.finished_at || "—");
    var error = field("sync-error");
    if (error) { error.hidden = !sync.error; setText(field("sync-error-text"), sync.error || ""); }
    var refreshing = field("sync-refreshing");
    if (refreshing) refreshing.hidden = sync.status !== "running";

    setText(document.querySelector('[data-field="webhooks-last-received"]'), display.last_received_at || "—");
    Object.keys(status.webhooks || {}).forEach(function (key) {
      var el = document.querySelector('[data-webhook="' + key + '"]');
      if (el && status.webhooks[key] !== null) setText(el, fmt(status.webhooks[key]));
    });
  }

  function poll() {
    if (!card.isConnected) return; // the page was replaced (embedded navigation): stop
    fetch(url, { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (status) {
        if (!status.sync) return;
        update(status);
        if (status.sync.status === "running" || status.shop.status === "installing") {
          window.setTimeout(poll, POLL_MS);
        }
      })
      .catch(function () { window.setTimeout(poll, POLL_MS * 3); });
  }

  if (card.hasAttribute("data-poll")) window.setTimeout(poll, POLL_MS);
})();
