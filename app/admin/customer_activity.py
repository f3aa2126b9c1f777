"""What a customer page shows beyond the profile: messages with their events, flow runs,
suppression, and the same person's orders in the account's other stores.

Layer: web (reads only), template globals for `admin/customer.html`. The messages, flow runs and
suppression are read by `app.services.customer_reads` (shared with the JSON API) for `g.shop`; every
query is scoped to the selected shop, except the other-stores orders, which are scoped to the
signed-in account through the person (`services/people.py`) and shown only on the standalone
sign-in: another account's stores never appear, and neither do a Shopify store's siblings inside its
admin.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import g
from sqlalchemy import select

from app.admin import bp
from app.kizuna import db_session
from app.models import Customer, Order, Shop
from app.models.flow import FlowRun, Suppression
from app.services import customer_reads, people
from app.services.customer_reads import MessageRow


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
    shop = _shop_and(customer)
    return [] if shop is None else customer_reads.customer_messages(db_session(), shop, customer)


@bp.app_template_global("customer_flow_runs")
def customer_flow_runs(customer: Customer) -> list[FlowRun]:
    shop = _shop_and(customer)
    return [] if shop is None else customer_reads.customer_flow_runs(db_session(), shop, customer)


@bp.app_template_global("customer_suppression")
def customer_suppression(customer: Customer) -> Suppression | None:
    shop = _shop_and(customer)
    return (
        None if shop is None else customer_reads.customer_suppression(db_session(), shop, customer)
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
