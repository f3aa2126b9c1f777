// Kizuna inside the Shopify admin: links and forms go through fetch(), so App Bridge adds the
// session token (Authorization: Bearer) to every request, since Shopify's frame has no cookies.
// The answer's HTML replaces the page and history follows (Turbo-style): one request per click,
// no bounce through the session-token page. Error pages are shown like any page; answers that
// are not HTML (CSV exports) are saved as files. Loaded on embedded pages only; without it each
// link still works as a full page load.
(function () {
  "use strict";
  if (window.kizunaNavigation) return; // survives page swaps: installed once per frame
  if (!window.fetch || !window.DOMParser || !window.URLSearchParams || !history.pushState) return;

  var KEEP_SCRIPTS = /app-bridge\.js|\/admin\/navigate\.js/;
  var current = null; // the AbortController of the visit in flight

  function sameOrigin(url) { return url.origin === window.location.origin; }

  function filenameOf(disposition, url) {
    var star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
    if (star) return decodeURIComponent(star[1]);
    var plain = /filename="?([^";]+)"?/i.exec(disposition);
    if (plain) return plain[1];
    return new URL(url).pathname.split("/").pop() || "download";
  }

  function save(blob, name) {
    var href = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = href;
    a.download = name;
    a.setAttribute("data-native", "");
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(function () { URL.revokeObjectURL(href); }, 1000);
  }

  function isPageScript(script) {
    var type = (script.getAttribute("type") || "").trim().toLowerCase();
    return (type === "" || type === "text/javascript" || type === "module") &&
      !KEEP_SCRIPTS.test(script.getAttribute("src") || "");
  }

  // Scripts parsed by DOMParser never run: each is recreated, in document order; `loading`
  // collects a promise per external one.
  function revive(script, loading) {
    var fresh = document.createElement("script");
    Array.prototype.forEach.call(script.attributes, function (attr) {
      fresh.setAttribute(attr.name, attr.value);
    });
    fresh.async = false;
    fresh.textContent = script.textContent;
    if (fresh.src) {
      loading.push(new Promise(function (resolve) {
        fresh.addEventListener("load", resolve);
        fresh.addEventListener("error", resolve);
      }));
    }
    return fresh;
  }

  function render(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    document.title = doc.title;
    if (doc.documentElement.lang) document.documentElement.lang = doc.documentElement.lang;
    doc.head.querySelectorAll('link[rel="stylesheet"]').forEach(function (link) {
      var href = link.getAttribute("href");
      var known = Array.prototype.some.call(
        document.head.querySelectorAll('link[rel="stylesheet"]'),
        function (own) { return own.getAttribute("href") === href; });
      if (!known) document.head.appendChild(link.cloneNode(true));
    });
    document.head.querySelectorAll("script").forEach(function (script) {
      if (isPageScript(script)) script.remove();
    });
    var headScripts = Array.prototype.filter.call(doc.head.querySelectorAll("script"), isPageScript);
    var loading = [];
    document.body.replaceWith(document.adoptNode(doc.body));
    document.body.querySelectorAll("script").forEach(function (script) {
      if (isPageScript(script)) script.replaceWith(revive(script, loading));
    });
    headScripts.forEach(function (script) { document.head.appendChild(revive(script, loading)); });
    return Promise.all(loading);
  }

  function settle(url) {
    var target = url.hash ? document.getElementById(decodeURIComponent(url.hash.slice(1))) : null;
    if (target) target.scrollIntoView();
    else window.scrollTo(0, 0);
    var heading = document.querySelector("main h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }

  // options: method, body, history ("push" | "replace" | false), fallback (the plain way).
  function visit(href, options) {
    options = options || {};
    var method = (options.method || "GET").toUpperCase();
    var requested = new URL(href, window.location.href);
    if (current) current.abort();
    var controller = new AbortController();
    current = controller;
    document.documentElement.setAttribute("aria-busy", "true");
    var init = {
      method: method,
      headers: { Accept: "text/html, application/xhtml+xml;q=0.9, */*;q=0.8" },
      credentials: "same-origin",
      redirect: "follow",
      signal: controller.signal
    };
    if (options.body !== undefined) init.body = options.body;
    return window.fetch(requested.href, init)
      .then(function (response) {
        if (current !== controller) return null;
        var type = response.headers.get("Content-Type") || "";
        var disposition = response.headers.get("Content-Disposition") || "";
        var isHtml = /text\/html|application\/xhtml/i.test(type);
        if (!isHtml || /attachment/i.test(disposition)) {
          if (!response.ok) { options.fallback(); return null; }
          return response.blob().then(function (blob) {
            save(blob, filenameOf(disposition, response.url || requested.href));
          });
        }
        return response.text().then(function (html) {
          if (current !== controller) return;
          var landed = new URL(response.url || requested.href);
          if (!response.redirected) landed.hash = requested.hash;
          var movesOn = method === "GET" || response.redirected;
          if (movesOn && options.history !== false) {
            var state = { kizuna: true };
            if (options.history === "replace") history.replaceState(state, "", landed.href);
            else history.pushState(state, "", landed.href);
          }
          var scripts = render(html);
          settle(landed);
          // The page is ready once its scripts ran: <html aria-busy> until then.
          return scripts.then(function () {
            document.dispatchEvent(new CustomEvent("kizuna:load", { detail: { url: landed.href } }));
          });
        });
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        options.fallback();
      })
      .then(function () {
        if (current === controller) {
          current = null;
          document.documentElement.removeAttribute("aria-busy");
        }
      });
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.hasAttribute("download") || link.hasAttribute("data-native")) return;
    var target = link.getAttribute("target");
    if (target && target !== "_self") return;
    var url = new URL(link.href, window.location.href);
    if (!sameOrigin(url) || !/^https?:$/.test(url.protocol)) return;
    var here = new URL(window.location.href);
    if (url.hash && url.pathname === here.pathname && url.search === here.search) return;
    event.preventDefault();
    visit(url.href, { fallback: function () { window.location.assign(url.href); } });
  });

  document.addEventListener("submit", function (event) {
    if (event.defaultPrevented) return;
    var form = event.target;
    var submitter = event.submitter || null;
    if (form.hasAttribute("data-native")) return;
    var method = ((submitter && submitter.getAttribute("formmethod")) ||
      form.getAttribute("method") || "get").toLowerCase();
    if (method === "dialog") return;
    var target = (submitter && submitter.getAttribute("formtarget")) || form.getAttribute("target");
    if (target && target !== "_self") return;
    var action = new URL((submitter && submitter.getAttribute("formaction")) ||
      form.getAttribute("action") || window.location.href, window.location.href);
    if (!sameOrigin(action)) return;
    event.preventDefault();
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value || "");
    var options = {
      method: method === "post" ? "POST" : "GET",
      fallback: function () {
        form.setAttribute("data-native", "");
        HTMLFormElement.prototype.submit.call(form);
      }
    };
    if (options.method === "GET") {
      action.search = new URLSearchParams(data).toString();
    } else if ((form.getAttribute("enctype") || "").toLowerCase() === "multipart/form-data") {
      options.body = data;
    } else {
      options.body = new URLSearchParams(data);
    }
    visit(action.href, options);
  });

  window.addEventListener("popstate", function (event) {
    if (!event.state || !event.state.kizuna) return;
    visit(window.location.href, {
      history: false,
      fallback: function () { window.location.reload(); }
    });
  });

  // The Shopify admin's navigation (<s-app-nav> links) asks the app to go there.
  document.addEventListener("shopify:navigate", function (event) {
    var source = event.target && event.target.getAttribute ? event.target : null;
    var href = (source && source.getAttribute("href")) || (event.detail && event.detail.href);
    if (!href) return;
    event.preventDefault();
    visit(href, { fallback: function () { window.location.assign(href); } });
  });

  // The document load's short-lived id_token has no business in the history.
  var first = new URL(window.location.href);
  first.searchParams.delete("id_token");
  history.replaceState({ kizuna: true }, "", first.href);

  window.kizunaNavigation = { visit: visit };
})();
