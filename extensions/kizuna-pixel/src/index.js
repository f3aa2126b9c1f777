/* Kizuna web pixel: sends product views and adds to cart to Kizuna (POST <endpoint>?shop_domain=…),
   with the signed-in customer's id when there is one and the visitor's consent as Shopify's
   customer privacy API reports it. Shopify loads the pixel only when analytics is allowed
   (shopify.extension.toml); marketing consent travels with each event and is followed live. */
import { register } from "@shopify/web-pixels-extension";

const VISIBLE_TYPES = { product_viewed: true, product_added_to_cart: true };

export function payload(event, init, consent) {
  const customer = init && init.data && init.data.customer;
  const variant =
    event.name === "product_viewed"
      ? event.data && event.data.productVariant
      : event.data && event.data.cartLine && event.data.cartLine.merchandise;
  const product = variant && variant.product && variant.product.id;
  if (!product || !VISIBLE_TYPES[event.name]) {
    return null;
  }
  return {
    visitor: event.clientId,
    customer: customer && customer.id ? String(customer.id) : null,
    consent: { analytics: !!consent.analytics, marketing: !!consent.marketing },
    events: [
      {
        id: event.id,
        type: event.name,
        product: String(product),
        variant: variant.id ? String(variant.id) : null,
        at: event.timestamp,
      },
    ],
  };
}

register(({ analytics, browser, init, settings, customerPrivacy }) => {
  const privacy = (init && init.customerPrivacy) || {};
  const consent = {
    analytics: privacy.analyticsProcessingAllowed !== false,
    marketing: privacy.marketingAllowed === true,
  };
  if (customerPrivacy && customerPrivacy.subscribe) {
    customerPrivacy.subscribe("visitorConsentCollected", (event) => {
      const given = (event && event.customerPrivacy) || {};
      consent.analytics = given.analyticsProcessingAllowed === true;
      consent.marketing = given.marketingAllowed === true;
    });
  }
  const shop = init && init.data && init.data.shop && init.data.shop.myshopifyDomain;
  if (!settings.endpoint || !shop) {
    return;
  }
  const url = `${settings.endpoint}?shop_domain=${encodeURIComponent(shop)}`;
  const send = (event) => {
    if (!consent.analytics) {
      return;
    }
    const body = payload(event, init, consent);
    if (!body) {
      return;
    }
    const text = JSON.stringify(body);
    if (browser && browser.sendBeacon) {
      browser.sendBeacon(url, text);
    } else {
      fetch(url, { method: "POST", body: text, keepalive: true });
    }
  };
  analytics.subscribe("product_viewed", send);
  analytics.subscribe("product_added_to_cart", send);
});
