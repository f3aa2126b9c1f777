// Kizuna segment builder: edit the rule tree in place and keep the matching count up to date.
// Without this file the form still works: its buttons post to the server, which re-renders it.
// Requests are relative fetch() calls: embedded, App Bridge adds the session token
// (Authorization: Bearer); standalone, the cookie plus the X-CSRF-Token header.
(function () {
  "use strict";

  // CSV downloads: fetched (so the embedded session token goes along) and saved as a file.
  document.querySelectorAll("a[data-download]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!window.fetch || !window.URL || !URL.createObjectURL) return;
      event.preventDefault();
      fetch(link.href, { headers: { Accept: "text/csv" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.blob();
        })
        .then(function (blob) {
          var url = URL.createObjectURL(blob);
          var a = document.createElement("a");
          a.href = url;
          a.download = link.getAttribute("data-download");
          document.body.appendChild(a);
          a.click();
          a.remove();
          window.setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
        })
        .catch(function () { window.location.href = link.href; });
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  var form = document.getElementById("segment-builder");
  var specNode = document.getElementById("segment-builder-spec");
  if (!form || !specNode) return;
  var spec = JSON.parse(specNode.textContent);
  var countUrl = form.getAttribute("data-count-url");
  var csrf = form.getAttribute("data-csrf");
  var maxDepth = Number(form.getAttribute("data-max-depth") || 3);
  var counter = document.getElementById("segment-count");
  var root = form.querySelector('[data-node="group"][data-path="r"]');
  var DEBOUNCE_MS = 400;
  var timer = null;
  var sequence = 0;

  function children(group) {
    var list = group.querySelector(':scope > [data-role="rules"]');
    return Array.prototype.filter.call(list.children, function (el) { return el.hasAttribute("data-node"); });
  }
  function own(node, role) { return node.querySelector('[data-role="' + role + '"]'); }
  function ownGroupControl(group, role) {
    return group.querySelector(':scope > legend [data-role="' + role + '"], :scope > .rule-actions [data-role="' + role + '"]');
  }

  // Names follow the node's path (r, r-0, r-1-2), exactly as the server reads the form.
  function renumber(group, path, depth) {
    group.setAttribute("data-path", path);
    group.setAttribute("data-depth", String(depth));
    group.setAttribute("data-testid", "group-" + path);
    var match = ownGroupControl(group, "match");
    match.name = match.id = path + "-match";
    match.setAttribute("data-testid", "match-" + path);
    ["add_condition", "add_group", "remove"].forEach(function (role) {
      var button = ownGroupControl(group, role);
      if (button) button.value = role + ":" + path;
    });
    var addGroup = ownGroupControl(group, "add_group");
    if (addGroup) addGroup.hidden = depth >= maxDepth;
    group.querySelectorAll(":scope > [data-error-for]").forEach(function (el, i) {
      el.setAttribute("data-error-for", i === 0 ? path + "-match" : path);
    });
    children(group).forEach(function (child, index) {
      var childPath = path + "-" + index;
      if (child.getAttribute("data-node") === "group") { renumber(child, childPath, depth + 1); return; }
      child.setAttribute("data-path", childPath);
      child.setAttribute("data-testid", "condition-" + childPath);
      ["field", "op", "value"].forEach(function (role) {
        var input = own(child, role);
        input.name = input.id = childPath + "-" + role;
        input.setAttribute("data-testid", role + "-" + childPath);
      });
      var search = own(child, "search");
      if (search) {
        search.id = childPath + "-search";
        search.setAttribute("data-testid", "search-" + childPath);
      }
      var remove = own(child, "remove");
      remove.value = "remove:" + childPath;
      remove.setAttribute("data-testid", "remove-" + childPath);
      var errors = child.querySelectorAll("[data-error-for]");
      ["-field", "-op", "-value", ""].forEach(function (suffix, i) {
        if (errors[i]) errors[i].setAttribute("data-error-for", childPath + suffix);
      });
    });
  }

  function ruleOf(group) {
    return {
      match: ownGroupControl(group, "match").value,
      rules: children(group).map(function (child) {
        if (child.getAttribute("data-node") === "group") return ruleOf(child);
        return { field: own(child, "field").value, op: own(child, "op").value, value: own(child, "value").value };
      })
    };
  }

  function setField(row) {
    var field = spec.fields[own(row, "field").value];
    var op = own(row, "op");
    var value = own(row, "value");
    var current = op.value;
    op.textContent = "";
    (field ? field.ops : []).forEach(function (pair) {
      var option = document.createElement("option");
      option.value = pair[0];
      option.textContent = pair[1];
      if (pair[0] === current) option.selected = true;
      op.appendChild(option);
    });
    if (field && field.list) value.setAttribute("list", field.list); else value.removeAttribute("list");
    value.placeholder = field ? field.hint : "";
    showPicker(row, field, true);
  }

  // Products and collections are picked by name: a search box over the store's catalogue
  // (GET data-values-url) fills the hidden value with the id the rule stores.
  var valuesUrl = form.getAttribute("data-values-url");
  var noResults = form.getAttribute("data-no-results") || "";
  var SEARCH_DEBOUNCE_MS = 250;

  function showPicker(row, field, changed) {
    var picker = own(row, "picker");
    var value = own(row, "value");
    var search = own(row, "search");
    if (!picker || !search) return;
    var searched = !!(field && field.search);
    if (changed && (searched || !picker.hidden)) {  // an id of another kind means nothing here
      value.value = "";
      search.value = "";
    }
    picker.hidden = !searched;
    value.type = searched ? "hidden" : "text";
    if (searched) {
      search.placeholder = field.search_hint;
      search.setAttribute("aria-label", field.search_hint);
    }
  }

  function closeResults(row) {
    var results = own(row, "results");
    if (results) { results.hidden = true; results.textContent = ""; }
    var search = own(row, "search");
    if (search) search.setAttribute("aria-expanded", "false");
  }

  function choose(row, choice) {
    own(row, "value").value = choice.value;
    own(row, "search").value = choice.label;
    closeResults(row);
    schedule();
  }

  function lookUp(row) {
    var search = own(row, "search");
    var results = own(row, "results");
    var url = new URL(valuesUrl, window.location.href);
    url.searchParams.set("field", own(row, "field").value);
    url.searchParams.set("q", search.value);
    var mine = (row.searchSequence = (row.searchSequence || 0) + 1);
    fetch(url.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (mine !== row.searchSequence) return;
        results.textContent = "";
        var found = body.results || [];
        found.forEach(function (choice) {
          var option = document.createElement("button");
          option.type = "button";
          option.className = "picker-option";
          option.setAttribute("role", "option");
          option.setAttribute("data-value", choice.value);
          option.textContent = choice.label;
          option.addEventListener("click", function () { choose(row, choice); });
          results.appendChild(option);
        });
        if (!found.length) {
          var none = document.createElement("span");
          none.className = "picker-empty";
          none.textContent = noResults;
          results.appendChild(none);
        }
        results.hidden = false;
        search.setAttribute("aria-expanded", "true");
      })
      .catch(function () { closeResults(row); });
  }

  form.addEventListener("input", function (event) {
    if (event.target.getAttribute("data-role") !== "search") return;
    var row = event.target.closest("[data-node]");
    window.clearTimeout(row.searchTimer);
    row.searchTimer = window.setTimeout(function () { lookUp(row); }, SEARCH_DEBOUNCE_MS);
  });
  form.addEventListener("focusin", function (event) {
    if (event.target.getAttribute("data-role") !== "search") return;
    lookUp(event.target.closest("[data-node]"));
  });
  form.addEventListener("keydown", function (event) {
    if (event.target.getAttribute("data-role") !== "search") return;
    var row = event.target.closest("[data-node]");
    if (event.key === "Escape") { closeResults(row); return; }
    if (event.key === "Enter") {
      event.preventDefault();  // never submits the form: picks the first match instead
      var first = own(row, "results").querySelector(".picker-option");
      if (first) first.click();
    }
  });
  document.addEventListener("click", function (event) {
    form.querySelectorAll('[data-role="picker"]').forEach(function (picker) {
      if (!picker.contains(event.target)) closeResults(picker.closest("[data-node]"));
    });
  });

  function showErrors(problems) {
    form.querySelectorAll("[data-error-for]").forEach(function (el) {
      if (el.getAttribute("data-error-for") === "name") return;
      el.hidden = true;
      el.textContent = "";
    });
    form.querySelectorAll('[aria-invalid="true"]').forEach(function (el) {
      if (el.name !== "name") el.removeAttribute("aria-invalid");
    });
    (problems || []).forEach(function (problem) {
      var el = form.querySelector('[data-error-for="' + CSS.escape(problem.path) + '"]');
      if (el) { el.textContent = problem.message; el.hidden = false; }
      var input = form.querySelector('[name="' + CSS.escape(problem.path) + '"]');
      if (input) input.setAttribute("aria-invalid", "true");
    });
  }

  function refresh() {
    var mine = ++sequence;
    counter.setAttribute("data-state", "stale");
    fetch(countUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ rule: ruleOf(root) })
    })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (mine !== sequence) return;
        counter.removeAttribute("data-state");
        if (result.ok) {
          counter.textContent = result.body.text;
          counter.setAttribute("data-count", String(result.body.count));
          showErrors([]);
        } else {
          counter.textContent = counter.getAttribute("data-invalid-text") || counter.textContent;
          counter.setAttribute("data-count", "");
          showErrors(result.body.errors);
        }
      })
      .catch(function () {
        if (mine !== sequence) return;
        counter.removeAttribute("data-state");
        counter.textContent = counter.getAttribute("data-failed-text") || counter.textContent;
      });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, DEBOUNCE_MS);
  }

  function fromTemplate(id) {
    return document.getElementById(id).content.firstElementChild.cloneNode(true);
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-role]");
    if (!button || !form.contains(button)) return;
    var role = button.getAttribute("data-role");
    if (role === "refresh") { event.preventDefault(); refresh(); return; }
    if (["add_condition", "add_group", "remove"].indexOf(role) < 0) return;
    event.preventDefault();
    var node = button.closest("[data-node]");
    if (role === "remove") {
      if (node !== root) node.remove();
    } else {
      var list = node.querySelector(':scope > [data-role="rules"]');
      list.appendChild(fromTemplate(role === "add_group" ? "group-template" : "condition-template"));
    }
    renumber(root, "r", 1);
    schedule();
  });

  form.addEventListener("change", function (event) {
    var role = event.target.getAttribute("data-role");
    if (role === "search") return;  // typing a name is not yet a choice
    if (role === "field") setField(event.target.closest("[data-node]"));
    schedule();
  });
  form.addEventListener("input", function (event) {
    if (event.target.getAttribute("data-role") === "value") schedule();
  });

  var refreshButton = form.querySelector('[data-role="refresh"]');
  if (refreshButton) refreshButton.hidden = true;
  renumber(root, "r", 1);
  form.querySelectorAll('[data-node="condition"]').forEach(function (row) {
    showPicker(row, spec.fields[own(row, "field").value], false);
  });
})();
