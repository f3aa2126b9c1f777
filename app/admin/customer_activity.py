"""What a customer page shows beyond the profile: messages and events, runs, suppression,
the same person's orders in the account's other stores.

Layer: web (reads only). Scoped to the shop, except other-stores orders: scoped to the signed-in
account, shown only on a standalone sign-in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import g
from sqlalchemy import select

from app.admin import bp
from app.kizuna import db_session
from app.models import Customer, Order, Shop
from app.models.flow import FlowRun, Message, MessageEvent, Suppression
from app.services import people
from app.services.upsert import normalize_email

MESSAGES_SHOWN = 50
RUNS_SHOWN = 50


@dataclass(frozen=True)
class MessageRow:
    message: Message
    flow_key: str
    events: list[MessageEvent]


@dataclass(frozen=True)
class StoreOrders:
    shop: Shop
    orders: list[Order]


def _shop_and(customer: Customer) -> Shop | None:
    shop = getattr(g, "shop", None)
    if shop is None or customer.shop_id != shop.id:
        return None
    return shop  # type: ignore[no-any-return]


@bp.app_template_global("customer_messages")
def customer_messages(customer: Customer) -> list[MessageRow]:
    """The customer's latest messages, newest first, each with its SendGrid events in order."""
    shop = _shop_and(customer)
    if shop is None:
        return []
    session = db_session()
    rows = session.execute(
        select(Message, FlowRun.flow_key)
        .join(FlowRun, FlowRun.id == Message.flow_run_id)
        .where(Message.shop_id == shop.id, Message.customer_id == customer.id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(MESSAGES_SHOWN)
    ).all()
    ids = [message.id for message, _flow in rows]
    events: dict[int, list[MessageEvent]] = defaultdict(list)
    if ids:
        for item in session.scalars(
            select(MessageEvent)
            .where(MessageEvent.shop_id == shop.id, MessageEvent.message_id.in_(ids))
            .order_by(MessageEvent.occurred_at, MessageEvent.id)
        ):
            events[item.message_id or 0].append(item)
    return [MessageRow(message, flow_key, events[message.id]) for message, flow_key in rows]


@bp.app_template_global("customer_flow_runs")
def customer_flow_runs(customer: Customer) -> list[FlowRun]:
    """The customer's flow runs (running, exited, completed or held out), newest first."""
    shop = _shop_and(customer)
    if shop is None:
        return []
    return list(
        db_session().scalars(
            select(FlowRun)
            .where(FlowRun.shop_id == shop.id, FlowRun.customer_id == customer.id)
            .order_by(FlowRun.started_at.desc(), FlowRun.id.desc())
            .limit(RUNS_SHOWN)
        )
    )


@bp.app_template_global("customer_suppression")
def customer_suppression(customer: Customer) -> Suppression | None:
    """The shop's suppression of the customer's address (bounce, spam report, unsubscribe)."""
    shop = _shop_and(customer)
    email = normalize_email(customer.email)
    if shop is None or email is None:
        return None
    return (
        db_session()
        .scalars(
            select(Suppression).where(
                Suppression.shop_id == shop.id, Suppression.email_normalized == email
            )
        )
        .first()
    )


@bp.app_template_global("other_store_orders")
def other_store_orders(customer: Customer) -> list[StoreOrders]:
    """The same person's orders in the signed-in account's other stores, grouped per store.

    Only for the account's own sign-in: inside the Shopify admin, or after a Shopify code grant,
    the session belongs to one store's staff, who may not be allowed to see the other stores.
    """
    shop = _shop_and(customer)
    account_id = getattr(g, "account_id", None)
    if shop is None or not g.get("account_wide") or shop.account_id != account_id:
        return []
    session = db_session()
    person = people.person_of(session, shop.id, customer.id)
    if person is None:
        return []
    by_shop: dict[int, list[Order]] = defaultdict(list)
    for order in people.person_orders(session, account_id, person.id):
        if order.shop_id != shop.id:
            by_shop[order.shop_id].append(order)
    if not by_shop:
        return []
    shops = session.scalars(
        select(Shop).where(Shop.account_id == account_id, Shop.id.in_(by_shop)).order_by(Shop.id)
    )
    return [StoreOrders(other, list(reversed(by_shop[other.id]))) for other in shops]


def message_tone(status: str) -> str:
    return {"sent": "success", "failed": "critical", "unknown": "warning"}.get(status, "")


bp.add_app_template_global(message_tone, "message_tone")
