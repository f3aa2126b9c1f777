"""Who a campaign reaches: its audience (saved segments ∪ RFM groups, deduplicated), the live
count after the shared rules, and the snapshot taken when its send starts.

Layer: campaigns (reads; `snapshot` writes in the caller's transaction). Everything is one SQL
statement over the audience, never a Python loop over its customers. The count's reasons
follow `app/flows/rules.py` in its order (no consent, suppressed, open complaint, smart
sending, frequency cap), then the holdout; the send decides each recipient with
`rules.decide` itself, and tests/integration/test_campaign_audience.py holds the two together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session

from app.domain.campaigns import HASH_CAMPAIGN, HASH_CUSTOMER, HASH_MODULUS, MAX_HOLDOUT_PERCENT
from app.domain.orchestration import Cap
from app.domain.rfm import GROUP_KEYS
from app.flows.reads import flow_config
from app.models import Customer, SavedSegment, Shop
from app.models.campaign import Campaign, CampaignRecipient
from app.models.flow import Message, Suppression
from app.models.inquiry import Inquiry
from app.models.scores import CustomerScore
from app.services.segments import customer_filter, live_customers

# The flow-settings key whose caps apply to campaigns (defaults: `FlowConfig`'s).
CAMPAIGN_SETTINGS_KEY = "campaign"
MAX_SEGMENTS = 20
MAX_SMART_SENDING_HOURS = 168  # the recent sends the rules read reach back a week
SENT_STATUSES = ("sending", "sent", "unknown")


class AudienceError(ValueError):
    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class AudienceCount:
    """The audience, then who each rule leaves out, in the rules' order, and who remains."""

    total: int = 0
    no_consent: int = 0
    suppressed: int = 0
    complaint_open: int = 0
    smart_sending: int = 0
    frequency_cap: int = 0
    holdout: int = 0
    will_receive: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def validate_audience(session: Session, shop: Shop, raw: Any) -> dict[str, list[Any]]:
    """{"segments": [saved segment ids of this shop], "rfm_groups": [group keys]} — at least one;
    unknown ids and keys are refused."""
    if not isinstance(raw, Mapping):
        raise AudienceError(lazy_gettext("Choose who receives the campaign."))
    segments, groups = raw.get("segments") or [], raw.get("rfm_groups") or []
    if not isinstance(segments, list) or not isinstance(groups, list):
        raise AudienceError(lazy_gettext("Choose who receives the campaign."))
    if len(segments) > MAX_SEGMENTS:
        raise AudienceError(lazy_gettext("Choose at most %(count)s segments.", count=MAX_SEGMENTS))
    ids: list[int] = []
    for value in segments:
        text = str(value)
        if isinstance(value, bool) or not text.isascii() or not text.isdigit() or len(text) > 12:
            raise AudienceError(lazy_gettext("A chosen segment does not exist."))
        if int(text) not in ids:
            ids.append(int(text))
    if ids:
        found = set(
            session.scalars(
                select(SavedSegment.id).where(
                    SavedSegment.shop_id == shop.id, SavedSegment.id.in_(ids)
                )
            )
        )
        if found != set(ids):
            raise AudienceError(lazy_gettext("A chosen segment does not exist."))
    keys: list[str] = []
    for value in groups:
        if not isinstance(value, str) or value not in GROUP_KEYS:
            raise AudienceError(lazy_gettext("A chosen RFM group does not exist."))
        if value not in keys:
            keys.append(value)
    if not ids and not keys:
        raise AudienceError(lazy_gettext("Choose at least one segment or RFM group."))
    return {"segments": ids, "rfm_groups": keys}


