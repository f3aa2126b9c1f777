"""Webhook bodies in the shapes Shopify sends for API version 2026-07.

Layer: connectors/sandbox. Shapes follow Shopify's own samples (shared/specs/shopify/
webhook_samples): customers carry no consent or tags, checkouts a `token` and no `id`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.sandbox.shopify.records import (
    Address,
    Checkout,
    Customer,
    LineItem,
    Order,
    ShopInfo,
    gid,
    iso_local,
    money,
)

MONEY_FORMATS = {
    "JPY": ("¥{{amount_no_decimals}}", "¥{{amount_no_decimals}} JPY"),
    "USD": ("${{amount}}", "${{amount}} USD"),
    "EUR": ("€{{amount}}", "€{{amount}} EUR"),
    "GBP": ("£{{amount}}", "£{{amount}} GBP"),
}


class RestShapes:
    """Builds the REST-shaped JSON of one shop's records."""

    def __init__(self, shop: ShopInfo) -> None:
        self.shop = shop
        self.zone = ZoneInfo(shop.timezone)
        self.currency = shop.currency

    def time(self, moment: datetime | None) -> str | None:
        return iso_local(moment, self.zone) if moment else None

    def money(self, amount: Decimal) -> str:
        return money(amount, self.currency)

    def money_set(self, amount: Decimal) -> dict[str, Any]:
        value = {"amount": self.money(amount), "currency_code": self.currency}
        return {"shop_money": value, "presentment_money": dict(value)}

    # ---- customers -------------------------------------------------------------------------

    def address(self, address: Address | None, customer_id: int | None = None) -> dict[str, Any]:
        if address is None:
            return {}
        body: dict[str, Any] = {
            "first_name": address.first_name,
            "address1": address.address1,
            "phone": address.phone,
            "city": address.city,
            "zip": address.zip,
            "province": address.province,
            "country": address.country,
            "last_name": address.last_name,
            "address2": address.address2,
            "company": address.company,
            "latitude": None,
            "longitude": None,
            "name": address.name,
            "country_code": address.country_code,
            "province_code": address.province_code,
        }
        if customer_id is not None:
            body = {
                "id": address.id,
                "customer_id": customer_id,
                **{key: body[key] for key in ("first_name", "last_name", "company", "address1")},
                "address2": address.address2,
                "city": address.city,
                "province": address.province,
                "country": address.country,
                "zip": address.zip,
                "phone": address.phone,
                "name": address.name,
                "province_code": address.province_code,
                "country_code": address.country_code,
                "country_name": address.country,
                "default": True,
            }
        return body

    def customer(self, customer: Customer, *, embedded: bool = False) -> dict[str, Any]:
        """customers/create and customers/update; `embedded` is the copy inside orders/checkouts."""
        body: dict[str, Any] = {
            "id": customer.id,
            "created_at": self.time(customer.created_at),
            "updated_at": self.time(customer.updated_at),
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "state": customer.state.lower(),
            "note": customer.note,
            "verified_email": customer.verified_email,
            "multipass_identifier": None,
            "tax_exempt": False,
            "email": customer.email,
            "phone": customer.phone,
            "currency": self.currency,
        }
        if not embedded:
            body["addresses"] = (
                [self.address(customer.address, customer.id)] if customer.address else []
            )
        body["tax_exemptions"] = []
        body["admin_graphql_api_id"] = customer.gid
        if customer.address is not None:
            body["default_address"] = self.address(customer.address, customer.id)
        return body

    def customer_metafields(self, customer: Customer) -> list[dict[str, Any]]:
        """The customer's metafields as webhook payloads list them: Shopify's standard birth
        date (`facts.birth_date`), when set."""
        if customer.birth_date is None:
            return []
        number = int(f"{customer.id}0001")  # the id the GraphQL node gives it (nodes.py)
        return [
            {
                "id": number,
                "namespace": "facts",
                "key": "birth_date",
                "value": customer.birth_date.isoformat(),
                "description": None,
                "owner_id": customer.id,
                "created_at": self.time(customer.created_at),
                "updated_at": self.time(customer.updated_at),
                "owner_resource": "customer",
                "type": "date",
                "admin_graphql_api_id": gid("Metafield", number),
            }
        ]

    def email_consent(self, customer: Customer) -> dict[str, Any]:
        """customers_email_marketing_consent/update: lower-case state and opt-in level."""
        level = customer.marketing_opt_in_level
        return {
            "customer_id": customer.id,
            "email_address": customer.email,
            "email_marketing_consent": {
                "state": customer.marketing_state.lower(),
                "opt_in_level": level.lower() if level else None,
                "consent_updated_at": self.time(customer.marketing_updated_at),
            },
        }

    # ---- orders ----------------------------------------------------------------------------

    def order_line(self, line: LineItem) -> dict[str, Any]:
        return {
            "id": line.id,
            "admin_graphql_api_id": gid("LineItem", line.id),
            "attributed_staffs": [],
            "current_quantity": line.quantity,
            "fulfillable_quantity": line.quantity,
            "fulfillment_service": "manual",
            "fulfillment_status": None,
            "gift_card": False,
            "grams": line.grams,
            "name": f"{line.title} - {line.variant_title}"
            if line.variant_title != "Default Title"
            else line.title,
            "price": self.money(line.price),
            "price_set": self.money_set(line.price),
            "product_exists": True,
            "product_id": line.product_id,
            "properties": [],
            "quantity": line.quantity,
            "requires_shipping": True,
            "sales_line_item_group_id": None,
            "sku": line.sku,
            "taxable": True,
            "title": line.title,
            "total_discount": self.money(Decimal(0)),
            "total_discount_set": self.money_set(Decimal(0)),
            "variant_id": line.variant_id,
            "variant_inventory_management": "shopify",
            "variant_title": None if line.variant_title == "Default Title" else line.variant_title,
            "vendor": line.vendor,
            "tax_lines": [],
            "duties": [],
            "discount_allocations": [],
        }

    def order(self, order: Order, customer: Customer | None) -> dict[str, Any]:
        """orders/create, orders/paid, orders/updated."""
        zero = Decimal(0)
        tax = order.total_tax(self.currency)
        status_url = (
            f"https://{self.shop.domain}/{self.shop.id}/orders/{order.token}/authenticate"
            f"?key={order.token[:16]}"
        )
        return {
            "id": order.id,
            "admin_graphql_api_id": order.gid,
            "app_id": 580111,
            "browser_ip": None,
            "buyer_accepts_marketing": order.buyer_accepts_marketing,
            "cancel_reason": order.cancel_reason,
            "cancelled_at": self.time(order.cancelled_at),
            "cart_token": order.cart_token,
            "checkout_token": order.checkout_token,
            "client_details": None,
            "closed_at": None,
            "confirmation_number": order.token[:9].upper(),
            "confirmed": True,
            "contact_email": order.email,
            "created_at": self.time(order.created_at),
            "currency": self.currency,
            "current_shipping_price_set": self.money_set(order.shipping),
            "current_subtotal_price": self.money(order.subtotal),
            "current_subtotal_price_set": self.money_set(order.subtotal),
            "current_total_additional_fees_set": None,
            "current_total_discounts": self.money(order.discount),
            "current_total_discounts_set": self.money_set(order.discount),
            "current_total_duties_set": None,
            "current_total_price": self.money(order.total),
            "current_total_price_set": self.money_set(order.total),
            "current_total_tax": self.money(tax),
            "current_total_tax_set": self.money_set(tax),
            "customer_locale": order.locale,
            "device_id": None,
            "discount_codes": (
                [
                    {
                        "code": order.discount_code,
                        "amount": self.money(order.discount),
                        "type": "percentage",
                    }
                ]
                if order.discount_code
                else []
            ),
            "duties_included": False,
            "email": order.email,
            "estimated_taxes": False,
            "financial_status": order.financial_status,
            "fulfillment_status": order.fulfillment_status,
            "landing_site": None,
            "landing_site_ref": None,
            "location_id": None,
            "merchant_business_entity_id": None,
            "merchant_of_record_app_id": None,
            "name": order.name,
            "note": None,
            "note_attributes": [],
            "number": order.number - 1000,
            "order_number": order.number,
            "order_status_url": status_url,
            "original_total_additional_fees_set": None,
            "original_total_duties_set": None,
            "payment_gateway_names": ["shopify_payments"],
            "phone": None,
            "po_number": None,
            "presentment_currency": self.currency,
            "processed_at": self.time(order.processed_at),
            "reference": None,
            "referring_site": None,
            "source_identifier": None,
            "source_name": order.source_name,
            "source_url": None,
            "subtotal_price": self.money(order.subtotal),
            "subtotal_price_set": self.money_set(order.subtotal),
            "tags": "",
            "tax_exempt": False,
            "tax_lines": (
                [{"price": self.money(tax), "rate": float(order.tax_rate), "title": "Tax"}]
                if tax
                else []
            ),
            "taxes_included": order.taxes_included,
            "test": False,
            "token": order.token,
            "total_cash_rounding_payment_adjustment_set": self.money_set(zero),
            "total_cash_rounding_refund_adjustment_set": self.money_set(zero),
            "total_discounts": self.money(order.discount),
            "total_discounts_set": self.money_set(order.discount),
            "total_line_items_price": self.money(order.line_items_total),
            "total_line_items_price_set": self.money_set(order.line_items_total),
            "total_outstanding": self.money(
                zero if order.financial_status != "pending" else order.total
            ),
            "total_price": self.money(order.total),
            "total_price_set": self.money_set(order.total),
            "total_shipping_price_set": self.money_set(order.shipping),
            "total_tax": self.money(tax),
            "total_tax_set": self.money_set(tax),
            "total_tip_received": self.money(zero),
            "total_weight": order.total_weight,
            "updated_at": self.time(order.updated_at),
            "user_id": None,
            "billing_address": self.address(order.billing_address) or None,
            "customer": self.customer(customer, embedded=True) if customer else None,
            "discount_applications": [],
            "fulfillments": [],
            "line_items": [self.order_line(line) for line in order.lines],
            "payment_terms": None,
            "refunds": [],
            "shipping_address": self.address(order.shipping_address) or None,
            "shipping_lines": [
                {
                    "id": order.id + 1,
                    "carrier_identifier": None,
                    "code": "Standard",
                    "current_discounted_price_set": self.money_set(order.shipping),
                    "discounted_price": self.money(order.shipping),
                    "discounted_price_set": self.money_set(order.shipping),
                    "is_removed": False,
                    "phone": None,
                    "price": self.money(order.shipping),
                    "price_set": self.money_set(order.shipping),
                    "requested_fulfillment_service_id": None,
                    "source": "shopify",
                    "title": "Standard",
                    "tax_lines": [],
                    "discount_allocations": [],
                }
            ],
            "returns": [],
            "line_item_groups": [],
        }

    # ---- checkouts -------------------------------------------------------------------------

    def recovery_url(self, checkout: Checkout) -> str:
        return (
            f"https://{self.shop.domain}/{self.shop.id}/checkouts/ac/{checkout.token}/recover"
            f"?key={checkout.recovery_key}"
        )

    def checkout_line(self, line: LineItem) -> dict[str, Any]:
        variant_title = None if line.variant_title == "Default Title" else line.variant_title
        return {
            "applied_discounts": [],
            "discount_allocations": [],
            "key": f"{line.id:032x}"[-32:],
            "destination_location_id": None,
            "fulfillment_service": "manual",
            "gift_card": False,
            "grams": line.grams,
            "origin_location_id": None,
            "presentment_title": line.title,
            "presentment_variant_title": variant_title,
            "product_id": line.product_id,
            "properties": None,
            "quantity": line.quantity,
            "requires_shipping": True,
            "sku": line.sku,
            "tax_lines": [],
            "taxable": True,
            "title": line.title,
            "variant_id": line.variant_id,
            "variant_title": variant_title,
            "variant_price": self.money(line.price),
            "vendor": line.vendor,
            "user_id": None,
            "unit_price_measurement": {
                "measured_type": None,
                "quantity_value": None,
                "quantity_unit": None,
                "reference_value": None,
                "reference_unit": None,
            },
            "rank": None,
            "compare_at_price": None,
            "line_price": self.money(line.line_total),
            "price": self.money(line.price),
        }

    def checkout(self, checkout: Checkout, customer: Customer | None) -> dict[str, Any]:
        """checkouts/create and checkouts/update (no `id` since API 2026-04: `token` only)."""
        subtotal = checkout.subtotal
        address = self.address(checkout.billing_address) or None
        return {
            "token": checkout.token,
            "cart_token": checkout.cart_token,
            "email": checkout.email,
            "gateway": None,
            "buyer_accepts_marketing": bool(customer and customer.marketing_state == "SUBSCRIBED"),
            "created_at": self.time(checkout.created_at),
            "updated_at": self.time(checkout.updated_at),
            "landing_site": "/",
            "note": None,
            "note_attributes": [],
            "referring_site": None,
            "shipping_lines": [],
            "taxes_included": self.currency == "JPY",
            "total_weight": checkout.total_weight,
            "currency": self.currency,
            "completed_at": self.time(checkout.completed_at),
            "closed_at": None,
            "user_id": None,
            "location_id": None,
            "source_identifier": None,
            "source_url": None,
            "device_id": None,
            "phone": None,
            "customer_locale": checkout.locale,
            "line_items": [self.checkout_line(line) for line in checkout.lines],
            "name": f"#{checkout.id}",
            "source": None,
            "abandoned_checkout_url": self.recovery_url(checkout),
            "discount_codes": [],
            "tax_lines": [],
            "source_name": "web",
            "presentment_currency": self.currency,
            "buyer_accepts_sms_marketing": False,
            "sms_marketing_phone": None,
            "total_discounts": self.money(Decimal(0)),
            "total_line_items_price": self.money(subtotal),
            "total_price": self.money(subtotal),
            "total_tax": self.money(Decimal(0)),
            "subtotal_price": self.money(subtotal),
            "total_duties": None,
            "reservation_token": None,
            "billing_address": address,
            "shipping_address": address,
            "customer": self.customer(customer, embedded=True) if customer else None,
        }

    # ---- shop and privacy ------------------------------------------------------------------

    def shop_body(self) -> dict[str, Any]:
        """app/uninstalled (and shop/update): the shop resource."""
        shop = self.shop
        money_format, money_with_currency = MONEY_FORMATS.get(
            shop.currency, ("{{amount}}", f"{{{{amount}}}} {shop.currency}")
        )
        offset = datetime.now(self.zone).strftime("%z")
        address = shop.address
        return {
            "id": shop.id,
            "name": shop.name,
            "email": shop.email,
            "domain": shop.domain,
            "province": address.province,
            "country": address.country_code,
            "address1": address.address1,
            "zip": address.zip,
            "city": address.city,
            "source": None,
            "phone": address.phone,
            "latitude": None,
            "longitude": None,
            "primary_locale": "ja" if shop.currency == "JPY" else "en",
            "address2": None,
            "created_at": self.time(shop.created_at),
            "updated_at": self.time(shop.created_at),
            "country_code": address.country_code,
            "country_name": address.country,
            "currency": shop.currency,
            "customer_email": shop.email,
            "timezone": f"(GMT{offset[:3]}:{offset[3:]}) {shop.timezone}",
            "iana_timezone": shop.timezone,
            "shop_owner": shop.owner_name,
            "money_format": money_format,
            "money_with_currency_format": money_with_currency,
            "weight_unit": "kg",
            "province_code": address.province_code,
            "taxes_included": shop.currency == "JPY",
            "auto_configure_tax_inclusivity": None,
            "tax_shipping": None,
            "county_taxes": True,
            "plan_display_name": shop.plan,
            "plan_name": shop.plan.lower(),
            "has_discounts": True,
            "has_gift_cards": False,
            "myshopify_domain": shop.domain,
            "google_apps_domain": None,
            "google_apps_login_enabled": None,
            "money_in_emails_format": money_format,
            "money_with_currency_in_emails_format": money_with_currency,
            "eligible_for_payments": True,
            "requires_extra_payments_agreement": False,
            "password_enabled": False,
            "has_storefront": True,
            "finances": True,
            "primary_location_id": shop.id + 7,
            "checkout_api_supported": True,
            "multi_location_enabled": True,
            "setup_required": False,
            "pre_launch_enabled": False,
            "enabled_presentment_currencies": [shop.currency],
            "marketing_sms_consent_enabled_at_checkout": False,
            "transactional_sms_disabled": False,
        }

    def customer_data_request(
        self, customer: Customer, order_ids: list[int], request_id: int
    ) -> dict[str, Any]:
        return {
            "shop_id": self.shop.id,
            "shop_domain": self.shop.domain,
            "orders_requested": order_ids,
            "customer": {"id": customer.id, "email": customer.email, "phone": customer.phone},
            "data_request": {"id": request_id},
        }

    def customer_redact(self, customer: Customer, order_ids: list[int]) -> dict[str, Any]:
        return {
            "shop_id": self.shop.id,
            "shop_domain": self.shop.domain,
            "customer": {"id": customer.id, "email": customer.email, "phone": customer.phone},
            "orders_to_redact": order_ids,
        }

    def shop_redact(self) -> dict[str, Any]:
        return {"shop_id": self.shop.id, "shop_domain": self.shop.domain}
