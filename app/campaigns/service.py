"""What a merchant does with a campaign: create, edit, schedule or send now, pause, resume,
cancel, send a test — each one transaction, committed here; and a sent email rendered again for
the Outbox (a read: nothing stored, no code created).

Layer: campaigns (called by the admin, the API and jobs). Every read is scoped to the shop. A
campaign is edited only as a draft or while scheduled; starting its send snapshots the audience
(`sending.start`), and the send job is enqueued after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from app.campaigns import sending
from app.campaigns.audience import AudienceError, validate_audience, validate_options
from app.campaigns.content import (
    SAMPLE_COUPON_CODE,
    TEST_SUBJECT_PREFIX,
    ContentError,
    email_language,
    empty_content,
    ready_problem,
    render_email,
    validate_content,
)
from app.config import Config
from app.db import utcnow
from app.domain.orchestration import shop_zone
from app.flows.content import language
from app.flows.send import sendgrid_client
from app.models import Customer, Shop
from app.models.campaign import MAX_NAME, Campaign, CampaignRecipient
from app.models.flow import Message
from app.services.sender_identity import identity_of
from connectors.base import ConnectorError
from connectors.email_address import is_email_address
from connectors.sendgrid.mail import OutgoingEmail, build_mail_body, refusal

log = logging.getLogger(__name__)

EDITABLE = ("draft", "scheduled")
FIELDS = ("name", "audience", "content", "smart_sending_hours", "holdout_percent")


class CampaignError(ValueError):
    """The action cannot be done: `message` says why, in the reader's language."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


class StateError(CampaignError):
    """The campaign's status does not allow this action (sent, sending, paused, …)."""


class NotFound(CampaignError):
    def __init__(self) -> None:
        super().__init__(lazy_gettext("No such campaign."))


def get(session: Session, shop: Shop, campaign_id: int) -> Campaign | None:
    return session.scalars(
        select(Campaign).where(Campaign.shop_id == shop.id, Campaign.id == campaign_id)
    ).one_or_none()


def _get(session: Session, shop: Shop, campaign_id: int, *, lock: bool = False) -> Campaign:
    query = select(Campaign).where(Campaign.shop_id == shop.id, Campaign.id == campaign_id)
    if lock:
        query = query.with_for_update()
    campaign = session.scalars(query).one_or_none()
    if campaign is None:
        raise NotFound()
    return campaign


def list_campaigns(session: Session, shop: Shop, *, limit: int = 200) -> list[Campaign]:
    """The shop's campaigns, newest first."""
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.shop_id == shop.id)
            .order_by(Campaign.created_at.desc(), Campaign.id.desc())
            .limit(limit)
        )
    )


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CampaignError(lazy_gettext("Give the campaign a name."))
    name = " ".join(value.split())
    if len(name) > MAX_NAME:
        raise CampaignError(
            lazy_gettext("The name is longer than %(limit)s characters.", limit=MAX_NAME)
        )
    return name


