// The flow preview's customer picker: typing a name or email lists the customers the preview
// can be shown for (GET data-search-url, a relative fetch: embedded, App Bridge adds the session
// token); picking one shows the preview. Arrow keys move through the list, Enter picks, Escape
// closes. Without this script the form still works: the typed text is searched on the server.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview-picker]");
  if (!form || !window.fetch || !window.URL) return;
  var search = form.querySelector('input[type="search"]');
  var results = document.getElementById(search.getAttribute("aria-controls"));
  var customerId = form.querySelector('[data-role="customer-id"]');
  var searchUrl = form.getAttribute("data-search-url");
  var noResults = form.getAttribute("data-no-results") || "";
  var DEBOUNCE_MS = 200;
  var sequence = 0;
  var timer = null;

  function options() { return Array.prototype.slice.call(results.querySelectorAll(".picker-option")); }

  function close() {
    results.hidden = true;
    results.textContent = "";
    search.setAttribute("aria-expanded", "false");
  }

  function choose(choice) {
    customerId.value = choice.value;
    search.value = choice.label;
    close();
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  function show(found) {
    results.textContent = "";
    found.forEach(function (choice, index) {
      var option = document.createElement("button");
      option.type = "button";
      option.className = "picker-option";
      option.id = "preview-customer-option-" + index;
      option.setAttribute("role", "option");
      option.setAttribute("data-value", choice.value);
      option.textContent = choice.label;
      // Keeps the focus in the search box (no focusout), so the click lands on the option.
      option.addEventListener("mousedown", function (event) { event.preventDefault(); });
      option.addEventListener("click", function () { choose(choice); });
      results.appendChild(option);
    });
    if (!found.length) {
      var none = document.createElement("span");
      none.className = "picker-empty";
      none.setAttribute("data-field", "preview-no-results");
      none.textContent = noResults;
      results.appendChild(none);
    }
    results.hidden = false;
    search.setAttribute("aria-expanded", "true");
  }

  function lookUp() {
    var url = new URL(searchUrl, window.location.href);
    url.searchParams.set("q", search.value);
    var mine = ++sequence;
    fetch(url.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("search failed");
        return response.json();
      })
      .then(function (body) { if (mine === sequence) show(body.results || []); })
      .catch(function () { if (mine === sequence) close(); });
  }

  search.addEventListener("input", function () {
    customerId.value = "";  // typed, not yet picked: the server searches the text if sent
    window.clearTimeout(timer);
    timer = window.setTimeout(lookUp, DEBOUNCE_MS);
  });
  search.addEventListener("focus", function () { if (results.hidden) lookUp(); });
  search.addEventListener("keydown", function (event) {
    var all = options();
    if (event.key === "Escape") { close(); return; }
    if (event.key === "ArrowDown" && all.length) { event.preventDefault(); all[0].focus(); return; }
    if (event.key === "Enter" && !results.hidden && all.length) {
      event.preventDefault();
      all[0].click();
    }
  });
  results.addEventListener("keydown", function (event) {
    var all = options();
    var at = all.indexOf(document.activeElement);
    if (at < 0) return;
    if (event.key === "ArrowDown") { event.preventDefault(); all[Math.min(at + 1, all.length - 1)].focus(); }
    else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (at === 0) search.focus(); else all[at - 1].focus();
    } else if (event.key === "Escape") { close(); search.focus(); }
  });
  form.addEventListener("focusout", function (event) {
    if (!event.relatedTarget || !form.contains(event.relatedTarget)) close();
  });
})();
