"""A campaign's send: the audience snapshot taken by its first job, then batches of up to 1,000
recipients, each decided by `app/flows/rules.decide` and handed to SendGrid in one Mail Send
request per language (shared content, per-recipient substitutions).

Layer: campaigns; each batch is one committed transaction before anything is sent. Exactly
once: a recipient leaves `queued` and gets their `messages` row (`sending`, unique on campaign
and customer) in the batch's commit, before the request; a worker killed after that commit
leaves the rows `sending` (the message sweeper marks them `unknown`, SendGrid's events settle
them) and a re-run finds no queued recipient to send again. The campaign's status is read
before every batch: a pause or a cancel stops the send there; a resume continues it. A lane
claims after its previous batch and every statement of a batch names its customers' id range,
so a batch costs the same at the millionth recipient as at the first, whatever the planner's
statistics say.
SendGrid's 429/5xx are retried by the client with backoff; then the batch's messages are
`failed`, on the campaign's and the shop's status. A campaign's problem and its messages' are
message keys with their values (`services.shop_errors.problem_columns`, `app.i18n.message_problem`),
never SendGrid's words (they can quote an address).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, literal, select, update
from sqlalchemy.orm import Session

from app.campaigns.audience import campaign_caps, snapshot
from app.campaigns.content import (
    Greeter,
    Recipient,
    campaign_email,
    email_language,
    recipient_values,
    recommended_count,
    render_shared,
    uses_block,
)
from app.campaigns.coupons import create_codes
from app.campaigns.recommend import recommended_cards
from app.db import utcnow
from app.domain.orchestration import FlowConfig, shop_zone
from app.flows.content import SharedContent, language
from app.flows.facts import recent_sends
from app.flows.reads import is_subscribed
from app.flows.rules import SENDER_IDENTITY, Exit, Facts, Postpone, Skip, decide
from app.flows.send import sendgrid_client
from app.heartbeats import process_name
from app.kizuna import Kizuna
from app.models import Customer, Shop
from app.models.campaign import Campaign, CampaignRecipient
from app.models.flow import Message
from app.queueing import enqueue, enqueue_after_commit, job_id
from app.services.inquiries import paused_customers
from app.services.sender_identity import identity_of
from app.services.shop_errors import (
    message_failure,
    problem_columns,
    record_shop_error,
    sending_refusal,
)
from app.services.unsubscribe import suppressed_emails
from app.services.upsert import dialect_insert, normalize_email
from app.tasks import SEND_CAMPAIGN
from connectors.base import ConnectorError
from connectors.sendgrid.client import SendOutcomeUnknown
from connectors.sendgrid.mail import (
    KIZUNA_MESSAGE_ID_ARG,
    MAX_PERSONALIZATIONS,
    MAX_SUBSTITUTIONS_BYTES,
    OutgoingEmail,
    build_batch,
    refusal,
)

log = logging.getLogger(__name__)

BATCH_SIZE = MAX_PERSONALIZATIONS
# Send jobs per campaign, each claiming batches with SKIP LOCKED: a big campaign is spread over
# the workers; a small one's extra lanes find nothing queued and end at once.
LANES = 2
WAITING_FOR_SENDER = "waiting_for_sender_identity"
SHOP_INACTIVE = "shop_inactive"
# A held send's problem on its campaign (`Campaign.last_error_code`), by why the batch stopped;
# a batch that claims recipients again clears it.
HOLDS = {
    WAITING_FOR_SENDER: "campaign_error.waiting_for_sender",
    SHOP_INACTIVE: "campaign_error.shop_inactive",
}
EMAILS_FAILED = "campaign_error.emails_failed"
# Campaigns go at the time the merchant chose: no quiet hours (the caps still apply).
_NO_QUIET = time(0, 0)


def _redis() -> Any:
    from app.kizuna import kizuna

    return kizuna().redis


def send_job_id(campaign_id: int, lane: int = 0) -> str:
    return job_id("campaign-send", campaign_id, lane)


def enqueue_send(session: Session, campaign: Campaign) -> None:
    """The campaign's send jobs, once `session` commits: `LANES` of them, one per lane (a lane
    whose job is still waiting or running is left alone), claiming batches side by side."""
    for lane in range(LANES):
        enqueue_after_commit(
            session,
            _redis(),
            SEND_CAMPAIGN,
            campaign.id,
            job_id=send_job_id(campaign.id, lane),
        )


def start(session: Session, shop: Shop, campaign: Campaign, now: datetime) -> None:
    """Start the send (in the caller's transaction): status `sending` and, after the commit,
    the send jobs, the first of which takes the audience snapshot (`take_snapshot`): a
    million-customer audience is read by a job, never by the merchant's request."""
    campaign.status, campaign.last_error = "sending", None
    campaign.updated_at = now
    enqueue_send(session, campaign)
    log.info("campaign started shop=%s campaign=%s", shop.id, campaign.id)


def take_snapshot(runtime: Kizuna, campaign_id: int, now: datetime | None = None) -> int | None:
    """The audience snapshot, once per campaign, by whichever lane comes first (the others
    wait on the campaign's row lock, then find it taken); → recipients taken (None: already
    taken, or the campaign is no longer sending)."""
    now = now or utcnow()
    with runtime.db.session() as session:
        campaign = session.scalars(
            select(Campaign).where(Campaign.id == campaign_id).with_for_update()
        ).one_or_none()
        if campaign is None or campaign.status != "sending" or campaign.started_at is not None:
            return None
        shop = session.get_one(Shop, campaign.shop_id)
        taken = snapshot(session, shop, campaign, now)
        campaign.started_at = now
        session.commit()
    log.info("campaign snapshot campaign=%s recipients=%s", campaign_id, taken)
    return taken


def start_due(runtime: Kizuna, now: datetime | None = None) -> dict[str, int]:
    """The scheduler's tick: start scheduled campaigns whose time has come, and enqueue the
    send of every campaign still `sending` (a lost job, or one held for the sender's details:
    its id is the campaign's, so a running send is left alone)."""
    now = now or utcnow()
    started = 0
    with runtime.db.session() as session:
        due = session.scalars(
            select(Campaign)
            .where(Campaign.status == "scheduled", Campaign.scheduled_at <= now)
            .order_by(Campaign.scheduled_at, Campaign.id)
            .limit(100)
            .with_for_update(skip_locked=True)
        ).all()
        for campaign in due:
            shop = session.get(Shop, campaign.shop_id)
            if shop is None or not shop.is_active:
                continue
            start(session, shop, campaign, now)
            started += 1
        session.commit()
        sending = list(
            session.scalars(select(Campaign.id).where(Campaign.status == "sending").limit(1000))
        )
    for campaign_id in sending:
        for lane in range(LANES):
            enqueue(
                runtime.redis, SEND_CAMPAIGN, campaign_id, job_id=send_job_id(campaign_id, lane)
            )
    return {"started": started, "sending": len(sending)}


@dataclass
class Batch:
    """One batch's outcome: why the send stops (None: go on), counts, the claimed emails."""

    stop: str | None = None
    claimed: int = 0
    last_customer_id: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    emails: list[OutgoingEmail] = field(default_factory=list)


def _config(session: Session, shop_id: int) -> FlowConfig:
    return FlowConfig(
        caps=campaign_caps(session, shop_id), quiet_start=_NO_QUIET, quiet_end=_NO_QUIET
    )


def _settle(runtime: Kizuna, campaign_id: int, batch: Batch, now: datetime) -> None:
    """After a batch's commit, in a transaction of its own (lanes hold the campaign row FOR
    SHARE while they claim, so none of them writes it there): the campaign becomes `sent` once
    no recipient is queued, or notes why its send is held, or forgets a hold that is over."""
    with runtime.db.session() as session:
        if batch.stop == "done":
            queued = (
                select(CampaignRecipient.customer_id)
                .where(
                    CampaignRecipient.campaign_id == campaign_id,
                    CampaignRecipient.status == "queued",
                )
                .exists()
            )
            done = session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status == "sending", ~queued)
                .values(status="sent", finished_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0):
                log.info("campaign sent campaign=%s", campaign_id)
        elif batch.stop in HOLDS:
            session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(**problem_columns(HOLDS[batch.stop]))
                .execution_options(synchronize_session=False)
            )
        elif batch.claimed:
            session.execute(
                update(Campaign)
                .where(
                    Campaign.id == campaign_id,
                    Campaign.last_error_code.in_(list(HOLDS.values())),
                )
                .values(last_error=None, last_error_code=None, last_error_params=None)
                .execution_options(synchronize_session=False)
            )
        session.commit()


