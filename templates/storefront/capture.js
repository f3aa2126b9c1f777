/* Kizuna cart capture for WooCommerce: when a shopper types an email at checkout, send it with
   the cart (read from the store's own Store API) so an abandoned cart can be followed up.
   Add to the store's checkout page:
   <script async src="{{ script_url }}"></script> */
(function () {
  "use strict";
  var endpoint = {{ (endpoint ~ "?shop=" ~ shop_id ~ "&key=" ~ key) | tojson }};
  var storageKey = "kizuna_cart_token";
  var token = null;
  try { token = window.localStorage.getItem(storageKey); } catch (e) { token = null; }
  if (!token || !/^[A-Za-z0-9_-]{8,64}$/.test(token)) {
    token = (Math.random().toString(36).slice(2) + Date.now().toString(36)).slice(0, 32);
    try { window.localStorage.setItem(storageKey, token); } catch (e) { /* private mode */ }
  }
  var lastSent = "";

  function money(prices) {
    var unit = Number(prices.currency_minor_unit || 0);
    return (Number(prices.price) / Math.pow(10, unit)).toFixed(unit);
  }

  function send(email) {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]{2,}$/.test(email)) { return; }
    window.fetch("/wp-json/wc/store/v1/cart", { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (cart) {
        var items = (cart.items || []).map(function (item) {
          return {
            title: item.name,
            quantity: item.quantity,
            price: money(item.prices || {}),
            product_id: item.id,
            variant_id: item.variation_id || null,
            image_url: (item.images && item.images[0] && item.images[0].src) || null
          };
        });
        if (!items.length) { return; }
        var body = JSON.stringify({
          email: email,
          cart_token: token,
          items: items,
          currency: cart.totals && cart.totals.currency_code,
          cart_url: window.location.origin + "/cart/"
        });
        if (body === lastSent) { return; }
        lastSent = body;
        window.fetch(endpoint, {
          method: "POST",
          mode: "cors",
          keepalive: true,
          headers: { "Content-Type": "application/json" },
          body: body
        });
      })
      .catch(function () { /* never break the checkout */ });
  }

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field && (field.id === "billing_email" || field.type === "email")) {
      send(String(field.value || "").trim());
    }
  }, true);
})();
