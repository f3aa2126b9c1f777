"""A campaign recipient's single-use coupon, created on the platform when their email is sent.

Layer: campaigns; the platform call happens inside the send batch's transaction, before the
email is claimed. The code is derived from the campaign and the customer (`message_code`), so
a retry asks for the same code and the platform's "code taken" counts as created; it is kept on
the recipient row. Shopify: `discountCodeBasicCreate`; WooCommerce: `POST coupons`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.kizuna import Kizuna
from app.models import Customer, Shop
from connectors.base import ConnectorError
from connectors.shopify.consent import customer_gid
from connectors.shopify.discounts import create_single_use_discount, message_code

log = logging.getLogger(__name__)


def recipient_code(secret: str, shop_id: int, campaign_id: int, customer_id: int) -> str:
    """The recipient's code, the same on every attempt."""
    return message_code(secret, "campaign", shop_id, campaign_id, customer_id)


def create_codes(
    runtime: Kizuna,
    shop: Shop,
    campaign_id: int,
    coupon: Mapping[str, Any],
    customers: Sequence[Customer],
    now: datetime,
) -> tuple[dict[int, str], dict[int, str]]:
    """Create each customer's code on the platform: → (customer id → code, customer id → why
    not). One client for the batch."""
    from app.services.shop_tokens import shopify_client
    from app.services.woocommerce_install import woocommerce_client
    from connectors.woocommerce.coupons import create_coupon

    value = Decimal(str(coupon["value"]))
    percent, amount_off = (value, None) if coupon["kind"] == "percentage" else (None, value)
    ends_at = now + timedelta(days=int(coupon["expires_days"]))
    codes: dict[int, str] = {}
    failures: dict[int, str] = {}
    if not customers:
        return codes, failures
    with ExitStack() as stack:
        try:
            if shop.platform == "woocommerce":
                wc = stack.enter_context(woocommerce_client(runtime, shop))
            else:
                client = stack.enter_context(shopify_client(runtime, shop))
        except (ConnectorError, ValueError) as error:
            log.warning("campaign coupons: no client shop=%s error=%s", shop.id, type(error))
            return codes, dict.fromkeys((c.id for c in customers), "coupon_failed")
        for customer in customers:
            code = recipient_code(runtime.config.secret_key, shop.id, campaign_id, customer.id)
            try:
                if shop.platform == "woocommerce":
                    create_coupon(
                        wc,
                        email=customer.email or "",
                        percent=percent,
                        amount_off=amount_off,
                        expires_at=ends_at,
                        code=code,
                    )
                else:
                    create_single_use_discount(
                        client,
                        customer_gid=customer_gid(customer.external_id),
                        percent=percent,
                        amount_off=amount_off,
                        ends_at=ends_at,
                        code=code,
                        title=f"Kizuna campaign {campaign_id} {code}",
                        starts_at=now,
                    )
            except (ConnectorError, ValueError) as error:
                log.warning(
                    "campaign coupon not created campaign=%s customer=%s error=%s",
                    campaign_id,
                    customer.id,
                    getattr(error, "code", None) or type(error).__name__,
                )
                failures[customer.id] = "coupon_failed"
                continue
            codes[customer.id] = code
    return codes, failures