def validate_options(smart_sending_hours: Any, holdout_percent: Any) -> tuple[int | None, int]:
    """(smart sending hours or None, holdout percent) or `AudienceError`."""
    hours: int | None = None
    if smart_sending_hours not in (None, "", 0, "0"):
        text = str(smart_sending_hours).strip()
        if isinstance(smart_sending_hours, bool) or not text.isdigit() or len(text) > 4:
            raise AudienceError(lazy_gettext("Smart sending takes a number of hours."))
        hours = int(text)
        if not 1 <= hours <= MAX_SMART_SENDING_HOURS:
            raise AudienceError(
                lazy_gettext(
                    "Smart sending takes 1 to %(hours)s hours.", hours=MAX_SMART_SENDING_HOURS
                )
            )
    text = str(holdout_percent if holdout_percent is not None else 0).strip()
    if isinstance(holdout_percent, bool) or not text.isdigit() or len(text) > 3:
        raise AudienceError(lazy_gettext("The holdout is a whole percentage."))
    percent = int(text)
    if percent > MAX_HOLDOUT_PERCENT:
        raise AudienceError(
            lazy_gettext("The holdout is at most %(percent)s%%.", percent=MAX_HOLDOUT_PERCENT)
        )
    return hours, percent


def audience_clause(
    session: Session, shop: Shop, audience: Mapping[str, Any], now: datetime
) -> ColumnElement[bool]:
    """The WHERE over `Customer` selecting the shop's live customers in any chosen saved
    segment or RFM group (a customer in several is one row). A segment deleted since is
    skipped."""
    parts: list[ColumnElement[bool]] = []
    ids = [int(value) for value in audience.get("segments") or []]
    if ids:
        for segment in session.scalars(
            select(SavedSegment)
            .where(SavedSegment.shop_id == shop.id, SavedSegment.id.in_(ids))
            .order_by(SavedSegment.id)
        ):
            parts.append(customer_filter(shop.id, segment.rule, timezone=shop.timezone, now=now))
    groups = [key for key in audience.get("rfm_groups") or [] if key in GROUP_KEYS]
    if groups:
        parts.append(
            exists(
                select(CustomerScore.customer_id).where(
                    CustomerScore.shop_id == shop.id,
                    CustomerScore.customer_id == Customer.id,
                    CustomerScore.rfm_group.in_(groups),
                )
            )
        )
    if not parts:
        return false()
    return and_(live_customers(shop.id), or_(*parts))


def holdout_bucket_sql(campaign_id: int, customer_id: Any) -> ColumnElement[int]:
    """`app.domain.campaigns.holdout_bucket` in SQL (integer arithmetic, PostgreSQL and SQLite)."""
    mixed = (customer_id % HASH_MODULUS) * literal(HASH_CUSTOMER) + literal(
        campaign_id * HASH_CAMPAIGN
    )
    result: ColumnElement[int] = (mixed % HASH_MODULUS) % 100
    return result


def campaign_caps(session: Session, shop_id: int) -> tuple[Cap, ...]:
    """The frequency caps a campaign email counts against: the shop's campaign settings, else
    the flows' defaults."""
    return flow_config(session, shop_id, CAMPAIGN_SETTINGS_KEY)[1].caps


def _reasons(
    session: Session,
    shop: Shop,
    audience: Mapping[str, Any],
    now: datetime,
    smart_sending_hours: int | None,
) -> tuple[Any, ColumnElement[str | None]]:
    """(FROM customers LEFT JOIN their recent sends, the first rule each customer meets)."""
    caps = [cap for cap in campaign_caps(session, shop.id) if cap.limit > 0]
    windows = [cap.window for cap in caps]
    if smart_sending_hours:
        windows.append(timedelta(hours=smart_sending_hours))
    reach = max(windows, default=timedelta(0))
    recent = (
        select(
            Message.customer_id.label("customer_id"),
            func.max(Message.sent_at).label("last_sent"),
            *[
                func.sum(case((Message.sent_at > now - cap.window, 1), else_=0)).label(f"cap{i}")
                for i, cap in enumerate(caps)
            ],
        )
        .where(
            Message.shop_id == shop.id,
            Message.status.in_(SENT_STATUSES),
            Message.sent_at.is_not(None),
            Message.sent_at > now - reach,
            Message.sent_at <= now,
        )
        .group_by(Message.customer_id)
        .subquery()
    )
    suppressed = exists(
        select(Suppression.id).where(
            Suppression.shop_id == shop.id,
            Suppression.email_normalized == func.lower(func.trim(Customer.email)),
        )
    )
    complaint = exists(
        select(Inquiry.id).where(
            Inquiry.shop_id == shop.id,
            Inquiry.customer_id == Customer.id,
            Inquiry.kind == "complaint",
            Inquiry.status == "open",
        )
    )
    whens: list[tuple[ColumnElement[bool], str]] = [
        (
            func.upper(func.coalesce(Customer.email_marketing_state, "")) != "SUBSCRIBED",
            "no_consent",
        ),
        (or_(Customer.email.is_(None), func.trim(Customer.email) == "", suppressed), "suppressed"),
        (complaint, "complaint_open"),
    ]
    if smart_sending_hours:
        whens.append(
            (recent.c.last_sent > now - timedelta(hours=smart_sending_hours), "smart_sending")
        )
    if caps:
        whens.append(
            (
                or_(
                    *[
                        func.coalesce(recent.c[f"cap{i}"], 0) >= cap.limit
                        for i, cap in enumerate(caps)
                    ]
                ),
                "frequency_cap",
            )
        )
    reason = case(*whens, else_=None)
    source = select(Customer.id).outerjoin(recent, recent.c.customer_id == Customer.id)
    return source, reason


