// Kizuna campaign editor and report: blocks added, moved and removed in place, a tab per language, products
// and the preview's customer picked by name, a live preview and a live audience count.
// Without this file the form still works: its buttons post to the server, which re-renders it.
// Every request is a relative fetch(): embedded, App Bridge adds the session token (Authorization:
// Bearer); standalone, the cookie plus the X-CSRF-Token header. The preview and count endpoints
// take the editor's own form fields, so what is previewed is exactly what "Save" would store.
(function () {
  "use strict";

  // The report while a campaign sends (and for two days after): its numbers are fetched again
  // every ten seconds and swapped in place; the rest of the page is left alone.
  var report = document.getElementById("campaign-report");
  if (report && report.hasAttribute("data-live") && window.fetch && window.DOMParser) {
    var REPORT_MS = 10000;
    var poll = function () {
      if (!document.body.contains(report)) return; // the merchant moved on to another page
      fetch(window.location.href, { headers: { Accept: "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html && document.body.contains(report)) {
            var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("campaign-report");
            if (fresh) report.innerHTML = fresh.innerHTML;
          }
          window.setTimeout(poll, REPORT_MS);
        })
        .catch(function () { window.setTimeout(poll, 4 * REPORT_MS); });
    };
    window.setTimeout(poll, REPORT_MS);
  }
})();

// The review page: choosing a date and time means "schedule for", not "send now".
(function () {
  "use strict";
  var sendAt = document.getElementById("send_at");
  var later = document.querySelector('input[name="when"][value="later"]');
  if (!sendAt || !later) return;
  ["focus", "input"].forEach(function (type) {
    sendAt.addEventListener(type, function () { later.checked = true; });
  });
})();