def _checked(session: Session, shop: Shop, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields given, validated (unknown fields refused)."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise CampaignError(lazy_gettext("Unknown field: %(name)s", name=sorted(unknown)[0]))
    values: dict[str, Any] = {}
    try:
        if "name" in fields:
            values["name"] = _name(fields["name"])
        if "audience" in fields:
            values["audience"] = validate_audience(session, shop, fields["audience"])
        if "content" in fields:
            values["content"] = validate_content(fields["content"])
        if "smart_sending_hours" in fields or "holdout_percent" in fields:
            hours, percent = validate_options(
                fields.get("smart_sending_hours"), fields.get("holdout_percent", 0)
            )
            if "smart_sending_hours" in fields:
                values["smart_sending_hours"] = hours
            if "holdout_percent" in fields:
                values["holdout_percent"] = percent
    except (AudienceError, ContentError) as error:
        raise CampaignError(error.message) from error
    return values


def create(
    session: Session,
    shop: Shop,
    *,
    name: Any,
    audience: Any = None,
    content: Any = None,
    smart_sending_hours: Any = None,
    holdout_percent: Any = 0,
) -> Campaign:
    """A draft. The audience may be left empty until it is scheduled."""
    fields: dict[str, Any] = {
        "name": name,
        "smart_sending_hours": smart_sending_hours,
        "holdout_percent": holdout_percent,
        "content": content if content is not None else empty_content(),
    }
    if audience not in (None, {}, {"segments": [], "rfm_groups": []}):
        fields["audience"] = audience
    values = _checked(session, shop, fields)
    campaign = Campaign(
        shop_id=shop.id,
        status="draft",
        audience=values.pop("audience", {"segments": [], "rfm_groups": []}),
        **values,
    )
    session.add(campaign)
    session.commit()
    log.info("campaign created shop=%s campaign=%s", shop.id, campaign.id)
    return campaign


def update_campaign(session: Session, shop: Shop, campaign_id: int, **fields: Any) -> Campaign:
    """Change a draft or scheduled campaign (a scheduled one keeps its time)."""
    campaign = _get(session, shop, campaign_id, lock=True)
    if campaign.status not in EDITABLE:
        raise StateError(lazy_gettext("A campaign that has started sending cannot be edited."))
    cleared = fields.get("audience") in ({}, {"segments": [], "rfm_groups": []})
    if "audience" in fields and cleared and campaign.status == "draft":
        fields = {key: value for key, value in fields.items() if key != "audience"}
        campaign.audience = {"segments": [], "rfm_groups": []}
    for key, value in _checked(session, shop, fields).items():
        setattr(campaign, key, value)
    campaign.updated_at = utcnow()
    session.commit()
    return campaign


update = update_campaign


def to_utc(shop: Shop, send_at: datetime) -> datetime:
    """A time the merchant gave: naive means the shop's wall clock."""
    if send_at.tzinfo is None:
        return send_at.replace(tzinfo=shop_zone(shop.timezone)).astimezone(shop_zone("UTC"))
    return send_at.astimezone(shop_zone("UTC"))


def _ready(campaign: Campaign) -> None:
    audience = campaign.audience or {}
    if not audience.get("segments") and not audience.get("rfm_groups"):
        raise CampaignError(lazy_gettext("Choose at least one segment or RFM group."))
    problem = ready_problem(campaign.content or {})
    if problem is not None:
        raise CampaignError(problem)


def schedule(
    session: Session,
    shop: Shop,
    campaign_id: int,
    send_at: datetime | None,
    *,
    now: datetime | None = None,
) -> Campaign:
    """Send at `send_at` (naive: the shop's local time; aware: as given), or now (None, or a
    time not in the future): the send starts, its job enqueued after the commit."""
    now = now or utcnow()
    campaign = _get(session, shop, campaign_id, lock=True)
    if campaign.status not in EDITABLE:
        raise StateError(lazy_gettext("This campaign has already started sending."))
    _ready(campaign)
    when = to_utc(shop, send_at) if send_at is not None else None
    if when is not None and when > now:
        campaign.status, campaign.scheduled_at = "scheduled", when
        campaign.updated_at = now
        session.commit()
        log.info("campaign scheduled shop=%s campaign=%s", shop.id, campaign.id)
        return campaign
    campaign.scheduled_at = now
    sending.start(session, shop, campaign, now)
    session.commit()
    return campaign


def unschedule(session: Session, shop: Shop, campaign_id: int) -> Campaign:
    """A scheduled campaign back to a draft."""
    campaign = _get(session, shop, campaign_id, lock=True)
    if campaign.status != "scheduled":
        raise StateError(lazy_gettext("Only a scheduled campaign can be unscheduled."))
    campaign.status, campaign.scheduled_at = "draft", None
    session.commit()
    return campaign


def pause(session: Session, shop: Shop, campaign_id: int) -> Campaign:
    """Stop between batches; who has not been emailed yet stays queued."""
    campaign = _get(session, shop, campaign_id, lock=True)
    if campaign.status != "sending":
        raise StateError(lazy_gettext("Only a campaign that is sending can be paused."))
    campaign.status = "paused"
    session.commit()
    log.info("campaign paused shop=%s campaign=%s", shop.id, campaign.id)
    return campaign


def resume(session: Session, shop: Shop, campaign_id: int) -> Campaign:
    """Go on from where it stopped (each recipient still emailed at most once)."""
    campaign = _get(session, shop, campaign_id, lock=True)
    if campaign.status != "paused":
        raise StateError(lazy_gettext("Only a paused campaign can be resumed."))
    campaign.status = "sending"
    sending.enqueue_send(session, campaign)
    session.commit()
    log.info("campaign resumed shop=%s campaign=%s", shop.id, campaign.id)
    return campaign


def cancel(session: Session, shop: Shop, campaign_id: int) -> Campaign:
    """Stop for good: a scheduled campaign never starts; a sending or paused one emails no one
    else (those not yet emailed are `cancelled`)."""
    campaign = _get(session, shop, campaign_id, lock=True)
    if campaign.status not in ("draft", "scheduled", "sending", "paused"):
        raise StateError(lazy_gettext("This campaign can no longer be cancelled."))
    now = utcnow()
    campaign.status, campaign.finished_at = "cancelled", now
    session.execute(
        sql_update(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.status == "queued",
        )
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    session.commit()
    log.info("campaign cancelled shop=%s campaign=%s", shop.id, campaign.id)
    return campaign


def sample_customer(session: Session, shop: Shop, lang: str) -> Customer:
    """Who a test send is addressed as: the shop's most recent customer with a name, else a
    stand-in (never saved)."""
    found = session.scalars(
        select(Customer)
        .where(
            Customer.shop_id == shop.id,
            Customer.deleted_at.is_(None),
            Customer.redacted_at.is_(None),
            Customer.first_name.is_not(None),
        )
        .order_by(Customer.id.desc())
        .limit(1)
    ).one_or_none()
    if found is not None:
        return found
    names = ("花子", "山田") if lang == "ja" else ("Alex", "Smith")
    return Customer(id=0, shop_id=shop.id, first_name=names[0], last_name=names[1], locale=lang)


def send_test(
    config: Config, session: Session, shop: Shop, campaign_id: int, lang: str, to_address: str
) -> str:
    """Email the campaign in `lang` to `to_address` (the merchant), addressed as a sample
    customer, with a sample coupon code; no message row, nothing created on the platform.
    → "sent", or `CampaignError`."""
    campaign = _get(session, shop, campaign_id)
    address = (to_address or "").strip()
    if not is_email_address(address):
        raise CampaignError(lazy_gettext("Enter an email address for the test."))
    chosen = email_language(campaign.content or {}, lang)
    if chosen is None or chosen != lang:
        raise CampaignError(lazy_gettext("This language has no subject yet."))
    sample = sample_customer(session, shop, lang)
    stand_in = Customer(
        id=sample.id,
        shop_id=shop.id,
        first_name=sample.first_name,
        last_name=sample.last_name,
        locale=lang,
        email=address,
    )
    email = render_email(
        config, session, shop, campaign, stand_in, lang, coupon_code=SAMPLE_COUPON_CODE
    )
    email = replace(
        email,
        subject=TEST_SUBJECT_PREFIX + email.subject,
        to_email=address,
        categories=("kizuna", "campaign-test"),
        kizuna_message_id=f"campaign-test-{campaign.id}",
    )
    problem = refusal(email)
    if problem is not None:
        raise CampaignError(lazy_gettext("The test email could not be built."))
    if identity_of(shop) is None:
        raise CampaignError(
            lazy_gettext("Set the sender details (name, address, contact) before sending.")
        )
    try:
        sendgrid_client(config).send(build_mail_body(email))
    except ConnectorError as error:
        log.warning("campaign test send failed campaign=%s code=%s", campaign.id, error.code)
        raise CampaignError(lazy_gettext("SendGrid did not accept the test email.")) from error
    return "sent"


def render_sent(
    config: Config,
    session: Session,
    shop: Shop,
    campaign: Campaign,
    msg: Message,
    customer: Customer,
) -> OutgoingEmail:
    """A campaign's email to `customer` rendered again for the Outbox (SendGrid keeps no copy):
    the campaign's content in the language the send chose, with the coupon code the recipient
    got (kept on their recipient row; none is created) and today's recommended products. The
    unsubscribe link is the message's own: the caller neutralises it."""
    recipient_code = session.scalar(
        select(CampaignRecipient.coupon_code).where(
            CampaignRecipient.shop_id == shop.id,
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.customer_id == customer.id,
        )
    )
    lang = email_language(campaign.content or {}, language(customer, shop)) or "en"
    with session.no_autoflush:
        return render_email(
            config, session, shop, campaign, customer, lang,
            coupon_code=recipient_code, message_id=msg.id,
        )  # fmt: skip


def local_schedule(shop: Shop, campaign: Campaign) -> datetime | None:
    """The scheduled time on the shop's wall clock."""
    if campaign.scheduled_at is None:
        return None
    return campaign.scheduled_at.astimezone(shop_zone(shop.timezone))
