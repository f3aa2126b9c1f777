"""The thank-you flow: a paid order gets a thank-you with its items and cross-sells.

Layer: services, inside the caller's transaction. One run per order (`order:<order id>`), due
`step_delay_hours[0]` after the payment, only for orders placed within `THANK_YOU_WINDOW`.
Cross-sells come from the one recommendation path (`services.recommendations`: the shop's
precomputed stats minus what the customer owns and the durable groups they bought from); the
email is shared content plus the recipient's parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from app.domain.orchestration import POST_PURCHASE_DEFAULTS, THANK_YOU
from app.flows.form import MAX_THANK_YOU_HOURS, FlowForm
from app.flows.post_purchase import (
    THANK_YOU_WINDOW,
    Purchases,
    Recipient,
    definition,
    due_or_none,
    flow_settings,
    intro,
    order_target,
    orders_preview,
    paid_clause,
    placed_at,
    purchase_emails,
    render_part,
    start_with_batch,
)
from app.flows.post_purchase_replay import thank_you_triggers
from app.formatting import format_money
from app.models import Customer, Order
from app.models.flow import FlowRun


def start(session: Session, order: Order, now: datetime) -> Sequence[int]:
    """The thank-you, `step_delay_hours[0]` after the payment: the order's time, or its update
    that recorded a later payment. An order placed before `THANK_YOU_WINDOW` gets none."""
    enabled, config, _row = flow_settings(session, order.shop_id, THANK_YOU)
    placed = placed_at(order)
    if not enabled or now - placed > THANK_YOU_WINDOW:
        return []
    paid = min(max(order.platform_updated_at or placed, placed), now)
    due = due_or_none(paid + config.step_delays[0], now)
    if due is None:
        return []
    return start_with_batch(session, order, THANK_YOU, f"order:{order.id}", due, config, now)


def parts(purchases: Purchases, run: FlowRun, customer: Customer, lang: str) -> Recipient | None:
    """The greeting and order name, the order's items and total, and up to three cross-sells."""
    order = purchases.order(run)
    if order is None:
        return None
    shop = purchases.shop
    lines = tuple((line.title, line.quantity) for line in purchases.lines.get(order.id, ()))
    total = format_money(order.total_price, order.currency, lang)
    items = purchases.once(
        ("items", lang, lines, total),
        lambda: render_part(
            THANK_YOU,
            "items",
            lang,
            items=[{"title": title, "quantity": quantity} for title, quantity in lines],
            total=total,
        ),
    )
    picks = purchases.recommendations.get(order.id, [])
    recommendations = purchases.once(
        ("recommendations", lang, tuple(picks)),
        lambda: render_part(
            THANK_YOU, "recommendations", lang, recommendations=purchases.cards(picks, lang)
        ),
    )
    return Recipient(
        {
            "intro": intro(THANK_YOU, shop, customer, order, lang),
            "items": items,
            "recommendations": recommendations,
        }
    )


EMAILS = purchase_emails(THANK_YOU, ("intro", "items", "recommendations"), parts, recommend=True)


FORM = FlowForm(
    THANK_YOU,
    steps=1,
    delays=1,
    first_delay_low=0,
    delay_high=MAX_THANK_YOU_HOURS,
    defaults=POST_PURCHASE_DEFAULTS[THANK_YOU],
)

DEFINITION = definition(
    FORM,
    25,
    EMAILS,
    start,
    thank_you_triggers,
    "flows.preview.no_paid_order",
    orders_preview(paid_clause),
    order_target(paid_clause, "order"),
)
