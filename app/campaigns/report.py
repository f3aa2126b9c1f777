"""A campaign's report: who it reached and how they engaged (from `messages` and SendGrid's
events), the orders attributed to it, and the holdout's lift with its interval.

Layer: campaigns (reads only). A handful of aggregates per report, whatever the audience. Orders
are credited by the shop's attribution settings (`services/attribution.py`, the same as flows),
to the campaign's messages only. Lift is intention to treat: everyone the send decided to email
against everyone it held out (both decided by the same rules), converting when they placed an
order within the attribution window after the send started (`domain/campaigns.lift`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.campaigns import lift
from app.models import Order, Shop
from app.models.campaign import Campaign, CampaignRecipient
from app.models.flow import Message, MessageEvent
from app.models.order import order_time
from app.services.attribution import attributed_orders, settings_of

UNSUBSCRIBE_EVENTS = ("unsubscribe", "group_unsubscribe", "spamreport")
BOUNCE_EVENTS = ("bounce", "dropped")


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: int
    status: str
    recipients: int = 0  # the snapshot
    queued: int = 0
    emailed: int = 0  # messages created
    sent: int = 0  # accepted by SendGrid
    unknown: int = 0  # handed over, answer lost (never resent)
    failed: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    cancelled: int = 0
    holdout: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)
    currency: str = "USD"
    treated_conversions: int = 0
    holdout_conversions: int = 0
    conversion: float | None = None
    holdout_conversion: float | None = None
    lift: float | None = None
    lift_low: float | None = None
    lift_high: float | None = None

    def rate(self, count: int) -> float | None:
        """A share of the emails SendGrid accepted."""
        return count / self.sent if self.sent else None


def _engagement(session: Session, shop_id: int, campaign_id: int) -> dict[str, int]:
    flags = (
        select(
            MessageEvent.message_id.label("message_id"),
            func.max(case((MessageEvent.event == "delivered", 1), else_=0)).label("delivered"),
            func.max(case((MessageEvent.event == "open", 1), else_=0)).label("opened"),
            func.max(case((MessageEvent.event == "click", 1), else_=0)).label("clicked"),
            func.max(case((MessageEvent.event.in_(UNSUBSCRIBE_EVENTS), 1), else_=0)).label(
                "unsubscribed"
            ),
            func.max(case((MessageEvent.event.in_(BOUNCE_EVENTS), 1), else_=0)).label("bounced"),
        )
        .join(Message, Message.id == MessageEvent.message_id)
        .where(
            MessageEvent.shop_id == shop_id,
            Message.shop_id == shop_id,
            Message.campaign_id == campaign_id,
        )
        .group_by(MessageEvent.message_id)
        .subquery()
    )

    def counted(stamp: Any, flag: Any) -> Any:
        condition = func.coalesce(flag, 0) == 1
        if stamp is not None:
            condition = stamp.is_not(None) | condition
        return func.count(case((condition, 1)))

    row = session.execute(
        select(
            func.count(),
            func.count(case((Message.status == "sent", 1))),
            func.count(case((Message.status == "unknown", 1))),
            func.count(case((Message.status == "failed", 1))),
            counted(Message.delivered_at, flags.c.delivered),
            counted(Message.opened_at, flags.c.opened),
            counted(Message.clicked_at, flags.c.clicked),
            counted(None, flags.c.unsubscribed),
            counted(None, flags.c.bounced),
        )
        .select_from(Message)
        .outerjoin(flags, flags.c.message_id == Message.id)
        .where(Message.shop_id == shop_id, Message.campaign_id == campaign_id)
    ).one()
    names = ("emailed", "sent", "unknown", "failed", "delivered", "opened", "clicked")
    return dict(zip((*names, "unsubscribed", "bounced"), (int(v or 0) for v in row), strict=True))


def _conversions(
    session: Session, shop_id: int, campaign_id: int, since: datetime, until: datetime
) -> dict[str, int]:
    """Treated (emailed, not failed) and held-out recipients who placed an order in
    [since, until), each counted once."""
    when = order_time()
    treated = and_(
        CampaignRecipient.status == "emailed",
        Message.status.in_(("sending", "sent", "unknown")),
    )
    group = case((treated, "treated"), (CampaignRecipient.status == "holdout", "holdout"))
    ordered = (
        select(Order.customer_id)
        .where(
            Order.shop_id == shop_id,
            Order.customer_id == CampaignRecipient.customer_id,
            Order.cancelled_at.is_(None),
            when >= since,
            when < until,
        )
        .exists()
    )
    rows = session.execute(
        select(group, func.count(), func.count(case((ordered, 1))))
        .select_from(CampaignRecipient)
        .outerjoin(Message, Message.id == CampaignRecipient.message_id)
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.shop_id == shop_id,
            CampaignRecipient.status.in_(("emailed", "holdout")),
        )
        .group_by(group)
    ).all()
    found = {"treated": 0, "treated_conversions": 0, "holdout": 0, "holdout_conversions": 0}
    for name, total, converted in rows:
        if name in ("treated", "holdout"):
            found[name] = int(total)
            found[f"{name}_conversions"] = int(converted)
    return found


def campaign_report(
    session: Session, shop: Shop, campaign_id: int, *, now: datetime | None = None
) -> CampaignReport | None:
    """The report of one of the shop's campaigns (None: no such campaign)."""
    campaign = session.scalars(
        select(Campaign).where(Campaign.shop_id == shop.id, Campaign.id == campaign_id)
    ).one_or_none()
    if campaign is None:
        return None
    now = now or utcnow()
    statuses: dict[str, int] = {}
    skipped: dict[str, int] = {}
    for status, reason, number in session.execute(
        select(CampaignRecipient.status, CampaignRecipient.skip_reason, func.count())
        .where(CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.shop_id == shop.id)
        .group_by(CampaignRecipient.status, CampaignRecipient.skip_reason)
    ):
        statuses[status] = statuses.get(status, 0) + int(number)
        if status == "skipped":
            skipped[reason or "skipped"] = skipped.get(reason or "skipped", 0) + int(number)
    engagement = _engagement(session, shop.id, campaign.id)
    orders, revenue = 0, Decimal(0)
    conversions = {"treated": 0, "treated_conversions": 0, "holdout": 0, "holdout_conversions": 0}
    if campaign.started_at is not None:
        settings = settings_of(shop)
        until = min(now, campaign.started_at + settings.window)
        every = attributed_orders(session, shop.id, campaign.started_at, now, settings)
        ours = _campaign_messages(session, shop.id, campaign.id, {o.message_id for o in every})
        credited = [order for order in every if order.message_id in ours]
        orders, revenue = len(credited), sum((o.revenue for o in credited), Decimal(0))
        conversions = _conversions(session, shop.id, campaign.id, campaign.started_at, until)
    measured = lift(
        conversions["treated_conversions"],
        conversions["treated"],
        conversions["holdout_conversions"],
        conversions["holdout"],
    )
    return CampaignReport(
        campaign_id=campaign.id,
        status=campaign.status,
        recipients=sum(statuses.values()),
        queued=statuses.get("queued", 0),
        skipped=dict(sorted(skipped.items())),
        cancelled=statuses.get("cancelled", 0),
        holdout=statuses.get("holdout", 0),
        orders=orders,
        revenue=revenue,
        currency=shop.currency,
        treated_conversions=conversions["treated_conversions"],
        holdout_conversions=conversions["holdout_conversions"],
        conversion=measured.treated_rate if measured else None,
        holdout_conversion=measured.holdout_rate if measured else None,
        lift=measured.difference if measured else None,
        lift_low=measured.low if measured else None,
        lift_high=measured.high if measured else None,
        **engagement,
    )


def _campaign_messages(
    session: Session, shop_id: int, campaign_id: int, message_ids: set[int]
) -> set[int]:
    """Which of `message_ids` are this campaign's."""
    found: set[int] = set()
    ordered = sorted(message_ids)
    for start in range(0, len(ordered), 1000):
        found.update(
            session.scalars(
                select(Message.id).where(
                    Message.shop_id == shop_id,
                    Message.campaign_id == campaign_id,
                    Message.id.in_(ordered[start : start + 1000]),
                )
            )
        )
    return found