(function () {
  "use strict";

  var form = document.getElementById("campaign-editor");
  if (!form || !window.fetch || !window.URLSearchParams) return;
  var text = JSON.parse((document.getElementById("campaign-editor-text") || {}).textContent || "{}");
  var csrf = form.getAttribute("data-csrf") || "";
  var maxBlocks = Number(form.getAttribute("data-max-blocks") || 40);
  var maxProducts = Number(form.getAttribute("data-max-products") || 6);
  var PREVIEW_MS = 500;
  var COUNT_MS = 400;
  var SEARCH_MS = 250;

  function $(selector, root) { return (root || form).querySelector(selector); }
  function $$(selector, root) { return Array.prototype.slice.call((root || form).querySelectorAll(selector)); }
  function debounce(fn, ms) {
    var timer = null;
    return function () { window.clearTimeout(timer); timer = window.setTimeout(fn, ms); };
  }

  function post(url, extra) {
    var data = new URLSearchParams(new FormData(form));
    data.delete("action");
    Object.keys(extra || {}).forEach(function (key) { data.set(key, extra[key]); });
    return fetch(url, {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      body: data
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    });
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  // --- blocks ---------------------------------------------------------------------------------

  function panelOf(lang) { return $('[data-lang-panel="' + lang + '"]'); }
  function blocksOf(lang) { return $('[data-blocks="' + lang + '"]'); }
  function rows(lang) { return $$(":scope > [data-block]", blocksOf(lang)); }

  // Names follow the block's language and place (ja-0-text), exactly as the server reads them.
  function renumber(lang) {
    var all = rows(lang);
    all.forEach(function (row, index) {
      row.setAttribute("data-testid", "block-" + lang + "-" + index);
      $$("[data-name]", row).forEach(function (input) {
        input.name = lang + "-" + index + "-" + input.getAttribute("data-name");
      });
      ["up", "down", "remove"].forEach(function (role) {
        var button = $('[data-role="' + role + '"]', row);
        if (button) button.value = role + ":" + lang + ":" + index;
      });
      $('[data-role="up"]', row).disabled = index === 0;
      $('[data-role="down"]', row).disabled = index === all.length - 1;
    });
    $$('[data-role="add"]', panelOf(lang)).forEach(function (button) {
      button.disabled = all.length >= maxBlocks;
    });
  }

  function setUpBlock(row) {
    var ids = $('[data-role="product-ids"]', row);
    if (ids) {
      ids.type = "hidden";
      var picker = $('[data-role="product-picker"]', row);
      if (picker) picker.hidden = false;
      showMode(row);
    }
  }

  function addBlock(lang, kind) {
    var template = document.getElementById("block-template-" + kind);
    if (!template || rows(lang).length >= maxBlocks) return;
    var row = template.content.firstElementChild.cloneNode(true);
    blocksOf(lang).appendChild(row);
    setUpBlock(row);
    renumber(lang);
    var first = $("input:not([type=hidden]), textarea, select", row);
    if (first) first.focus();
    changed();
  }

  function copyBlocks(from, to) {
    var target = blocksOf(to);
    target.textContent = "";
    rows(from).forEach(function (row) {
      var copy = row.cloneNode(true);
      // cloneNode copies attributes, not what was typed: carry the current values over.
      var sources = $$("input, textarea, select", row);
      $$("input, textarea, select", copy).forEach(function (input, i) { input.value = sources[i].value; });
      $$("[data-ready]", copy).forEach(function (input) { input.removeAttribute("data-ready"); });
      $$('[data-role="results"]', copy).forEach(function (box) { closeResults(box, null); });
      target.appendChild(copy);
    });
    renumber(to);
    changed();
  }

  // --- products: chosen by name ---------------------------------------------------------------

  function showMode(row) {
    var mode = $('[data-role="mode"]', row);
    if (!mode) return;
    var chosen = mode.value === "chosen";
    $('[data-role="chosen"]', row).hidden = !chosen;
    $('[data-role="recommended-note"]', row).hidden = chosen;
  }

  function productIds(row) {
    var value = $('[data-role="product-ids"]', row).value;
    return value ? value.split(",").filter(Boolean) : [];
  }

  function setProductIds(row, ids) {
    $('[data-role="product-ids"]', row).value = ids.join(",");
    changed();
  }

  function addChip(row, value, label) {
    var chip = document.createElement("li");
    chip.className = "chip";
    chip.setAttribute("data-value", value);
    chip.appendChild(document.createTextNode(label + " "));
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "chip-remove";
    remove.setAttribute("data-role", "unchoose");
    remove.setAttribute("aria-label", text.remove || "Remove");
    remove.textContent = "×";
    chip.appendChild(remove);
    $('[data-role="chips"]', row).appendChild(chip);
  }

  function closeResults(box, input) {
    box.hidden = true;
    box.textContent = "";
    if (input) input.setAttribute("aria-expanded", "false");
  }

  // A search box over `url` (?q=): results listed under it, `pick(choice)` on a click.
  function searchBox(input, box, url, pick) {
    var sequence = 0;
    function lookUp() {
      var mine = ++sequence;
      var target = new URL(url, window.location.href);
      target.searchParams.set("q", input.value);
      getJson(target.href).then(function (body) {
        if (mine !== sequence) return;
        box.textContent = "";
        var results = body.results || [];
        if (!results.length) {
          var empty = document.createElement("span");
          empty.className = "picker-empty";
          empty.textContent = text.no_results || "";
          box.appendChild(empty);
        }
        results.forEach(function (choice) {
          var option = document.createElement("button");
          option.type = "button";
          option.className = "picker-option";
          option.setAttribute("role", "option");
          option.textContent = choice.label;
          option.addEventListener("click", function () {
            pick(choice);
            closeResults(box, input);
          });
          box.appendChild(option);
        });
        box.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }).catch(function () { closeResults(box, input); });
    }
    var later = debounce(lookUp, SEARCH_MS);
    input.addEventListener("input", later);
    input.addEventListener("focus", lookUp);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { closeResults(box, input); return; }
      if (event.key === "Enter") {
        event.preventDefault(); // never submits the form: picks the first match instead
        var first = box.querySelector(".picker-option");
        if (first) first.click();
      }
    });
    document.body.addEventListener("click", function (event) {
      if (!box.parentNode.contains(event.target)) closeResults(box, input);
    });
  }

  var productsUrl = form.getAttribute("data-products-url");
  form.addEventListener("focusin", function (event) {
    var input = event.target;
    if (input.getAttribute("data-role") !== "product-search" || input.hasAttribute("data-ready")) return;
    input.setAttribute("data-ready", "");
    var row = input.closest("[data-block]");
    var box = $('[data-role="results"]', input.parentNode);
    searchBox(input, box, productsUrl, function (choice) {
      var current = productIds(row);
      if (current.indexOf(choice.value) < 0 && current.length < maxProducts) {
        addChip(row, choice.value, choice.label);
        setProductIds(row, current.concat([choice.value]));
      }
      input.value = "";
    });
    input.dispatchEvent(new Event("focus"));
  });

  // --- clicks and edits -----------------------------------------------------------------------

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-role]");
    if (!button || !form.contains(button)) return;
    var role = button.getAttribute("data-role");
    var panel = button.closest("[data-lang-panel]");
    var lang = panel ? panel.getAttribute("data-lang-panel") : null;
    var row = button.closest("[data-block]");
    if (role === "add" && lang) {
      event.preventDefault();
      addBlock(lang, button.getAttribute("data-type"));
    } else if (role === "remove" && row) {
      event.preventDefault();
      row.remove();
      renumber(lang);
      changed();
    } else if ((role === "up" || role === "down") && row) {
      event.preventDefault();
      if (role === "up" && row.previousElementSibling) row.parentNode.insertBefore(row, row.previousElementSibling);
      if (role === "down" && row.nextElementSibling) row.parentNode.insertBefore(row.nextElementSibling, row);
      renumber(lang);
      button.focus();
      changed();
    } else if (role === "unchoose" && row) {
      var chip = button.closest(".chip");
      var value = chip.getAttribute("data-value");
      chip.remove();
      setProductIds(row, productIds(row).filter(function (id) { return id !== value; }));
    } else if (role === "copy-from" && lang) {
      copyBlocks(button.getAttribute("data-from"), lang);
    }
  });

  // Edits of the email refresh the preview, of the audience the count; searching, the preview's
  // own choices and the test address refresh nothing by themselves.
  var QUIET = ["customer-search", "product-search", "preview-lang"];
  function edited(event) {
    var target = event.target;
    var role = target.getAttribute("data-role");
    if (event.type === "change" && role === "mode") showMode(target.closest("[data-block]"));
    if (role === "audience") countLater();
    else if (QUIET.indexOf(role) < 0 && !target.closest("#test-send")) changed();
  }
  form.addEventListener("change", edited);
  form.addEventListener("input", edited);

  // --- language tabs --------------------------------------------------------------------------

  var previewLang = $('[data-role="preview-lang"]');
  function activate(lang) {
    $$("[data-lang-tab]").forEach(function (tab) {
      var on = tab.getAttribute("data-lang-tab") === lang;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
    });
    $$("[data-lang-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-lang-panel") !== lang;
    });
    if (previewLang && previewLang.value !== lang) {
      previewLang.value = lang;
      previewLater();
    }
  }
  var tabs = $('[data-role="lang-tabs"]');
  if (tabs) {
    tabs.hidden = false;
    tabs.addEventListener("click", function (event) {
      var tab = event.target.closest("[data-lang-tab]");
      if (tab) activate(tab.getAttribute("data-lang-tab"));
    });
    tabs.addEventListener("keydown", function (event) {  // arrow keys move between the tabs
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      var all = $$("[data-lang-tab]", tabs);
      var next = all[(all.indexOf(event.target) + (event.key === "ArrowRight" ? 1 : all.length - 1)) % all.length];
      if (!next) return;
      event.preventDefault();
      activate(next.getAttribute("data-lang-tab"));
      next.focus();
    });
    $$('[data-role="copy-from"]').forEach(function (button) { button.hidden = false; });
    var first = $("[data-lang-tab]");
    if (first) activate(first.getAttribute("data-lang-tab"));
  }
  if (previewLang) {
    previewLang.addEventListener("change", function () { activate(previewLang.value); });
  }

  // --- the live preview -----------------------------------------------------------------------

  var frame = $('[data-role="preview-frame"]');
  var subject = $('[data-role="preview-subject"]');
  var previewError = $('[data-role="preview-error"]');
  var previewSequence = 0;
  function preview() {
    if (!frame) return;
    var mine = ++previewSequence;
    frame.setAttribute("data-state", "loading");
    post(form.getAttribute("data-preview-url")).then(function (result) {
      if (mine !== previewSequence) return;
      frame.removeAttribute("data-state");
      var problem = result.body.problem || (!result.ok && result.body.error);
      if (problem) {
        previewError.textContent = problem;
        previewError.hidden = false;
        return;
      }
      previewError.hidden = true;
      subject.textContent = result.body.subject || "";
      frame.srcdoc = result.body.html || "";
      frame.setAttribute("data-rendered", String(mine));
    }).catch(function () {
      if (mine !== previewSequence) return;
      frame.removeAttribute("data-state");
      previewError.textContent = text.preview_failed || "";
      previewError.hidden = false;
    });
  }
  var previewLater = debounce(preview, PREVIEW_MS);
  function changed() { previewLater(); }

  var customerInput = $('[data-role="customer-search"]');
  if (customerInput) {
    var chosenCustomer = $('[data-role="preview-customer"]');
    searchBox(customerInput, $('[data-role="results"]', customerInput.parentNode),
      form.getAttribute("data-customers-url"), function (choice) {
        chosenCustomer.value = choice.value;
        customerInput.value = choice.label;
        preview();
      });
  }

  // --- the live audience count ----------------------------------------------------------------

  var countStatus = $('[data-role="count-status"]');
  var countSequence = 0;
  function count() {
    var mine = ++countSequence;
    var table = $('[data-testid="audience-count"]');
    table.setAttribute("data-state", "stale");
    post(form.getAttribute("data-count-url")).then(function (result) {
      if (mine !== countSequence) return;
      table.removeAttribute("data-state");
      var problem = result.body.problem || (!result.ok && result.body.error);
      if (problem) { countStatus.textContent = problem; return; }
      countStatus.textContent = "";
      (result.body.rows || []).forEach(function (row) {
        var cell = $('[data-count="' + row.key + '"]');
        if (cell) cell.textContent = row.text;
      });
      table.setAttribute("data-will-receive", String(result.body.will_receive));
    }).catch(function () {
      if (mine !== countSequence) return;
      table.removeAttribute("data-state");
      countStatus.textContent = countStatus.getAttribute("data-failed-text") || "";
    });
  }
  var countLater = debounce(count, COUNT_MS);

  // --- start ----------------------------------------------------------------------------------

  ["ja", "en"].forEach(function (lang) {
    if (!blocksOf(lang)) return;
    rows(lang).forEach(setUpBlock);
    renumber(lang);
  });
  preview();
})();