def _batch_recipients(campaign_id: int, customer_ids: list[int]) -> ColumnElement[bool]:
    """The WHERE picking these recipients of the campaign (`customer_ids` not empty). The ids'
    range bounds the index scan whatever the planner's statistics say: matched on the
    campaign alone, each batch would read every recipient of the campaign (and the versions its
    earlier batches left behind), so each batch would cost more than the one before."""
    return and_(
        CampaignRecipient.campaign_id == campaign_id,
        CampaignRecipient.customer_id.between(min(customer_ids), max(customer_ids)),
        CampaignRecipient.customer_id.in_(customer_ids),
    )


def _claim_queued(
    session: Session, campaign_id: int, size: int, after: int
) -> list[CampaignRecipient]:
    """Lock the next `size` queued recipients above customer id `after` that no other lane
    holds. Starting after the lane's previous batch keeps each claim's scan short whatever
    the plan: from the start, it would step over every recipient already sent (their rows
    and the index entries their updates left behind), so each batch would cost more than
    the one before."""
    return list(
        session.scalars(
            select(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status == "queued",
                CampaignRecipient.customer_id > after,
            )
            .order_by(CampaignRecipient.customer_id)
            .limit(size)
            .with_for_update(skip_locked=True)
        )
    )


def _mark(session: Session, campaign_id: int, customer_ids: list[int], **values: Any) -> None:
    if customer_ids:
        session.execute(
            update(CampaignRecipient)
            .where(_batch_recipients(campaign_id, customer_ids))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def prepare_batch(
    runtime: Kizuna,
    session: Session,
    campaign_id: int,
    now: datetime,
    shared: dict[str, SharedContent],
    size: int | None = None,
    after: int = 0,
) -> Batch:
    """Claim up to `size` queued recipients (customer ids above `after`, the lane's previous
    batch, first; then any left behind), decide each, create the coupons and the messages of
    those ready, and build their emails (the caller commits, then `deliver`s)."""
    campaign = session.scalars(
        select(Campaign).where(Campaign.id == campaign_id).with_for_update(read=True)
    ).one_or_none()
    if campaign is None or campaign.status != "sending":
        return Batch(stop=campaign.status if campaign is not None else "missing")
    shop = session.get_one(Shop, campaign.shop_id)
    if not shop.is_active:
        return Batch(stop=SHOP_INACTIVE)
    recipients = _claim_queued(session, campaign.id, size or BATCH_SIZE, after)
    if not recipients and after:
        # Those passed over while another lane held them (and let go without sending).
        recipients = _claim_queued(session, campaign.id, size or BATCH_SIZE, 0)
    if not recipients:
        return Batch(stop="done")
    ids = [r.customer_id for r in recipients]
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.shop_id == shop.id, Customer.id.in_(ids))
        )
    }
    suppressed = suppressed_emails(session, shop.id, (c.email for c in customers.values()))
    paused = paused_customers(session, shop.id, ids)
    recent = recent_sends(session, shop.id, ids, now)
    smart = timedelta(hours=campaign.smart_sending_hours) if campaign.smart_sending_hours else None
    identity_set = identity_of(shop) is not None
    config, zone = _config(session, shop.id), shop_zone(shop.timezone)
    skipped: dict[str, list[int]] = {}
    ready: list[CampaignRecipient] = []
    held_out: list[int] = []
    for recipient in recipients:
        customer = customers.get(recipient.customer_id)
        email = normalize_email(customer.email) if customer is not None else None
        sends = tuple(recent.get(recipient.customer_id, ()))
        facts = Facts(
            shop_active=True,
            sender_identity_set=identity_set,
            customer_present=customer is not None
            and customer.deleted_at is None
            and customer.redacted_at is None,
            subscribed=is_subscribed(customer),
            suppressed=email is None or email in suppressed,
            complaint_open=recipient.customer_id in paused,
            emailed_recently=smart is not None and any(at > now - smart for at in sends),
            recent_sends=sends,
            zone=zone,
            config=config,
        )
        decision = decide(facts, now)
        if isinstance(decision, Exit | Skip):
            skipped.setdefault(decision.reason, []).append(recipient.customer_id)
        elif isinstance(decision, Postpone):
            if SENDER_IDENTITY in decision.causes:
                session.rollback()  # everyone stays queued until the details are saved
                return Batch(stop=WAITING_FOR_SENDER)
            reason = "frequency_cap" if "frequency_cap" in decision.causes else "postponed"
            skipped.setdefault(reason, []).append(recipient.customer_id)
        elif recipient.holdout:
            held_out.append(recipient.customer_id)
        else:
            ready.append(recipient)
    batch = Batch(claimed=len(recipients), last_customer_id=recipients[-1].customer_id)
    content = campaign.content or {}
    if ready and content.get("coupon") and uses_block(content, "coupon"):
        needed = [customers[r.customer_id] for r in ready if not r.coupon_code]
        codes, failures = create_codes(runtime, shop, campaign.id, content["coupon"], needed, now)
        for recipient in ready:
            if recipient.customer_id in codes:
                recipient.coupon_code = codes[recipient.customer_id]
        for customer_id, reason in failures.items():
            skipped.setdefault(reason, []).append(customer_id)
        if failures:
            record_shop_error(
                shop,
                "shop_error.campaign_coupons_failed",
                campaign=campaign.name,
                count=len(failures),
            )
        ready = [r for r in ready if r.customer_id not in failures]
        session.flush()
    for reason, customer_ids in skipped.items():
        _mark(session, campaign.id, customer_ids, status="skipped", skip_reason=reason[:60])
        batch.outcomes[f"skipped:{reason}"] += len(customer_ids)
    _mark(session, campaign.id, held_out, status="holdout")
    batch.outcomes["holdout"] += len(held_out)
    if ready:
        batch.emails = _claim(runtime, session, shop, campaign, ready, customers, now, shared)
        batch.outcomes["emailed"] += len(batch.emails)
    return batch


