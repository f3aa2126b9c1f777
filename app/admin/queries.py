"""Read-only queries behind the admin pages, every one scoped to the shop being viewed.

Layer: web (reads only; nothing here writes or commits). Each helper takes the `Shop` and filters
on `shop_id` first, so an id from another shop simply finds nothing (the page answers 404).
The customer list pages with a keyset on the primary key (`id < after`, newest first) and
fetches one row more than it shows to know whether there is a next page: no OFFSET, and no
unbounded COUNT (counted on the first page only, and only when it does not hold the whole result,
capped at COUNT_CAP). Search is a substring ILIKE: a sequential scan of the shop's customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select
from sqlalchemy.orm import Session, selectinload

from app.models import Checkout, Customer, Order, Shop, TimelineEvent

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
COUNT_CAP = 1000
TIMELINE_LIMIT = 200
_FIELD_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class CustomerPage:
    customers: list[Customer]
    next_after: int | None  # the `after` of the next page, None on the last page
    count: int | None  # matching customers, capped at COUNT_CAP + 1; None when not counted
    count_capped: bool


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_text() -> ColumnElement[str]:
    """Every form a merchant may type, in one string: one ILIKE per row instead of six.

    "Taro Yamada", the Japanese order "山田 太郎" / "山田太郎", and the email, separated by a
    control character that a (whitespace-normalised) search never contains.
    """
    first = func.coalesce(Customer.first_name, "")
    last = func.coalesce(Customer.last_name, "")
    sep = literal(_FIELD_SEPARATOR)
    return (
        first + " " + last + sep + last + " " + first + sep + last + first + sep
        + func.coalesce(Customer.email, "")
    )  # fmt: skip


def _customer_filter(shop: Shop, q: str) -> Select[Any]:
    query = select(Customer).where(Customer.shop_id == shop.id, Customer.deleted_at.is_(None))
    q = " ".join(q.split())  # str.split() also drops the separator (it is whitespace)
    if q:
        query = query.where(_search_text().ilike(_like_pattern(q), escape="\\"))
    return query


def customer_page(
    session: Session, shop: Shop, *, q: str = "", after: int | None = None, limit: int = PAGE_SIZE
) -> CustomerPage:
    """One page of the shop's customers matching `q` (name or email, substring, any case)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    base = _customer_filter(shop, q)
    query = base
    if after is not None:
        query = query.where(Customer.id < after)
    rows = list(session.scalars(query.order_by(Customer.id.desc()).limit(limit + 1)))
    has_next = len(rows) > limit
    rows = rows[:limit]
    count: int | None = None
    if after is None and not has_next:
        count = len(rows)  # the whole result is on this page: no second query
    elif after is None:
        capped = base.with_only_columns(Customer.id).limit(COUNT_CAP + 1).subquery()
        count = session.scalar(select(func.count()).select_from(capped)) or 0
    return CustomerPage(
        customers=rows,
        next_after=rows[-1].id if has_next and rows else None,
        count=count,
        count_capped=count is not None and count > COUNT_CAP,
    )


def get_customer(session: Session, shop: Shop, customer_id: int) -> Customer | None:
    return session.scalar(
        select(Customer).where(Customer.shop_id == shop.id, Customer.id == customer_id)
    )


def customer_orders(session: Session, shop: Shop, customer: Customer) -> list[Order]:
    """Every order of the customer with its lines, newest first."""
    placed_at = func.coalesce(Order.processed_at, Order.platform_created_at, Order.created_at)
    return list(
        session.scalars(
            select(Order)
            .where(Order.shop_id == shop.id, Order.customer_id == customer.id)
            .options(selectinload(Order.lines))
            .order_by(placed_at.desc(), Order.id.desc())
        )
    )


def open_checkouts(session: Session, shop: Shop, customer: Customer) -> list[Checkout]:
    placed_at = func.coalesce(Checkout.platform_created_at, Checkout.created_at)
    return list(
        session.scalars(
            select(Checkout)
            .where(
                Checkout.shop_id == shop.id,
                Checkout.customer_id == customer.id,
                Checkout.completed_at.is_(None),
            )
            .order_by(placed_at.desc(), Checkout.id.desc())
        )
    )


def timeline(
    session: Session, shop: Shop, customer: Customer, limit: int = TIMELINE_LIMIT
) -> list[TimelineEvent]:
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.shop_id == shop.id, TimelineEvent.customer_id == customer.id)
            .order_by(TimelineEvent.occurred_at.desc(), TimelineEvent.id.desc())
            .limit(limit)
        )
    )
