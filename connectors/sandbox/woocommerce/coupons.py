"""Coupons of the simulated WooCommerce: `POST /wp-json/wc/v3/coupons`, minimal.

Layer: connectors/sandbox. Kept per store (`coupons(store)`, by lower-cased code, as WooCommerce
compares codes case-insensitively); a code that exists answers 400
`woocommerce_rest_coupon_code_already_exists` like WooCommerce does. No listing or redemption.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.sandbox.woocommerce.store import SandboxStore

DISCOUNT_TYPES = frozenset({"percent", "fixed_cart", "fixed_product"})

_ids = itertools.count(5001)


def coupons(store: SandboxStore) -> dict[str, dict[str, Any]]:
    # Kept on the store object itself (a dataclass, so not usable as a weak key).
    table: dict[str, dict[str, Any]] = vars(store).setdefault("_sandbox_coupons", {})
    return table


def _error(code: str, message: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message, "data": {"status": status}}


def create_coupon(store: SandboxStore, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) of a coupon creation."""
    code = str(data.get("code") or "").strip()
    if not code:
        return _error("rest_missing_callback_param", "Missing parameter(s): code")
    discount_type = data.get("discount_type", "fixed_cart")
    if discount_type not in DISCOUNT_TYPES:
        return _error("rest_invalid_param", "Invalid parameter(s): discount_type")
    table = coupons(store)
    if code.lower() in table:
        return _error(
            "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists"
        )
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    expires = data.get("date_expires_gmt") or data.get("date_expires")
    coupon = {
        "id": next(_ids),
        "code": code.lower(),
        "amount": str(data.get("amount") or "0"),
        "discount_type": discount_type,
        "description": data.get("description") or "",
        "date_created_gmt": now.isoformat(),
        "date_expires": expires,
        "date_expires_gmt": expires,
        "usage_count": 0,
        "individual_use": bool(data.get("individual_use")),
        "usage_limit": data.get("usage_limit"),
        "usage_limit_per_user": data.get("usage_limit_per_user"),
        "email_restrictions": list(data.get("email_restrictions") or []),
        "used_by": [],
    }
    table[code.lower()] = coupon
    return 201, coupon
