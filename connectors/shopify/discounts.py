"""Unique single-use discount codes on Shopify (`discountCodeBasicCreate`), one per message
(or per campaign recipient): a percentage or an amount off.

Layer: connectors. A code is derived from a secret and its message, so a retried send asks for
the same code, and "code taken" for our own code counts as success. One customer, one use.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from connectors.base import ConnectorError
from connectors.shopify.queries import DISCOUNT_CODE_BASIC_CREATE

# No 0/O, 1/I/L: readable aloud and when typed from a phone screen.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_PREFIX = "KZ-"
CODE_LENGTH = 8


class GraphQLExecutor(Protocol):
    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class DiscountCode:
    code: str
    ends_at: datetime
    discount_id: str | None = None  # the platform's id, when it told us (not on "taken")


def message_code(secret: str, *parts: object) -> str:
    """`KZ-` + 8 characters, unguessable without `secret`, the same for the same `parts`."""
    key = ":".join(str(part) for part in parts).encode()
    digest = int.from_bytes(hmac.new(secret.encode(), key, hashlib.sha256).digest(), "big")
    chars = []
    for _ in range(CODE_LENGTH):
        digest, index = divmod(digest, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[index])
    return CODE_PREFIX + "".join(chars)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("discount dates must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _is_code_taken(error: dict[str, Any]) -> bool:
    field = error.get("field") or []
    return error.get("code") == "TAKEN" and (not field or field[-1] == "code")


def _customer_gets_value(
    percent: Decimal | float | int | None, amount_off: Decimal | float | int | None
) -> dict[str, Any]:
    if (percent is None) == (amount_off is None):
        raise ValueError("give either percent or amount_off")
    if amount_off is not None:
        amount = Decimal(str(amount_off))
        if not amount > 0:
            raise ValueError("amount_off must be positive")
        return {"discountAmount": {"amount": format(amount, "f"), "appliesOnEachItem": False}}
    share = Decimal(str(percent)) / 100
    if not 0 < share <= 1:
        raise ValueError("percent must be in (0, 100]")
    return {"percentage": float(share)}


def create_single_use_discount(
    client: GraphQLExecutor,
    *,
    customer_gid: str,
    percent: Decimal | float | int | None = None,
    ends_at: datetime,
    code: str,
    title: str,
    starts_at: datetime | None = None,
    amount_off: Decimal | float | int | None = None,
) -> DiscountCode:
    """Create `code`: `percent` % off everything, or `amount_off` (the shop's currency) off the
    order, for one customer, one use, until `ends_at`.

    userErrors raise `ConnectorError` (code = the first error's code), except "code taken" for
    this very code, which is an earlier attempt of ours and returns the code.
    """
    value = _customer_gets_value(percent, amount_off)
    basic: dict[str, Any] = {
        "title": title,
        "code": code,
        "startsAt": _iso(starts_at or datetime.now(UTC)),
        "endsAt": _iso(ends_at),
        "context": {"customers": {"add": [customer_gid]}},
        "customerGets": {"value": value, "items": {"all": True}},
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
    }
    data = client.execute(DISCOUNT_CODE_BASIC_CREATE, {"basicCodeDiscount": basic})
    payload = data.get("discountCodeBasicCreate") or {}
    errors = [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
    if errors and all(_is_code_taken(e) for e in errors):
        return DiscountCode(code=code, ends_at=ends_at)
    if errors:
        message = "; ".join(str(e.get("message")) for e in errors)
        raise ConnectorError(
            f"Shopify refused the discount code: {message}", status=200, code=errors[0].get("code")
        )
    node = payload.get("codeDiscountNode") or {}
    if not node.get("id"):
        raise ConnectorError("Shopify created no discount and reported no error", status=200)
    return DiscountCode(code=code, ends_at=ends_at, discount_id=str(node["id"]))
