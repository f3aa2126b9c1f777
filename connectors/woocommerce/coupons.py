"""Unique single-use WooCommerce coupons (`POST /wp-json/wc/v3/coupons`), one per message.

Layer: connectors. The twin of `shopify/discounts.py`: one use, the customer's email, expiry in
UTC (`date_expires_gmt`); "already exists" for the code we asked for counts as success.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from connectors.base import ConnectorError
from connectors.shopify.discounts import DiscountCode
from connectors.woocommerce.client import WooCommerceClient

CODE_EXISTS = "woocommerce_rest_coupon_code_already_exists"


def create_coupon(
    client: WooCommerceClient,
    *,
    email: str,
    percent: Decimal | float | int | None = None,
    expires_at: datetime,
    code: str,
    amount_off: Decimal | float | int | None = None,
) -> DiscountCode:
    """Create the coupon: `percent` % off, or `amount_off` off the cart (`fixed_cart`);
    `ConnectorError` for any refusal except "this code already exists"."""
    if (percent is None) == (amount_off is None):
        raise ValueError("give either percent or amount_off")
    if amount_off is not None:
        amount, discount_type = Decimal(str(amount_off)), "fixed_cart"
        if not amount > 0:
            raise ValueError("amount_off must be positive")
    else:
        amount, discount_type = Decimal(str(percent)), "percent"
        if not 0 < amount <= 100:
            raise ValueError("percent must be in (0, 100]")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    data = {
        "code": code,
        "discount_type": discount_type,
        "amount": format(amount.normalize(), "f"),
        "individual_use": True,
        "usage_limit": 1,
        "usage_limit_per_user": 1,
        "email_restrictions": [email],
        "date_expires_gmt": expires_at.astimezone(UTC).replace(tzinfo=None).isoformat(),
        "description": "Kizuna: single-use code for one customer",
    }
    try:
        created = client.request("POST", "coupons", data=data).json()
    except ConnectorError as error:
        if error.status == 400 and error.code == CODE_EXISTS:
            return DiscountCode(code=code, ends_at=expires_at)
        raise
    coupon_id = created.get("id") if isinstance(created, dict) else None
    return DiscountCode(
        code=code, ends_at=expires_at, discount_id=str(coupon_id) if coupon_id else None
    )
