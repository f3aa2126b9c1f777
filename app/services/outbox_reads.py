"""Read-only queries behind the Outbox: the shop's emails (a flow's, or a campaign's), filtered
and paged, and one email with its events and its flow run or campaign. Shared by the admin pages
(the JSON API may use them too).

Layer: services (reads only, no Flask request state: the caller passes the session and `Shop`).
Every query filters on `shop_id` first, so another shop's message id finds nothing (a 404); a
message's flow run and campaign are joined on the same shop (outer joins: a message has one or
the other), and a message with neither is not listed.
Pages use a keyset on the message id (newest first, `before`/`after`) and fetch one row more
than they show to know whether there is another page: no OFFSET, no unbounded COUNT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.models import Customer, Shop
from app.models.campaign import Campaign
from app.models.flow import FlowRun, Message, MessageEvent

_Columns = TypeVarTuple("_Columns")

PAGE_SIZE = 50
MAX_RECIPIENT_LENGTH = 200
STATUSES = ("pending", "sending", "sent", "failed", "unknown", "skipped", "suppressed")
CAMPAIGNS = "campaigns"  # the `flow` filter's value for every campaign's emails


@dataclass(frozen=True)
class OutboxFilters:
    flow: str | None = None  # a flow key, or CAMPAIGNS
    status: str | None = None  # one of STATUSES
    recipient: str = ""  # a part of the address

    def as_params(self) -> dict[str, str]:
        params = {"flow": self.flow or "", "status": self.status or "", "to": self.recipient}
        return {k: v for k, v in params.items() if v}


@dataclass(frozen=True)
class OutboxRow:
    message: Message
    flow_key: str | None  # a flow's email; else a campaign's
    campaign_name: str | None
    email: str
    customer_id: int


@dataclass(frozen=True)
class OutboxPage:
    rows: list[OutboxRow]
    newer: int | None  # the `after` of the newer page; None on the newest
    older: int | None  # the `before` of the older page; None on the oldest


@dataclass(frozen=True)
class MessageDetail:
    message: Message
    run: FlowRun | None  # a flow's email has its run, a campaign's its campaign
    campaign: Campaign | None
    customer: Customer
    events: list[MessageEvent]


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _with_source(shop: Shop, query: Select[*_Columns]) -> Select[*_Columns]:
    """`query` over messages joined to their flow run or campaign, both of this shop."""
    return (
        query.outerjoin(FlowRun, (FlowRun.id == Message.flow_run_id) & (FlowRun.shop_id == shop.id))
        .outerjoin(Campaign, (Campaign.id == Message.campaign_id) & (Campaign.shop_id == shop.id))
        .join(Customer, (Customer.id == Message.customer_id) & (Customer.shop_id == shop.id))
        .where(Message.shop_id == shop.id, FlowRun.id.is_not(None) | Campaign.id.is_not(None))
    )


def _filtered(shop: Shop, filters: OutboxFilters) -> Select[Message, str, str, str | None]:
    query = _with_source(shop, select(Message, FlowRun.flow_key, Campaign.name, Customer.email))
    if filters.flow == CAMPAIGNS:
        query = query.where(Campaign.id.is_not(None))
    elif filters.flow:
        query = query.where(FlowRun.flow_key == filters.flow)
    if filters.status:
        query = query.where(Message.status == filters.status)
    recipient = " ".join(filters.recipient.split())
    if recipient:
        query = query.where(Customer.email.ilike(_like_pattern(recipient), escape="\\"))
    return query


def outbox_page(
    session: Session,
    shop: Shop,
    filters: OutboxFilters,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> OutboxPage:
    """One page of the shop's emails, newest first: older than `before`, or newer than `after`,
    or the newest page."""
    query = _filtered(shop, filters)
    if after is not None:
        found = session.execute(
            query.where(Message.id > after).order_by(Message.id.asc()).limit(size + 1)
        ).all()
        more_newer = len(found) > size
        found = list(reversed(found[:size]))
    else:
        if before is not None:
            query = query.where(Message.id < before)
        found = list(session.execute(query.order_by(Message.id.desc()).limit(size + 1)).all())
        more_older = len(found) > size
        found = found[:size]
    rows = [
        OutboxRow(message, flow_key, campaign_name, email or "", message.customer_id)
        for message, flow_key, campaign_name, email in found
    ]
    if not rows:
        return OutboxPage(rows, None, None)
    first, last = rows[0].message.id, rows[-1].message.id
    base = _filtered(shop, filters)
    if after is not None:
        more_older = _exists(session, base.where(Message.id < last))
    else:
        more_newer = before is not None and _exists(session, base.where(Message.id > first))
    return OutboxPage(rows, newer=first if more_newer else None, older=last if more_older else None)


def _exists(session: Session, query: Any) -> bool:
    return session.execute(query.limit(1)).first() is not None


def message_detail(session: Session, shop: Shop, message_id: int) -> MessageDetail | None:
    """One of the shop's emails with its run or campaign, its recipient and its SendGrid events
    in order."""
    found = session.execute(
        _with_source(shop, select(Message, FlowRun, Campaign, Customer)).where(
            Message.id == message_id
        )
    ).one_or_none()
    if found is None:
        return None
    message, run, campaign, customer = found
    events = list(
        session.scalars(
            select(MessageEvent)
            .where(MessageEvent.shop_id == shop.id, MessageEvent.message_id == message.id)
            .order_by(MessageEvent.occurred_at, MessageEvent.id)
        )
    )
    return MessageDetail(message, run, campaign, customer, events)


def run_messages(session: Session, shop: Shop, run: FlowRun) -> list[Message]:
    """The emails of one flow run, in step order."""
    return list(
        session.scalars(
            select(Message)
            .where(Message.shop_id == shop.id, Message.flow_run_id == run.id)
            .order_by(Message.step, Message.id)
        )
    )
