"""GraphQL Admin objects of the simulated store, as dicts keyed by the schema's field names.

Layer: connectors/sandbox. Nested connections and links are callables evaluated only when
selected; money is a decimal string with its currency, times UTC strings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.sandbox.shopify.pagination import Listing, connection
from connectors.sandbox.shopify.records import (
    Address,
    Checkout,
    Collection,
    Customer,
    LineItem,
    Order,
    Product,
    Variant,
    WebhookSubscription,
    gid,
    iso_utc,
    money,
)
from connectors.sandbox.shopify.webhooks import topic_enum

if TYPE_CHECKING:
    from connectors.sandbox.shopify.store import SandboxStore

Node = dict[str, Any]

FINANCIAL_STATUS = {
    "paid": "PAID",
    "pending": "PENDING",
    "refunded": "REFUNDED",
    "partially_refunded": "PARTIALLY_REFUNDED",
    "authorized": "AUTHORIZED",
    "voided": "VOIDED",
}


LINE_LISTING: Listing[LineItem] = Listing(
    sort_keys={"ID": lambda line: line.id},
    time_fields={},
    other_fields={},
    record_id=lambda line: line.id,
)
VARIANT_LISTING: Listing[Variant] = Listing(
    sort_keys={"ID": lambda variant: variant.id, "POSITION": lambda variant: variant.position},
    time_fields={},
    other_fields={"sku": lambda variant: variant.sku},
    record_id=lambda variant: variant.id,
    default_sort="POSITION",
)
COLLECTION_LISTING: Listing[Collection] = Listing(
    sort_keys={
        "ID": lambda collection: collection.id,
        "TITLE": lambda collection: collection.title.lower(),
        "UPDATED_AT": lambda collection: collection.updated_at,
    },
    time_fields={"updated_at": lambda collection: collection.updated_at},
    other_fields={
        "handle": lambda collection: collection.handle,
        "title": lambda collection: collection.title,
        "collection_type": lambda _collection: "custom",
    },
    record_id=lambda collection: collection.id,
)
CUSTOMER_LISTING: Listing[Customer] = Listing(
    sort_keys={
        "ID": lambda customer: customer.id,
        "CREATED_AT": lambda customer: customer.created_at,
        "UPDATED_AT": lambda customer: customer.updated_at,
        "NAME": lambda customer: f"{customer.last_name} {customer.first_name}".lower(),
    },
    time_fields={
        "created_at": lambda customer: customer.created_at,
        "updated_at": lambda customer: customer.updated_at,
    },
    other_fields={
        "email": lambda customer: customer.email,
        "first_name": lambda customer: customer.first_name,
        "last_name": lambda customer: customer.last_name,
        "phone": lambda customer: customer.phone,
        "locale": lambda customer: customer.locale,
        "state": lambda customer: customer.state,
        "country": lambda customer: customer.address.country_code if customer.address else None,
    },
    record_id=lambda customer: customer.id,
)
ORDER_LISTING: Listing[Order] = Listing(
    sort_keys={
        "ID": lambda order: order.id,
        "CREATED_AT": lambda order: order.created_at,
        "UPDATED_AT": lambda order: order.updated_at,
        "PROCESSED_AT": lambda order: order.processed_at,
        "ORDER_NUMBER": lambda order: order.number,
        "TOTAL_PRICE": lambda order: order.total,
    },
    time_fields={
        "created_at": lambda order: order.created_at,
        "updated_at": lambda order: order.updated_at,
        "processed_at": lambda order: order.processed_at,
    },
    other_fields={
        "email": lambda order: order.email,
        "name": lambda order: order.name,
        "financial_status": lambda order: order.financial_status,
        "fulfillment_status": lambda order: order.fulfillment_status or "unfulfilled",
        "customer_id": lambda order: str(order.customer_id) if order.customer_id else None,
        "checkout_token": lambda order: order.checkout_token,
    },
    record_id=lambda order: order.id,
)
PRODUCT_LISTING: Listing[Product] = Listing(
    sort_keys={
        "ID": lambda product: product.id,
        "CREATED_AT": lambda product: product.created_at,
        "UPDATED_AT": lambda product: product.updated_at,
        "TITLE": lambda product: product.title.lower(),
        "PRODUCT_TYPE": lambda product: product.product_type.lower(),
        "VENDOR": lambda product: product.vendor.lower(),
    },
    time_fields={
        "created_at": lambda product: product.created_at,
        "updated_at": lambda product: product.updated_at,
    },
    other_fields={
        "status": lambda product: product.status,
        "product_type": lambda product: product.product_type,
        "vendor": lambda product: product.vendor,
        "handle": lambda product: product.handle,
        "title": lambda product: product.title,
    },
    record_id=lambda product: product.id,
)
CHECKOUT_LISTING: Listing[Checkout] = Listing(
    sort_keys={
        "ID": lambda checkout: checkout.id,
        "CHECKOUT_ID": lambda checkout: checkout.id,
        "CREATED_AT": lambda checkout: checkout.created_at,
    },
    time_fields={
        "created_at": lambda checkout: checkout.created_at,
        "updated_at": lambda checkout: checkout.updated_at,
    },
    other_fields={
        "email": lambda checkout: checkout.email,
        "status": lambda checkout: "closed" if checkout.completed_at else "open",
        "recovery_state": lambda checkout: (
            "recovered" if checkout.completed_at else "not_recovered"
        ),
    },
    record_id=lambda checkout: checkout.id,
)


class GraphNodes:
    """Turns one store's records into schema-shaped dicts."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.currency = store.info.currency

    # ---- scalars and small objects ---------------------------------------------------------

    @staticmethod
    def time(moment: datetime | None) -> str | None:
        return iso_utc(moment) if moment else None

    def money_v2(self, amount: Decimal) -> Node:
        return {"amount": money(amount, self.currency), "currencyCode": self.currency}

    def money_bag(self, amount: Decimal) -> Node:
        return {"shopMoney": self.money_v2(amount), "presentmentMoney": self.money_v2(amount)}

    @staticmethod
    def image(url: str | None, image_id: int, alt: str) -> Node | None:
        if not url:
            return None
        return {
            "__typename": "Image",
            "id": gid("ImageSource", image_id),
            "url": url,
            "src": url,
            "originalSrc": url,
            "transformedSrc": url,
            "altText": alt,
            "width": 1200,
            "height": 1200,
            "thumbhash": None,
        }

    @staticmethod
    def address(address: Address | None) -> Node | None:
        if address is None:
            return None
        lines = [address.address1, address.city, address.province or "", address.zip]
        return {
            "__typename": "MailingAddress",
            "id": f"gid://shopify/MailingAddress/{address.id}?model_name=CustomerAddress",
            "firstName": address.first_name,
            "lastName": address.last_name,
            "name": address.name,
            "company": address.company,
            "address1": address.address1,
            "address2": address.address2,
            "city": address.city,
            "province": address.province,
            "provinceCode": address.province_code,
            "country": address.country,
            "countryCodeV2": address.country_code,
            "countryCode": address.country_code,
            "zip": address.zip,
            "phone": address.phone,
            "latitude": None,
            "longitude": None,
            "coordinatesValidated": False,
            "formatted": lambda _info, **_args: (
                [part for part in lines if part] + [address.country]
            ),
            "formattedArea": ", ".join(part for part in (address.city, address.province) if part),
            "timeZone": None,
            "validationResultSummary": None,
        }

    # ---- customers -------------------------------------------------------------------------

    def customer(self, customer: Customer) -> Node:
        store = self.store
        orders = store.orders_of(customer.id)
        spent = sum((order.total for order in orders), Decimal(0))
        unsubscribe = f"https://{store.info.domain}/unsubscribe?c={customer.id}"
        email = (
            {
                "__typename": "CustomerEmailAddress",
                "emailAddress": customer.email,
                "marketingState": customer.marketing_state,
                "marketingOptInLevel": customer.marketing_opt_in_level,
                "marketingUpdatedAt": self.time(customer.marketing_updated_at),
                "marketingUnsubscribeUrl": unsubscribe,
                "openTrackingLevel": "UNKNOWN",
                "openTrackingUrl": f"https://{store.info.domain}/open-tracking?c={customer.id}",
                "sourceLocation": None,
                "validFormat": True,
            }
            if customer.email
            else None
        )
        phone = (
            {
                "__typename": "CustomerPhoneNumber",
                "phoneNumber": customer.phone,
                "marketingState": "NOT_SUBSCRIBED",
                "marketingOptInLevel": None,
                "marketingUpdatedAt": None,
                "marketingCollectedFrom": None,
                "sourceLocation": None,
            }
            if customer.phone
            else None
        )
        address = self.address(customer.address)
        last_order = orders[-1] if orders else None
        return {
            "__typename": "Customer",
            "id": customer.gid,
            "legacyResourceId": str(customer.id),
            "firstName": customer.first_name,
            "lastName": customer.last_name,
            "displayName": f"{customer.first_name} {customer.last_name}".strip()
            or customer.email
            or "",
            "locale": customer.locale,
            "tags": list(customer.tags),
            "note": customer.note,
            "state": customer.state,
            "verifiedEmail": customer.verified_email,
            "validEmailAddress": bool(customer.email),
            "taxExempt": False,
            "taxExemptions": [],
            "createdAt": self.time(customer.created_at),
            "updatedAt": self.time(customer.updated_at),
            "email": customer.email,
            "phone": customer.phone,
            "defaultEmailAddress": email,
            "defaultPhoneNumber": phone,
            "defaultAddress": address,
            "addresses": lambda _info, **_args: [address] if address else [],
            "emailMarketingConsent": {
                "marketingState": customer.marketing_state,
                "marketingOptInLevel": customer.marketing_opt_in_level,
                "consentUpdatedAt": self.time(customer.marketing_updated_at),
                "sourceLocation": None,
            }
            if customer.email
            else None,
            "numberOfOrders": str(len(orders)),
            "amountSpent": self.money_v2(spent),
            "lastOrder": (lambda _info: self.order(last_order)) if last_order else None,
            "orders": lambda _info, **args: connection(
                store.orders_of(customer.id), ORDER_LISTING, self.order, **args
            ),
            "unsubscribeUrl": unsubscribe,
            "canDelete": not orders,
            "dataSaleOptOut": False,
            "hasTimelineComment": False,
            "lifetimeDuration": _duration(customer.created_at, store.now()),
            "productSubscriberStatus": "NEVER_SUBSCRIBED",
            "metafield": lambda _info, **args: self.customer_metafield(customer, **args),
        }

    def customer_metafield(
        self, customer: Customer, namespace: str | None = None, key: str = "", **_: Any
    ) -> Node | None:
        """The customer's metafields: Shopify's standard birth date (`facts.birth_date`)."""
        if (namespace, key) != ("facts", "birth_date") or customer.birth_date is None:
            return None
        value = customer.birth_date.isoformat()
        return {
            "__typename": "Metafield",
            "id": f"gid://shopify/Metafield/{customer.id}0001",
            "namespace": "facts",
            "key": "birth_date",
            "type": "date",
            "value": value,
            "jsonValue": value,
            "ownerType": "CUSTOMER",
            "createdAt": self.time(customer.created_at),
            "updatedAt": self.time(customer.updated_at),
        }

    # ---- catalogue -------------------------------------------------------------------------

    def variant(self, variant: Variant, product: Product | None = None) -> Node:
        owner = product or self.store.product_by_id(variant.product_id)
        title = owner.title if owner else ""
        return {
            "__typename": "ProductVariant",
            "id": variant.gid,
            "legacyResourceId": str(variant.id),
            "title": variant.title,
            "displayName": f"{title} - {variant.title}",
            "sku": variant.sku,
            "barcode": None,
            "price": money(variant.price, self.currency),
            "compareAtPrice": money(variant.compare_at_price, self.currency)
            if variant.compare_at_price
            else None,
            "position": variant.position,
            "inventoryQuantity": variant.inventory_quantity,
            "availableForSale": variant.inventory_quantity > 0,
            "taxable": True,
            "createdAt": self.time(variant.created_at),
            "updatedAt": self.time(variant.updated_at),
            "image": None,
            "selectedOptions": [{"name": "Title", "value": variant.title, "optionValue": None}],
            "product": (lambda _info: self.product(owner)) if owner else None,
        }

    def product(self, product: Product) -> Node:
        image = self.image(product.image_url, product.image_id, product.title)
        media: Node = {
            "__typename": "MediaImage",
            "id": gid("MediaImage", product.image_id),
            "alt": product.title,
            "mediaContentType": "IMAGE",
            "status": "READY",
            "mediaErrors": [],
            "mediaWarnings": [],
            "preview": {"image": image, "status": "READY"},
            "image": image,
            "createdAt": self.time(product.created_at),
            "updatedAt": self.time(product.updated_at),
            "fileErrors": [],
            "fileStatus": "READY",
            "mimeType": "image/jpeg",
        }
        prices = [variant.price for variant in product.variants] or [Decimal(0)]
        return {
            "__typename": "Product",
            "id": product.gid,
            "legacyResourceId": str(product.id),
            "title": product.title,
            "handle": product.handle,
            "productType": product.product_type,
            "vendor": product.vendor,
            "status": product.status,
            "tags": list(product.tags),
            "description": product.description,
            "descriptionHtml": f"<p>{product.description}</p>",
            "createdAt": self.time(product.created_at),
            "updatedAt": self.time(product.updated_at),
            "publishedAt": self.time(product.created_at) if product.status == "ACTIVE" else None,
            "onlineStoreUrl": f"https://{self.store.info.domain}/products/{product.handle}",
            "featuredMedia": media,
            "featuredImage": image,
            "totalInventory": sum(variant.inventory_quantity for variant in product.variants),
            "totalVariants": len(product.variants),
            "hasOnlyDefaultVariant": len(product.variants) == 1,
            "isGiftCard": False,
            "tracksInventory": True,
            "priceRangeV2": {
                "minVariantPrice": self.money_v2(min(prices)),
                "maxVariantPrice": self.money_v2(max(prices)),
            },
            "variants": lambda _info, **args: connection(
                product.variants, VARIANT_LISTING, lambda v: self.variant(v, product), **args
            ),
            "collections": lambda _info, **args: connection(
                product.collections, COLLECTION_LISTING, self.collection, **args
            ),
        }

    def collection(self, collection: Collection) -> Node:
        return {
            "__typename": "Collection",
            "id": collection.gid,
            "legacyResourceId": str(collection.id),
            "title": collection.title,
            "handle": collection.handle,
            "description": "",
            "descriptionHtml": "",
            "sortOrder": "MANUAL",
            "updatedAt": self.time(collection.updated_at),
        }

    def _line_links(self, line: LineItem) -> Node:
        store = self.store
        product = store.product_by_id(line.product_id)
        found = store.variant_by_id(line.variant_id)
        image = self.image(line.image_url, line.product_id, line.title)
        return {
            "product": (lambda _info: self.product(product)) if product else None,
            "variant": (lambda _info: self.variant(found[0], found[1])) if found else None,
            "image": image,
        }

    def line_item(self, line: LineItem) -> Node:
        zero = Decimal(0)
        variant_title = None if line.variant_title == "Default Title" else line.variant_title
        return {
            "__typename": "LineItem",
            "id": gid("LineItem", line.id),
            "title": line.title,
            "name": f"{line.title} - {variant_title}" if variant_title else line.title,
            "variantTitle": variant_title,
            "vendor": line.vendor,
            "sku": line.sku,
            "quantity": line.quantity,
            "currentQuantity": line.quantity,
            "fulfillableQuantity": 0,
            "unfulfilledQuantity": 0,
            "refundableQuantity": line.quantity,
            "nonFulfillableQuantity": 0,
            "requiresShipping": True,
            "taxable": True,
            "isGiftCard": False,
            "customAttributes": [],
            "discountAllocations": [],
            "taxLines": [],
            "duties": [],
            "originalUnitPrice": money(line.price, self.currency),
            "originalUnitPriceSet": self.money_bag(line.price),
            "discountedUnitPriceSet": self.money_bag(line.price),
            "originalTotal": money(line.line_total, self.currency),
            "originalTotalSet": self.money_bag(line.line_total),
            "discountedTotal": money(line.line_total, self.currency),
            "discountedTotalSet": self.money_bag(line.line_total),
            "totalDiscountSet": self.money_bag(zero),
            **self._line_links(line),
        }

    # ---- orders ----------------------------------------------------------------------------

    def order(self, order: Order) -> Node:
        store = self.store
        customer = store.customer_by_id(order.customer_id) if order.customer_id else None
        tax = order.total_tax(self.currency)
        status = FINANCIAL_STATUS.get(order.financial_status, "PAID")
        fulfilled = order.fulfillment_status == "fulfilled"
        outstanding = order.total if order.financial_status == "pending" else Decimal(0)
        return {
            "__typename": "Order",
            "id": order.gid,
            "legacyResourceId": str(order.id),
            "name": order.name,
            "number": order.number - 1000,
            "email": order.email,
            "phone": None,
            "createdAt": self.time(order.created_at),
            "updatedAt": self.time(order.updated_at),
            "processedAt": self.time(order.processed_at),
            "cancelledAt": self.time(order.cancelled_at),
            "cancelReason": order.cancel_reason.upper() if order.cancel_reason else None,
            "closedAt": None,
            "closed": False,
            "confirmed": True,
            "test": False,
            "note": None,
            "tags": [],
            "customerLocale": order.locale,
            "customerAcceptsMarketing": order.buyer_accepts_marketing,
            "currencyCode": self.currency,
            "presentmentCurrencyCode": self.currency,
            "displayFinancialStatus": status,
            "displayFulfillmentStatus": "FULFILLED" if fulfilled else "UNFULFILLED",
            "fullyPaid": status in ("PAID", "PARTIALLY_REFUNDED", "REFUNDED"),
            "unpaid": status == "PENDING",
            "checkoutToken": order.checkout_token,
            "cartToken": order.cart_token,
            "sourceName": order.source_name,
            "discountCode": order.discount_code,
            "discountCodes": [order.discount_code] if order.discount_code else [],
            "taxesIncluded": order.taxes_included,
            "subtotalLineItemsQuantity": sum(line.quantity for line in order.lines),
            "totalWeight": str(order.total_weight),
            "statusPageUrl": (
                f"https://{store.info.domain}/{store.info.id}/orders/{order.token}/authenticate"
            ),
            "paymentGatewayNames": ["shopify_payments"],
            "totalPrice": money(order.total, self.currency),
            "totalPriceSet": self.money_bag(order.total),
            "currentTotalPriceSet": self.money_bag(order.total),
            "originalTotalPriceSet": self.money_bag(order.total),
            "subtotalPriceSet": self.money_bag(order.subtotal),
            "currentSubtotalPriceSet": self.money_bag(order.subtotal),
            "totalTaxSet": self.money_bag(tax),
            "currentTotalTaxSet": self.money_bag(tax),
            "totalShippingPriceSet": self.money_bag(order.shipping),
            "totalDiscountsSet": self.money_bag(order.discount),
            "currentTotalDiscountsSet": self.money_bag(order.discount),
            "totalOutstandingSet": self.money_bag(outstanding),
            "totalReceivedSet": self.money_bag(order.total - outstanding),
            "totalRefundedSet": self.money_bag(
                order.total if order.financial_status == "refunded" else Decimal(0)
            ),
            "customer": (lambda _info: self.customer(customer)) if customer else None,
            "billingAddress": self.address(order.billing_address),
            "shippingAddress": self.address(order.shipping_address),
            "lineItems": lambda _info, **args: connection(
                order.lines, LINE_LISTING, self.line_item, **args
            ),
        }

    # ---- abandoned checkouts ---------------------------------------------------------------

    def checkout_line(self, line: LineItem) -> Node:
        variant_title = None if line.variant_title == "Default Title" else line.variant_title
        return {
            "__typename": "AbandonedCheckoutLineItem",
            "id": gid("AbandonedCheckoutLineItem", line.id),
            "title": line.title,
            "variantTitle": variant_title,
            "sku": line.sku,
            "quantity": line.quantity,
            "customAttributes": [],
            "components": None,
            "originalUnitPriceSet": self.money_bag(line.price),
            "originalTotalPriceSet": self.money_bag(line.line_total),
            "discountedUnitPriceSet": self.money_bag(line.price),
            "discountedTotalPriceSet": self.money_bag(line.line_total),
            "discountedUnitPriceWithCodeDiscount": self.money_bag(line.price),
            "discountedTotalPriceWithCodeDiscount": self.money_bag(line.line_total),
            **self._line_links(line),
        }

    def checkout(self, checkout: Checkout) -> Node:
        store = self.store
        customer = store.customer_by_id(checkout.customer_id) if checkout.customer_id else None
        subtotal = checkout.subtotal
        return {
            "__typename": "AbandonedCheckout",
            "id": checkout.gid,
            "name": f"#{checkout.id}",
            "note": "",
            "abandonedCheckoutUrl": store.shapes.recovery_url(checkout),
            "createdAt": self.time(checkout.created_at),
            "updatedAt": self.time(checkout.updated_at),
            "completedAt": self.time(checkout.completed_at),
            "taxesIncluded": self.currency == "JPY",
            "taxLines": [],
            "discountCodes": [],
            "customAttributes": [],
            "lineItemsQuantity": sum(line.quantity for line in checkout.lines),
            "subtotalPriceSet": self.money_bag(subtotal),
            "totalLineItemsPriceSet": self.money_bag(subtotal),
            "totalPriceSet": self.money_bag(subtotal),
            "totalDiscountSet": self.money_bag(Decimal(0)),
            "totalTaxSet": self.money_bag(Decimal(0)),
            "totalDutiesSet": None,
            "billingAddress": self.address(checkout.billing_address),
            "shippingAddress": self.address(checkout.billing_address),
            "customer": (lambda _info: self.customer(customer)) if customer else None,
            "lineItems": lambda _info, **args: connection(
                checkout.lines, LINE_LISTING, self.checkout_line, **args
            ),
        }

    # ---- shop and webhooks -----------------------------------------------------------------

    def shop(self) -> Node:
        info = self.store.info
        offset = self.store.now().astimezone(self.store.zone).strftime("%z")
        minutes = (1 if offset[0] == "+" else -1) * (int(offset[1:3]) * 60 + int(offset[3:]))
        domain = {
            "id": gid("Domain", info.id),
            "host": info.domain,
            "url": f"https://{info.domain}",
            "sslEnabled": True,
            "localization": None,
            "marketWebPresence": None,
        }
        return {
            "__typename": "Shop",
            "id": info.gid,
            "name": info.name,
            "email": info.email,
            "contactEmail": info.email,
            "myshopifyDomain": info.domain,
            "url": f"https://{info.domain}",
            "primaryDomain": domain,
            "domains": [domain],
            "currencyCode": info.currency,
            "enabledPresentmentCurrencies": [info.currency],
            "ianaTimezone": info.timezone,
            "timezoneAbbreviation": self.store.now().astimezone(self.store.zone).tzname() or "",
            "timezoneOffset": offset,
            "timezoneOffsetMinutes": minutes,
            "weightUnit": "KILOGRAMS",
            "unitSystem": "METRIC_SYSTEM",
            "taxesIncluded": info.currency == "JPY",
            "taxShipping": False,
            "setupRequired": False,
            "checkoutApiSupported": True,
            "shopOwnerName": info.owner_name,
            "description": f"{info.name}: Japanese tea, ceramics and gifts.",
            "createdAt": self.time(info.created_at),
            "updatedAt": self.time(info.created_at),
            "plan": {
                "displayName": info.plan,
                "partnerDevelopment": False,
                "shopifyPlus": info.plan.lower() == "plus",
                "publicDisplayName": info.plan,
            },
            "orderNumberFormatPrefix": "#",
            "orderNumberFormatSuffix": "",
            "marketingSmsConsentEnabledAtCheckout": False,
            "transactionalSmsDisabled": False,
        }

    def webhook_subscription(self, subscription: WebhookSubscription) -> Node:
        uri = subscription.uri
        return {
            "__typename": "WebhookSubscription",
            "id": subscription.gid,
            "legacyResourceId": str(subscription.id),
            "topic": topic_enum(subscription.topic),
            "uri": uri,
            "callbackUrl": uri,
            "endpoint": {"__typename": "WebhookHttpEndpoint", "callbackUrl": uri},
            "format": "JSON",
            "filter": subscription.filter,
            "includeFields": list(subscription.include_fields),
            "metafieldNamespaces": list(subscription.metafield_namespaces),
            "metafields": [],
            "name": subscription.name,
            "apiVersion": {
                "handle": "2026-07",
                "displayName": "2026-07",
                "supported": True,
            },
            "createdAt": self.time(subscription.created_at),
            "updatedAt": self.time(subscription.updated_at),
        }


def _duration(since: datetime, now: datetime) -> str:
    """Shopify's humanised customer lifetime, e.g. "about 2 years"."""
    days = max(0, (now - since) // timedelta(days=1))
    if days >= 365:
        years = round(days / 365)
        return f"about {years} year{'s' if years != 1 else ''}"
    if days >= 30:
        months = round(days / 30)
        return f"{months} month{'s' if months != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"
