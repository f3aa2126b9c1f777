"""Discount-code, consent and customer-tag mutations of the simulated Shopify.

Layer: connectors/sandbox. Answers Shopify's userErrors (taken code, unknown customer, bad input),
accepts only the settable consent states and emits the consent webhook. Runs under the store lock.
"""

from __future__ import annotations

import itertools
import json
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.sandbox.shopify.records import parse_gid

if TYPE_CHECKING:
    from connectors.sandbox.shopify.nodes import GraphNodes
    from connectors.sandbox.shopify.store import SandboxStore

SETTABLE_STATES = frozenset({"SUBSCRIBED", "UNSUBSCRIBED", "PENDING"})
MAX_TAG_LENGTH = 255
MAX_TAGS = 250


@dataclass
class SandboxDiscount:
    id: int
    title: str
    code: str
    customer_ids: list[int]
    percentage: Decimal | None
    usage_limit: int | None
    applies_once_per_customer: bool
    starts_at: datetime
    ends_at: datetime | None
    created_at: datetime
    amount: Decimal | None = None  # an amount off the order instead of a percentage

    @property
    def gid(self) -> str:
        return f"gid://shopify/DiscountCodeNode/{self.id}"


_discounts: weakref.WeakKeyDictionary[SandboxStore, dict[str, SandboxDiscount]] = (
    weakref.WeakKeyDictionary()
)
_ids = itertools.count(1_000_001)


def discounts(store: SandboxStore) -> dict[str, SandboxDiscount]:
    """The store's discount codes by upper-cased code (Shopify codes are case-insensitive)."""
    return _discounts.setdefault(store, {})


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _discount_error(field: list[str], code: str, message: str) -> dict[str, Any]:
    return {
        "codeDiscountNode": None,
        "userErrors": [{"field": ["basicCodeDiscount", *field], "code": code, "message": message}],
    }


def discount_node(discount: SandboxDiscount) -> dict[str, Any]:
    return {
        "__typename": "DiscountCodeNode",
        "id": discount.gid,
        "codeDiscount": {
            "__typename": "DiscountCodeBasic",
            "title": discount.title,
            "startsAt": _iso(discount.starts_at),
            "endsAt": _iso(discount.ends_at),
            "usageLimit": discount.usage_limit,
            "appliesOncePerCustomer": discount.applies_once_per_customer,
            "asyncUsageCount": 0,
            "createdAt": _iso(discount.created_at),
            "updatedAt": _iso(discount.created_at),
            "status": "ACTIVE",
            "summary": (
                f"{discount.percentage * 100:g}% off entire order"
                if discount.percentage is not None
                else f"{discount.amount:f} off entire order"
            ),
        },
    }


def discount_code_basic_create(
    store: SandboxStore, basicCodeDiscount: dict[str, Any]
) -> dict[str, Any]:
    data = basicCodeDiscount
    title, code = (data.get("title") or "").strip(), (data.get("code") or "").strip()
    if not title:
        return _discount_error(["title"], "BLANK", "Title can't be blank")
    if not code:
        return _discount_error(["code"], "BLANK", "Code can't be blank")
    if code.upper() in discounts(store):
        return _discount_error(
            ["code"], "TAKEN", "Code must be unique. Please try a different code."
        )
    context = data.get("context") or {}
    if not context:
        return _discount_error(["context"], "BLANK", "Context can't be blank")
    customer_ids: list[int] = []
    for value in (context.get("customers") or {}).get("add") or []:
        number = parse_gid(str(value), "Customer")
        if number is None or store.customer_by_id(number) is None:
            return _discount_error(
                ["context", "customers", "add"], "INVALID", f"Customer {value} does not exist"
            )
        customer_ids.append(number)
    value = (data.get("customerGets") or {}).get("value") or {}
    fixed = value.get("discountAmount") if isinstance(value.get("discountAmount"), dict) else None
    amount = Decimal(str(fixed.get("amount"))) if fixed and fixed.get("amount") else None
    if fixed is not None and (amount is None or amount <= 0):
        return _discount_error(
            ["customerGets", "value", "discountAmount", "amount"],
            "GREATER_THAN",
            "Amount must be greater than 0",
        )
    percentage = Decimal(str(value.get("percentage"))) if "percentage" in value else None
    amount_off = (value.get("discountAmount") or {}).get("amount")
    amount = Decimal(str(amount_off)) if amount_off is not None and percentage is None else None
    if amount is not None and not amount > 0:
        return _discount_error(
            ["customerGets", "value", "discountAmount", "amount"],
            "GREATER_THAN",
            "Amount must be greater than 0",
        )
    if amount is None and (percentage is None or not 0 < percentage <= 1):
        return _discount_error(
            ["customerGets", "value", "percentage"],
            "VALUE_OUTSIDE_RANGE",
            "Value must be between 0.0 and 1.0",
        )
    now = store.now()
    starts_at = _time(data.get("startsAt")) or now
    ends_at = _time(data.get("endsAt"))
    if ends_at is not None and ends_at <= starts_at:
        return _discount_error(
            ["endsAt"], "END_DATE_BEFORE_START_DATE", "Ends at needs to be after starts_at"
        )
    limit = data.get("usageLimit")
    discount = SandboxDiscount(
        id=next(_ids),
        title=title,
        code=code,
        customer_ids=customer_ids,
        percentage=percentage,
        amount=amount,
        usage_limit=int(limit) if limit is not None else None,
        applies_once_per_customer=bool(data.get("appliesOncePerCustomer")),
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=now,
    )
    discounts(store)[code.upper()] = discount
    return {"codeDiscountNode": discount_node(discount), "userErrors": []}


