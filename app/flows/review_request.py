"""The review request: some days after an order is fulfilled, ask for a review of its products.

Layer: services, inside the caller's transaction. One run per fulfilled order
(`fulfilled:<order id>`), due `review_delay_days` after the fulfilment; a new order does not
stop it. The email is shared content plus the recipient's parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.domain.orchestration import (
    POST_PURCHASE_DEFAULTS,
    REVIEW_REQUEST,
    PostPurchaseTiming,
)
from app.flows.form import FlowForm, Number
from app.flows.post_purchase import (
    Purchases,
    Recipient,
    definition,
    due_or_none,
    flow_settings,
    fulfilled_clause,
    intro,
    order_target,
    orders_preview,
    purchase_emails,
    render_part,
    start_with_batch,
)
from app.flows.post_purchase_replay import review_request_triggers
from app.links import shop_home_url
from app.models import Customer, Order
from app.models.flow import FlowRun


def start(session: Session, order: Order, now: datetime) -> Sequence[int]:
    """The review request, `review_delay_days` after the order was fulfilled."""
    if order.fulfilled_at is None:
        return []
    enabled, config, row = flow_settings(session, order.shop_id, REVIEW_REQUEST)
    if not enabled:
        return []
    timing = PostPurchaseTiming.from_overrides(row.config)
    moment = order.fulfilled_at + timedelta(days=timing.review_delay_days)
    due = due_or_none(moment + config.step_delays[0], now)
    if due is None:
        return []
    trigger = f"fulfilled:{order.id}"
    return start_with_batch(session, order, REVIEW_REQUEST, trigger, due, config, now)


def parts(purchases: Purchases, run: FlowRun, customer: Customer, lang: str) -> Recipient | None:
    """The greeting and order name, and the order's products to review."""
    order = purchases.order(run)
    if order is None:
        return None
    shop = purchases.shop
    bought = purchases.order_products(order)
    products = purchases.once(
        ("products", lang, tuple(bought)),
        lambda: render_part(
            REVIEW_REQUEST,
            "products",
            lang,
            products=purchases.cards(bought, lang),
            shop_url=shop_home_url(shop),
        ),
    )
    return Recipient(
        {"intro": intro(REVIEW_REQUEST, shop, customer, order, lang), "products": products}
    )


EMAILS = purchase_emails(REVIEW_REQUEST, ("intro", "products"), parts)


FORM = FlowForm(
    REVIEW_REQUEST,
    steps=1,
    delays=0,
    numbers=(Number("review_delay_days", 1, 90, PostPurchaseTiming.review_delay_days),),
    defaults=POST_PURCHASE_DEFAULTS[REVIEW_REQUEST],
)

DEFINITION = definition(
    FORM,
    35,
    EMAILS,
    start,
    review_request_triggers,
    "flows.preview.no_fulfilled_order",
    orders_preview(fulfilled_clause),
    order_target(fulfilled_clause, "fulfilled"),
)
