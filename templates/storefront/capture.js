/* Kizuna storefront script for WooCommerce. At checkout: when a shopper types an email, send it
   with the cart (read from the store's own Store API) so an abandoned cart can be followed up, and
   whether the marketing opt-in box is ticked. The box is Kizuna's own, inserted after the billing
   email field, unless the script URL names the store's own checkbox with `consent=<selector>`.
   With `birthday=1` a birthday field follows the box; the birthday is sent with a ticked box and
   kept by Kizuna once the shopper confirms the email.
   On a product page: send the product view (and adds to cart) for browse abandonment and
   recommendations, when the WP Consent API allows statistics (a store without a consent plugin
   has no such API: its own privacy policy covers first-party analytics); on a sold-out product,
   offer "Email me when it is back in stock".
   Add to every page of the store (the theme's footer):
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
  var eventsEndpoint = {{ (events_endpoint ~ "?shop=" ~ shop_id ~ "&key=" ~ key) | tojson }};
  var stockEndpoint = {{ (stock_endpoint ~ "?shop=" ~ shop_id ~ "&key=" ~ key) | tojson }};
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

  function allowed(category) {
    // The WP Consent API (consent plugins implement it); without it nothing is withheld.
    if (typeof window.wp_has_consent !== "function") { return true; }
    try { return !!window.wp_has_consent(category); } catch (e) { return false; }
  }

  function productId() {
    var button = document.querySelector("form.cart [name=add-to-cart]");
    var value = button && (button.value || button.getAttribute("value"));
    if (!value) {
      var body = document.body.className.match(/(?:^|\s)postid-(\d+)(?:\s|$)/);
      value = body && body[1];
    }
    return value && /^\d{1,20}$/.test(value) ? value : null;
  }

  function eventId() {
    return (Date.now().toString(36) + Math.random().toString(36).slice(2)).slice(0, 40);
  }

  function sendEvent(type, product) {
    if (!product || !allowed("statistics")) { return; }
    var body = JSON.stringify({
      visitor: token,
      consent: { analytics: true, marketing: allowed("marketing") },
      events: [{ id: eventId(), type: type, product: product, at: new Date().toISOString() }]
    });
    try {
      window.fetch(eventsEndpoint, {
        method: "POST", mode: "cors", keepalive: true,
        headers: { "Content-Type": "application/json" }, body: body
      }).catch(function () { /* never break the store */ });
    } catch (e) { /* never break the store */ }
  }

  function insertStockForm(product) {
    var soldOut = document.querySelector(".summary .stock.out-of-stock, .stock.out-of-stock");
    if (!soldOut || document.getElementById("kizuna-back-in-stock")) { return; }
    var form = document.createElement("form");
    form.id = "kizuna-back-in-stock";
    form.className = "kizuna-back-in-stock";
    var input = document.createElement("input");
    input.type = "email";
    input.required = true;
    input.maxLength = 254;
    input.placeholder = japanese ? "メールアドレス" : "Email address";
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "button";
    button.textContent = japanese ? "再入荷をメールで知らせる" : "Email me when it is back";
    var note = document.createElement("p");
    note.className = "kizuna-back-in-stock-note";
    form.appendChild(input);
    form.appendChild(button);
    form.appendChild(note);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var email = String(input.value || "").trim();
      if (email.length > 254 || !/^[^@\s]+@[^@\s]+\.[^@\s]{2,}$/.test(email)) { return; }
      window.fetch(stockEndpoint, {
        method: "POST", mode: "cors",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          email: email, product: product, locale: document.documentElement.lang || null
        })
      }).then(function (response) {
        note.textContent = response.ok
          ? (japanese ? "再入荷したらメールでお知らせします。" : "We will email you when it is back.")
          : (japanese ? "送信できませんでした。" : "Sorry, that did not work.");
      }).catch(function () { /* never break the store */ });
    });
    soldOut.parentNode.insertBefore(form, soldOut.nextSibling);
  }

  function startProductPage() {
    var product = productId();
    if (!product) { return; }
    sendEvent("product_viewed", product);
    insertStockForm(product);
    var form = document.querySelector("form.cart");
    if (form) {
      form.addEventListener("submit", function () { sendEvent("product_added_to_cart", product); });
    }
  }

  function insertFields() {
    insertOwnBox();
    insertBirthday();
  }

  function start() {
    startProductPage();
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
