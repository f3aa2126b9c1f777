"""Read-only queries behind the customer list and customer page, shared by the admin pages and
the JSON API, every one scoped to the shop being viewed.

Layer: services (reads only; nothing here writes or commits, no Flask request state: the caller
passes the session and the `Shop`). Each helper filters on `shop_id` first, so an id from another
shop simply finds nothing (the page answers 404).
The customer list pages with a keyset on (shop_id, id) (`id < after`, newest first; index
`ix_customers_shop_id_id`) and fetches one row more than it shows to know whether there is a next
page: no OFFSET, and no unbounded COUNT (counted on the first page only, and only when it does
not hold the whole result, capped at COUNT_CAP). Search is a substring ILIKE on the generated
`customers.search_text`: on PostgreSQL its pg_trgm GIN index answers it (3+ characters), on
SQLite it is a scan. A search with few matches is read through that index and sorted; one with
many walks the keyset, where matches are dense.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from app.models import Checkout, Customer, CustomerScore, Order, Shop, TimelineEvent
from app.models.campaign import Campaign
from app.models.flow import FlowRun, Message, MessageEvent, Suppression
from app.services.upsert import normalize_email

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
COUNT_CAP = 1000
SEARCH_SORT_CAP = 10_000
TIMELINE_LIMIT = 200
MAX_QUERY_LENGTH = 200  # characters of a customer search
MESSAGES_SHOWN = 50
RUNS_SHOWN = 50


@dataclass(frozen=True)
class CustomerPage:
    customers: list[Customer]
    next_after: int | None  # the `after` of the next page, None on the last page
    count: int | None  # matching customers, capped at COUNT_CAP + 1; None when not counted
    count_capped: bool


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def rfm_filter(
    shop: Shop, *, group: str | None = None, r: int | None = None, fm: int | None = None
) -> ColumnElement[bool]:
    """Customers whose current scores are in RFM `group` and/or the grid cell (`r`, `fm`)."""
    scored = select(CustomerScore.customer_id).where(CustomerScore.shop_id == shop.id)
    if group is not None:
        scored = scored.where(CustomerScore.rfm_group == group)
    if r is not None:
        scored = scored.where(CustomerScore.r == r)
    if fm is not None:
        scored = scored.where(CustomerScore.fm == fm)
    return Customer.id.in_(scored)


def _customer_filter(shop: Shop, q: str, where: ColumnElement[bool] | None = None) -> Select[Any]:
    query = select(Customer).where(Customer.shop_id == shop.id, Customer.deleted_at.is_(None))
    q = " ".join(q.split())  # str.split() also drops the separator (it is whitespace)
    if q:
        query = query.where(Customer.search_text.ilike(_like_pattern(q), escape="\\"))
    if where is not None:
        query = query.where(where)
    return query


def customer_page(
    session: Session,
    shop: Shop,
    *,
    q: str = "",
    after: int | None = None,
    limit: int = PAGE_SIZE,
    where: ColumnElement[bool] | None = None,
) -> CustomerPage:
    """One page of the shop's customers matching `q` (name or email, substring, any case) and
    `where`: an RFM cell or group (`rfm_filter`), a saved segment (`segments.customer_filter`)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    base = _customer_filter(shop, q, where)
    searching = bool(" ".join(q.split()))
    # A search counts its matches first (capped, through the search index: milliseconds). Up to
    # SEARCH_SORT_CAP matches are read through that index and sorted ("id + 0" keeps the planner
    # off the primary key); more are dense enough (1 %+) to meet quickly walking the list newest
    # first, as without a search.
    matches = _capped_count(session, base, SEARCH_SORT_CAP) if searching else None
    newest_first = Customer.id.desc()
    if matches is not None and matches <= SEARCH_SORT_CAP:
        newest_first = (Customer.id + 0).desc()
    query = base
    if after is not None:
        query = query.where(Customer.id < after)
    rows = list(session.scalars(query.order_by(newest_first).limit(limit + 1)))
    has_next = len(rows) > limit
    rows = rows[:limit]
    count: int | None = None
    if after is None and not has_next:
        count = len(rows)  # the whole result is on this page: no second query
    elif after is None:
        count = min(matches, COUNT_CAP + 1) if matches is not None else _capped_count(session, base)
    return CustomerPage(
        customers=rows,
        next_after=rows[-1].id if has_next and rows else None,
        count=count,
        count_capped=count is not None and count > COUNT_CAP,
    )


def _capped_count(session: Session, base: Select[Any], cap: int = COUNT_CAP) -> int:
    """Customers matching `base`, counted up to `cap` + 1."""
    capped = base.with_only_columns(Customer.id).limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(capped)) or 0


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


@dataclass(frozen=True)
class MessageRow:
    message: Message
    flow_key: str | None  # a flow's email; else a campaign's
    campaign_name: str | None
    events: list[MessageEvent]


def customer_messages(session: Session, shop: Shop, customer: Customer) -> list[MessageRow]:
    """The customer's latest emails (a flow's or a campaign's), newest first, each with its
    SendGrid events in order."""
    if customer.shop_id != shop.id:
        return []
    rows = session.execute(
        select(Message, FlowRun.flow_key, Campaign.name)
        .outerjoin(FlowRun, (FlowRun.id == Message.flow_run_id) & (FlowRun.shop_id == shop.id))
        .outerjoin(Campaign, (Campaign.id == Message.campaign_id) & (Campaign.shop_id == shop.id))
        .where(
            Message.shop_id == shop.id,
            Message.customer_id == customer.id,
            FlowRun.id.is_not(None) | Campaign.id.is_not(None),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(MESSAGES_SHOWN)
    ).all()
    ids = [message.id for message, _flow, _campaign in rows]
    events: dict[int, list[MessageEvent]] = defaultdict(list)
    if ids:
        for item in session.scalars(
            select(MessageEvent)
            .where(MessageEvent.shop_id == shop.id, MessageEvent.message_id.in_(ids))
            .order_by(MessageEvent.occurred_at, MessageEvent.id)
        ):
            events[item.message_id or 0].append(item)
    return [
        MessageRow(message, flow_key, campaign_name, events[message.id])
        for message, flow_key, campaign_name in rows
    ]


def customer_flow_runs(session: Session, shop: Shop, customer: Customer) -> list[FlowRun]:
    """The customer's flow runs (running, exited, completed or held out), newest first."""
    if customer.shop_id != shop.id:
        return []
    return list(
        session.scalars(
            select(FlowRun)
            .where(FlowRun.shop_id == shop.id, FlowRun.customer_id == customer.id)
            .order_by(FlowRun.started_at.desc(), FlowRun.id.desc())
            .limit(RUNS_SHOWN)
        )
    )


def customer_suppression(session: Session, shop: Shop, customer: Customer) -> Suppression | None:
    """The shop's suppression of the customer's address (bounce, spam report, unsubscribe)."""
    email = normalize_email(customer.email)
    if customer.shop_id != shop.id or email is None:
        return None
    return session.scalars(
        select(Suppression).where(
            Suppression.shop_id == shop.id, Suppression.email_normalized == email
        )
    ).first()