def _claim(
    runtime: Kizuna,
    session: Session,
    shop: Shop,
    campaign: Campaign,
    ready: list[CampaignRecipient],
    customers: dict[int, Customer],
    now: datetime,
    shared: dict[str, SharedContent],
) -> list[OutgoingEmail]:
    """The ready recipients' messages (`sending`, one statement) and emails."""
    content = campaign.content or {}
    langs: dict[int, str] = {}
    for recipient in ready:
        lang = email_language(content, language(customers[recipient.customer_id], shop))
        langs[recipient.customer_id] = lang or "en"
        if lang is not None and lang not in shared:
            shared[lang] = render_shared(session, shop, campaign, lang)
    greeters = {lang: Greeter(lang) for lang in set(langs.values())}
    worker = process_name()
    columns = Message.__table__.c
    message_ids: dict[int, int] = {}
    for lang in sorted(set(langs.values())):
        # One INSERT … SELECT per language over the claimed recipients: no per-row parameters.
        chosen = [customer_id for customer_id, each in langs.items() if each == lang]
        rows = select(
            literal(shop.id),
            literal(campaign.id),
            literal(0),
            CampaignRecipient.customer_id,
            literal("sending"),
            literal(shared[lang].subject[:500]),
            literal(1),
            literal(now, columns.sent_at.type),
            literal(worker),
            literal(now, columns.created_at.type),
        ).where(_batch_recipients(campaign.id, chosen))
        inserted = session.execute(
            dialect_insert(session, Message)
            .from_select(
                [
                    "shop_id",
                    "campaign_id",
                    "step",
                    "customer_id",
                    "status",
                    "subject",
                    "attempts",
                    "sent_at",
                    "claimed_by",
                    "created_at",
                ],
                rows,
            )
            .on_conflict_do_nothing(index_elements=["campaign_id", "customer_id"])
            .returning(Message.id, Message.customer_id)
        )
        message_ids.update(
            {int(customer_id): int(message_id) for message_id, customer_id in inserted}
        )
    session.execute(
        update(CampaignRecipient)
        .where(_batch_recipients(campaign.id, [r.customer_id for r in ready]))
        .values(
            status="emailed",
            message_id=select(Message.id)
            .where(
                Message.campaign_id == campaign.id,
                Message.customer_id == CampaignRecipient.customer_id,
            )
            .scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    count = recommended_count(content)
    cards: dict[int, list[dict[str, Any]]] = {}
    if count:
        for lang in set(langs.values()):
            wanted = [cid for cid, chosen in langs.items() if chosen == lang]
            cards.update(recommended_cards(session, shop, wanted, count, lang, now))
    emails: list[OutgoingEmail] = []
    refused: dict[str, list[int]] = {}
    for recipient in ready:
        message_id = message_ids.get(recipient.customer_id)
        if message_id is None:
            continue  # its message exists already: an earlier attempt sent it
        customer, lang = customers[recipient.customer_id], langs[recipient.customer_id]
        values = recipient_values(
            runtime.config,
            shop,
            lang,
            Recipient(
                customer, message_id, recipient.coupon_code, cards.get(recipient.customer_id, ())
            ),
            greeters[lang],
        )
        too_big = len(json.dumps(values).encode()) > MAX_SUBSTITUTIONS_BYTES
        email = campaign_email(
            runtime.config,
            shop,
            campaign,
            customer,
            message_id,
            shared[lang],
            values,
            substituted=too_big,
        )
        problem = refusal(email)
        if problem is not None:
            # The reason names the field, never its value: the log keeps it, the message
            # its code (`message.problem.invalid_email`).
            log.warning(
                "campaign email refused before sending campaign=%s message=%s reason=%s",
                campaign.id,
                message_id,
                problem,
            )
            refused.setdefault(problem.split(":", 1)[0], []).append(message_id)
            continue
        emails.append(email)
    for code, ids in refused.items():
        session.execute(
            update(Message).where(Message.id.in_(ids)).values(status="failed", last_error=code)
        )
    return emails


def deliver(runtime: Kizuna, campaign_id: int, emails: list[OutgoingEmail]) -> Counter[str]:
    """Send the claimed emails, up to 1,000 per request; each request's outcome is every one of
    its messages': sent, unknown (the answer was lost: never resent), failed (refused, or
    SendGrid still unavailable after the client's retries: on the campaign's and the shop's
    status)."""
    outcomes: Counter[str] = Counter()
    if not emails:
        return outcomes
    client = sendgrid_client(runtime.config)
    for body in build_batch(emails, checked=True):  # each passed `refusal` when claimed
        ids = [
            int(p["custom_args"][KIZUNA_MESSAGE_ID_ARG]) for p in body.get("personalizations", [])
        ]
        # A message's `last_error` is a code `app.i18n.message_problem` words.
        values: dict[str, Any]
        failure: ConnectorError | None = None
        try:
            result = client.send(body)
        except SendOutcomeUnknown:
            values = {"status": "unknown", "last_error": "outcome_unknown"}
        except ConnectorError as error:
            values = {"status": "failed", "last_error": message_failure(error)}
            failure = error
        else:
            values = {"status": "sent", "x_message_id": result.message_id, "last_error": None}
        if failure is not None:
            log.warning(
                "campaign emails failed campaign=%s count=%d error=%s status=%s",
                campaign_id,
                len(ids),
                type(failure).__name__,
                failure.status,
            )
        with runtime.db.session() as session:
            session.execute(update(Message).where(Message.id.in_(ids)).values(**values))
            if failure is not None:
                _record_failure(session, campaign_id, len(ids), failure)
            session.commit()
        outcomes[values["status"]] += len(ids)
    log.info("campaign batch delivered campaign=%s outcomes=%s", campaign_id, dict(outcomes))
    return outcomes


def _record_failure(session: Session, campaign_id: int, count: int, failure: BaseException) -> None:
    """Failed emails on the campaign and on its shop's status: how many, and why as SendGrid's
    class of refusal or HTTP status (never its words: they can quote an address)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return
    reason = sending_refusal(failure)
    for column, value in problem_columns(EMAILS_FAILED, count=count, reason=reason).items():
        setattr(campaign, column, value)
    shop = session.get(Shop, campaign.shop_id)
    if shop is not None:
        record_shop_error(
            shop,
            "shop_error.campaign_emails_failed",
            campaign=campaign.name,
            count=count,
            reason=reason,
        )


def send_campaign(
    runtime: Kizuna,
    campaign_id: int,
    *,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> dict[str, int]:
    """The send job: batches (of `batch_size`, at most 1,000) until the campaign is done,
    paused, cancelled or held, or `max_batches` ran; → counts. Safe to run twice and after a
    crash (see the module's invariants)."""
    totals: Counter[str] = Counter()
    shared: dict[str, SharedContent] = {}
    taken = take_snapshot(runtime, campaign_id)
    if taken is not None:
        totals["snapshot"] = taken
    batches, after = 0, 0
    while max_batches is None or batches < max_batches:
        now = utcnow()
        with runtime.db.session() as session:
            batch = prepare_batch(runtime, session, campaign_id, now, shared, batch_size, after)
            session.commit()
        after = batch.last_customer_id
        _settle(runtime, campaign_id, batch, now)
        totals.update(batch.outcomes)
        if batch.emails:
            sent = deliver(runtime, campaign_id, batch.emails)
            totals.update({f"sent:{status}": n for status, n in sent.items()})
        batches += 1
        if batch.stop is not None:
            totals[f"stop:{batch.stop}"] += 1
            break
    log.info("campaign send campaign=%s outcomes=%s", campaign_id, dict(totals))
    return dict(totals)
