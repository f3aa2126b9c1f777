/* Kizuna cart capture for WooCommerce: when a shopper types an email at checkout, send it with
   the cart (read from the store's own Store API) so an abandoned cart can be followed up, and
   whether the marketing opt-in box is ticked. The box is Kizuna's own, inserted after the billing
   email field, unless the script URL names the store's own checkbox with `consent=<selector>`.
   With `birthday=1` a birthday field follows the box; the birthday is sent with a ticked box and
   kept by Kizuna once the shopper confirms the email.
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
  var consentSelector = {{ consent_selector | tojson }};
  var ownBoxId = "kizuna_marketing_consent";
  var japanese = /^ja/i.test(document.documentElement.lang || "");
  var label = japanese ? "ニュースやお得な情報をメールで受け取る" : "Email me news and offers";
  var askBirthday = {{ birthday_field | tojson }};
  var birthdayId = "kizuna_birthday";
  var birthdayLabel = japanese ? "誕生日（任意・誕生日クーポンをお送りします）" :
    "Birthday (optional, for a birthday treat)";

  function emailField() {
    return document.getElementById("billing_email") ||
      document.querySelector("input[type=email]");
  }

  function consentBox() {
    var box = null;
    if (consentSelector) {
      try { box = document.querySelector(consentSelector); } catch (e) { box = null; }
    } else {
      box = document.getElementById(ownBoxId);
    }
    return box && box.type === "checkbox" ? box : null;
  }

  function insertOwnBox() {
    if (consentSelector || document.getElementById(ownBoxId)) { return; }
    var field = emailField();
    if (!field || !field.parentNode) { return; }
    var anchor = (field.closest &&
      field.closest("#billing_email_field, .form-row, .wc-block-components-text-input")) ||
      field;
    var row = document.createElement("p");
    row.className = "form-row form-row-wide kizuna-marketing-consent";
    var wrapper = document.createElement("label");
    wrapper.className = "woocommerce-form__label woocommerce-form__label-for-checkbox checkbox";
    wrapper.setAttribute("for", ownBoxId);
    var box = document.createElement("input");
    box.type = "checkbox";
    box.id = ownBoxId;
    box.name = ownBoxId;
    box.value = "1";
    box.className = "woocommerce-form__input woocommerce-form__input-checkbox input-checkbox";
    var text = document.createElement("span");
    text.textContent = label;
    wrapper.appendChild(box);
    wrapper.appendChild(document.createTextNode(" "));
    wrapper.appendChild(text);
    row.appendChild(wrapper);
    anchor.parentNode.insertBefore(row, anchor.nextSibling);
  }

  function birthdayField() {
    var field = document.getElementById(birthdayId);
    return field && field.type === "date" ? field : null;
  }

  function birthdayValue() {
    var field = birthdayField();
    var value = field ? String(field.value || "") : "";
    return /^\d{4}-\d{2}-\d{2}$/.test(value) ? value : "";
  }

  function insertBirthday() {
    if (!askBirthday || birthdayField()) { return; }
    var box = consentBox();
    var anchor = box && ((box.closest && box.closest(".form-row, p, div")) || box);
    if (!anchor || !anchor.parentNode) { return; }
    var row = document.createElement("p");
    row.className = "form-row form-row-wide kizuna-birthday";
    var caption = document.createElement("label");
    caption.setAttribute("for", birthdayId);
    caption.textContent = birthdayLabel;
    var input = document.createElement("input");
    input.type = "date";
    input.id = birthdayId;
    input.name = birthdayId;
    input.className = "input-text";
    input.max = new Date().toISOString().slice(0, 10);
    input.min = "1900-01-01";
    row.appendChild(caption);
    row.appendChild(input);
    anchor.parentNode.insertBefore(row, anchor.nextSibling);
  }

  function money(prices) {
    var unit = Number(prices.currency_minor_unit || 0);
    return (Number(prices.price) / Math.pow(10, unit)).toFixed(unit);
  }

  function send(email) {
    // Length first: the pattern then never sees more than an address can hold.
    if (email.length > 254 || !/^[^@\s]+@[^@\s]+\.[^@\s]{2,}$/.test(email)) { return; }
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
        var payload = {
          email: email,
          cart_token: token,
          items: items,
          currency: cart.totals && cart.totals.currency_code,
          cart_url: window.location.origin + "/cart/"
        };
        var box = consentBox();
        if (box) { payload.marketing_consent = !!box.checked; }
        if (box && box.checked && birthdayValue()) { payload.birthday = birthdayValue(); }
        var body = JSON.stringify(payload);
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
    } else if (field && (field === consentBox() || field === birthdayField())) {
      var email = emailField();
      if (email) { send(String(email.value || "").trim()); }
    }
  }, true);

  function insertFields() {
    insertOwnBox();
    insertBirthday();
  }

  function start() {
    insertFields();
    if ((!consentSelector || askBirthday) && window.MutationObserver) {
      // The block checkout re-renders its fields: put the box back when it is dropped.
      new window.MutationObserver(insertFields)
        .observe(document.body, { childList: true, subtree: true });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
