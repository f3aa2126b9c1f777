"""Crediting orders to emails: which message, if any, an order is attributed to.

Layer: domain (pure: no I/O, no clock). The customer's last touch within the window (a click by
default; opens are optional because Apple's Mail Privacy Protection opens everything). One message
per order at most; recomputed from the stored touches, so settings change past numbers too.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MODELS = ("click", "click_or_open", "send")
DEFAULT_MODEL = "click"
DEFAULT_WINDOW_DAYS = 5
MIN_WINDOW_DAYS = 1
MAX_WINDOW_DAYS = 30


@dataclass(frozen=True)
class AttributionSettings:
    model: str = DEFAULT_MODEL
    window_days: int = DEFAULT_WINDOW_DAYS

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    @property
    def touch_events(self) -> tuple[str, ...]:
        """The Event Webhook events that count as a touch (none for `send`)."""
        return {"click": ("click",), "click_or_open": ("click", "open")}.get(self.model, ())

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> AttributionSettings:
        """The stored settings; anything missing or unusable falls back to the defaults."""
        raw = raw or {}
        model = raw.get("model")
        try:
            days = int(raw.get("window_days", DEFAULT_WINDOW_DAYS))
        except (TypeError, ValueError):
            days = DEFAULT_WINDOW_DAYS
        return cls(
            model if model in MODELS else DEFAULT_MODEL,
            min(MAX_WINDOW_DAYS, max(MIN_WINDOW_DAYS, days)),
        )

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "window_days": self.window_days}


@dataclass(frozen=True)
class Touch:
    customer_id: int
    at: datetime
    message_id: int
    flow_key: str


@dataclass(frozen=True)
class OrderPlaced:
    order_id: int
    customer_id: int
    at: datetime


def last_touches(
    orders: Iterable[OrderPlaced], touches: Iterable[Touch], window: timedelta
) -> dict[int, Touch]:
    """order id → the latest touch of its customer at or before the order and no older than
    `window`; orders without one are left out. Ties on time go to the higher message id."""
    by_customer: dict[int, list[Touch]] = defaultdict(list)
    for touch in touches:
        by_customer[touch.customer_id].append(touch)
    times: dict[int, list[datetime]] = {}
    for customer_id, items in by_customer.items():
        items.sort(key=lambda touch: (touch.at, touch.message_id))
        times[customer_id] = [touch.at for touch in items]
    credited: dict[int, Touch] = {}
    for order in orders:
        items = by_customer.get(order.customer_id, [])
        if not items:
            continue
        index = bisect.bisect_right(times[order.customer_id], order.at) - 1
        if index >= 0 and order.at - items[index].at <= window:
            credited[order.order_id] = items[index]
    return credited
