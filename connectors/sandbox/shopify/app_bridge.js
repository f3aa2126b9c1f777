// Stand-in for Shopify's App Bridge (https://cdn.shopify.com/shopifycloud/app-bridge.js), for the
// simulated Shopify admin (connectors/sandbox/shopify/admin.py). It does for the embedded app what
// the real script does: a global `shopify.idToken()`; a fresh session token (HS256, minted by the
// simulated admin with the app's secret) as `Authorization: Bearer` on every fetch to the app's
// own origin, with the admin's `Accept-Language`, retried once on a 401 that asks for it; the
// bounce page's reload with a fresh `id_token`; and `<s-app-nav>` links shown in the admin page,
// whose clicks reach the app as a `shopify:navigate` event. Tokens come from the parent page by
// postMessage, as the real App Bridge gets them from admin.shopify.com.
(function () {
  "use strict";
  if (window.shopify && window.shopify.sandbox) return;

  var script = document.currentScript;
  var meta = document.querySelector('meta[name="shopify-api-key"]');
  var apiKey = (meta && meta.content) || (script && script.getAttribute("data-api-key")) || "";
  var query = new URLSearchParams(window.location.search);
  var admin = window.parent !== window ? window.parent : null;
  var adminOrigin = "*";
  try { if (document.referrer) adminOrigin = new URL(document.referrer).origin; } catch (e) { /* keep * */ }
  var locale = query.get("locale") || "";
  var pending = {};
  var sequence = 0;

  function post(message) {
    if (admin) admin.postMessage(Object.assign({ kizunaSandbox: true }, message), adminOrigin);
  }

  function idToken() {
    if (!admin) return Promise.reject(new Error("not inside the Shopify admin"));
    sequence += 1;
    var id = String(sequence);
    return new Promise(function (resolve, reject) {
      pending[id] = { resolve: resolve, reject: reject };
      post({ type: "idToken", id: id });
      window.setTimeout(function () {
        if (pending[id]) { delete pending[id]; reject(new Error("no session token")); }
      }, 5000);
    });
  }

  var nativeFetch = window.fetch.bind(window);
  function withToken(request) {
    return idToken().then(function (token) {
      var headers = new Headers(request.headers);
      headers.set("Authorization", "Bearer " + token);
      if (locale && !headers.has("Accept-Language")) headers.set("Accept-Language", locale);
      return nativeFetch(new Request(request, { headers: headers }));
    });
  }
  window.fetch = function (input, init) {
    var request = new Request(input, init);
    if (new URL(request.url).origin !== window.location.origin || !admin) {
      return nativeFetch(request);
    }
    var retry = request.clone();
    return withToken(request).then(function (response) {
      if (response.status === 401 &&
          response.headers.get("X-Shopify-Retry-Invalid-Session-Request") === "1") {
        return withToken(retry);
      }
      return response;
    });
  };

  window.addEventListener("message", function (event) {
    if (event.source !== admin || !event.data || !event.data.kizunaSandbox) return;
    var message = event.data;
    if (message.type === "idToken" && pending[message.id]) {
      var waiter = pending[message.id];
      delete pending[message.id];
      if (message.token) waiter.resolve(message.token);
      else waiter.reject(new Error("no session token"));
    } else if (message.type === "navigate") {
      navigate(message.href);
    }
  });

  // <s-app-nav>: its links, shown by the admin page; a click there becomes `shopify:navigate`.
  function navLinks() {
    var nav = document.querySelector("s-app-nav");
    if (!nav) return [];
    return Array.prototype.map.call(nav.querySelectorAll("s-link[href], a[href]"), function (link) {
      var url = new URL(link.getAttribute("href"), window.location.href);
      return { href: url.pathname + url.search, label: link.textContent.trim(),
        home: link.getAttribute("rel") === "home" };
    });
  }
  function navigate(href) {
    var url = new URL(href, window.location.href);
    if (url.origin !== window.location.origin) return;
    var source = null;
    document.querySelectorAll("s-app-nav s-link[href], s-app-nav a[href]").forEach(function (link) {
      var own = new URL(link.getAttribute("href"), window.location.href);
      if (own.pathname === url.pathname && own.search === url.search) source = link;
    });
    var event = new CustomEvent("shopify:navigate", { bubbles: true, cancelable: true,
      detail: { href: url.pathname + url.search } });
    var handled = !(source || document).dispatchEvent(event);
    if (!handled) post({ type: "reload", href: url.pathname + url.search });
  }

  var published = "";
  function publish() {
    var state = JSON.stringify({ items: navLinks(), path: window.location.pathname + window.location.search,
      title: document.title });
    if (state === published) return;
    published = state;
    post(Object.assign({ type: "state" }, JSON.parse(state)));
  }
  var timer = null;
  function publishSoon() {
    if (timer) return;
    timer = window.setTimeout(function () { timer = null; publish(); }, 30);
  }
  ["pushState", "replaceState"].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(history, arguments);
      publishSoon();
      return result;
    };
  });
  window.addEventListener("popstate", publishSoon);

  // The bounce page: reload the page it names with a fresh id_token, as App Bridge does.
  var reload = query.get("shopify-reload");
  if (reload) {
    idToken().then(function (token) {
      var target = new URL(reload, window.location.href);
      if (target.origin !== window.location.origin) return;
      target.searchParams.set("id_token", token);
      window.location.replace(target.href);
    });
  }

  window.shopify = {
    sandbox: true,
    config: { apiKey: apiKey, shop: query.get("shop") || "", host: query.get("host") || "",
      locale: locale },
    environment: { embedded: !!admin, mobile: false, pos: false },
    idToken: idToken
  };

  function start() {
    publish();
    new MutationObserver(publishSoon).observe(document.documentElement,
      { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
