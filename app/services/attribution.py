"""Attributed orders of a shop over a period, and the shop's attribution settings.

Layer: services. Reads are scoped by shop and bounded by the period, so their cost follows the
period's activity, not the shop's history; `save_settings` writes in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from app.domain.attribution import (
    MAX_WINDOW_DAYS,
    MIN_WINDOW_DAYS,
    MODELS,
    AttributionSettings,
    OrderPlaced,
    Touch,
    last_touches,
)
from app.models import Order, Shop
from app.models.flow import FlowRun, Message, MessageEvent
from app.models.order import order_time

CAMPAIGN_KEY = "campaign"


@dataclass(frozen=True)
class AttributedOrder:
    order_id: int
    revenue: Decimal
    message_id: int
    flow_key: str


def settings_of(shop: Shop) -> AttributionSettings:
    return AttributionSettings.from_json(shop.attribution)


def validate(form: dict[str, Any]) -> tuple[AttributionSettings | None, dict[str, str]]:
    """Posted `model` and `window_days` → settings, or field errors (i18n keys)."""
    errors: dict[str, str] = {}
    model = str(form.get("model", ""))
    if model not in MODELS:
        errors["model"] = "attribution.error.model"
    raw_days = str(form.get("window_days", "")).strip()
    days = int(raw_days) if raw_days.isascii() and raw_days.isdigit() else -1
    if not MIN_WINDOW_DAYS <= days <= MAX_WINDOW_DAYS:
        errors["window_days"] = "attribution.error.window"
    if errors:
        return None, errors
    return AttributionSettings(model, days), {}


def save_settings(shop: Shop, settings: AttributionSettings) -> None:
    shop.attribution = settings.to_json()


def attributed_orders(
    session: Session,
    shop_id: int,
    since: datetime,
    until: datetime,
    settings: AttributionSettings,
) -> list[AttributedOrder]:
    """Every non-cancelled order placed in `[since, until)` that a touch is credited with."""
    when = order_time()
    orders = session.execute(
        select(Order.id, Order.customer_id, when, Order.total_price).where(
            Order.shop_id == shop_id,
            Order.customer_id.is_not(None),
            Order.cancelled_at.is_(None),
            when >= since,
            when < until,
        )
    ).all()
    if not orders:
        return []
    earliest = since - settings.window
    # A campaign's message has no flow run: it is credited under the key "campaign".
    flow_key = func.coalesce(FlowRun.flow_key, literal(CAMPAIGN_KEY))
    touch_rows: Sequence[Any]
    if settings.touch_events:
        touch_rows = session.execute(
            select(Message.customer_id, MessageEvent.occurred_at, Message.id, flow_key)
            .join(Message, Message.id == MessageEvent.message_id)
            .outerjoin(FlowRun, FlowRun.id == Message.flow_run_id)
            .where(
                MessageEvent.shop_id == shop_id,
                Message.shop_id == shop_id,
                MessageEvent.event.in_(settings.touch_events),
                MessageEvent.occurred_at >= earliest,
                MessageEvent.occurred_at < until,
            )
        ).all()
    else:
        touch_rows = session.execute(
            select(Message.customer_id, Message.sent_at, Message.id, flow_key)
            .outerjoin(FlowRun, FlowRun.id == Message.flow_run_id)
            .where(
                Message.shop_id == shop_id,
                Message.status == "sent",
                Message.sent_at >= earliest,
                Message.sent_at < until,
            )
        ).all()
    touches = [Touch(int(c), at, int(m), str(f)) for c, at, m, f in touch_rows if at is not None]
    placed = [OrderPlaced(int(o), c, at) for o, c, at, _total in orders if c is not None]
    credited = last_touches(placed, touches, settings.window)
    revenue = {int(o): Decimal(total) for o, _c, _at, total in orders}
    return [
        AttributedOrder(order_id, revenue[order_id], touch.message_id, touch.flow_key)
        for order_id, touch in credited.items()
    ]