def count(
    session: Session,
    shop: Shop,
    campaign_or_audience: Campaign | Mapping[str, Any],
    now: datetime,
    *,
    smart_sending_hours: int | None = None,
    holdout_percent: int = 0,
) -> AudienceCount:
    """The live count: the audience, who the rules leave out (each counted under the first rule
    that stops them), the holdout share of the rest, and who will receive it. A campaign brings
    its own smart sending and holdout; a bare audience (the editor before saving) takes them as
    arguments."""
    campaign_id = 0
    if isinstance(campaign_or_audience, Campaign):
        campaign = campaign_or_audience
        audience: Mapping[str, Any] = campaign.audience or {}
        smart_sending_hours, holdout_percent = (
            campaign.smart_sending_hours,
            campaign.holdout_percent,
        )
        campaign_id = campaign.id or 0
    else:
        audience = campaign_or_audience
    where = audience_clause(session, shop, audience, now)
    source, reason = _reasons(session, shop, audience, now, smart_sending_hours)
    held = holdout_bucket_sql(campaign_id, Customer.id) < holdout_percent
    labelled = source.add_columns(
        reason.label("reason"), case((held, 1), else_=0).label("held")
    ).where(where)
    rows = labelled.subquery()
    totals: dict[str, int] = {}
    holdout = 0
    for why, held_out, number in session.execute(
        select(rows.c.reason, rows.c.held, func.count()).group_by(rows.c.reason, rows.c.held)
    ):
        key = why or "eligible"
        totals[key] = totals.get(key, 0) + int(number)
        if why is None and held_out:
            holdout += int(number)
    total = sum(totals.values())
    eligible = totals.get("eligible", 0)
    return AudienceCount(
        total=total,
        no_consent=totals.get("no_consent", 0),
        suppressed=totals.get("suppressed", 0),
        complaint_open=totals.get("complaint_open", 0),
        smart_sending=totals.get("smart_sending", 0),
        frequency_cap=totals.get("frequency_cap", 0),
        holdout=holdout,
        will_receive=eligible - holdout,
    )


def snapshot(session: Session, shop: Shop, campaign: Campaign, now: datetime) -> int:
    """Write the campaign's recipients (`queued`, the holdout flag by `holdout_bucket`) in one
    INSERT … SELECT; → how many. Called once, in the transaction that starts the send."""
    where = audience_clause(session, shop, campaign.audience or {}, now)
    held = holdout_bucket_sql(campaign.id, Customer.id) < campaign.holdout_percent
    rows = select(
        literal(campaign.id),
        Customer.id,
        literal(shop.id),
        case((held, True), else_=False),
        literal("queued"),
    ).where(where)
    result = session.execute(
        insert(CampaignRecipient).from_select(
            ["campaign_id", "customer_id", "shop_id", "holdout", "status"], rows
        )
    )
    taken = int(getattr(result, "rowcount", -1))
    if taken < 0:  # a driver that does not count an INSERT … SELECT
        taken = int(
            session.scalar(select(func.count()).where(CampaignRecipient.campaign_id == campaign.id))
            or 0
        )
    return taken