def _consent_error(field: list[str], code: str, message: str) -> dict[str, Any]:
    return {
        "customer": None,
        "userErrors": [{"field": ["input", *field], "code": code, "message": message}],
    }


def customer_email_marketing_consent_update(
    store: SandboxStore, nodes: GraphNodes, input: dict[str, Any]
) -> dict[str, Any]:
    number = parse_gid(str(input.get("customerId")), "Customer")
    customer = store.customer_by_id(number)
    if customer is None:
        return _consent_error(["customerId"], "INVALID", "Customer does not exist")
    if not customer.email:
        return _consent_error(
            ["customerId"], "INVALID", "An email address is required to set the consent"
        )
    consent = input.get("emailMarketingConsent") or {}
    state = consent.get("marketingState")
    if state not in SETTABLE_STATES:
        return _consent_error(
            ["emailMarketingConsent", "marketingState"],
            "INCLUSION",
            "Marketing state is not included in the list",
        )
    store.set_email_marketing(
        customer.id, state, opt_in_level=consent.get("marketingOptInLevel") or None
    )
    return {"customer": nodes.customer(customer), "userErrors": []}


def _tags_argument(tags: Any) -> list[str]:
    """`tags` as Shopify reads it: a list of strings, or one comma-separated string."""
    values = tags.split(",") if isinstance(tags, str) else list(tags or [])
    return [str(value).strip() for value in values if str(value).strip()]


def _tags_error(message: str, field: str = "id") -> dict[str, Any]:
    return {"node": None, "userErrors": [{"field": [field], "message": message}]}


def change_tags(store: SandboxStore, id: str, tags: Any, *, add: bool) -> dict[str, Any]:
    """`tagsAdd` / `tagsRemove` on a customer: case-insensitive like Shopify, at most 255
    characters per tag and 250 tags per customer; a change emits customers/update."""
    number = parse_gid(str(id), "Customer")
    customer = store.customer_by_id(number) if number is not None else None
    if customer is None:
        return _tags_error("Resource does not exist" if number else "Invalid id")
    wanted = _tags_argument(tags)
    if any(len(tag) > MAX_TAG_LENGTH for tag in wanted):
        return _tags_error(f"Tags are limited to {MAX_TAG_LENGTH} characters", "tags")
    current = list(customer.tags)
    lowered = {tag.lower() for tag in current}
    if add:
        updated = current + [tag for tag in dict.fromkeys(wanted) if tag.lower() not in lowered]
    else:
        dropped = {tag.lower() for tag in wanted}
        updated = [tag for tag in current if tag.lower() not in dropped]
    if len(updated) > MAX_TAGS:
        return _tags_error(f"A resource can have at most {MAX_TAGS} tags", "tags")
    if updated != current:
        store.update_customer(customer.id, tags=updated)
    return {
        "node": {"__typename": "Customer", "id": f"gid://shopify/Customer/{customer.id}"},
        "userErrors": [],
    }


def web_pixel_create(store: SandboxStore, web_pixel: dict[str, Any]) -> dict[str, Any]:
    """The app's web pixel on for the store (one per app and store, as on Shopify); its settings
    must be a JSON object."""
    try:
        settings = json.loads(web_pixel.get("settings") or "")
    except (TypeError, ValueError):
        settings = None
    if not isinstance(settings, dict):
        error = {
            "field": ["webPixel", "settings"],
            "message": "Settings are invalid",
            "code": "INVALID_SETTINGS",
        }
        return {"webPixel": None, "userErrors": [error]}
    with store.lock:
        if store.web_pixel is not None:
            error = {"field": ["webPixel"], "message": "Web pixel is taken", "code": "TAKEN"}
            return {"webPixel": None, "userErrors": [error]}
        store.web_pixel = settings
    node = {"id": "gid://shopify/WebPixel/1", "settings": json.dumps(settings)}
    return {"webPixel": node, "userErrors": []}
