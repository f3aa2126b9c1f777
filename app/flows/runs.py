"""Flow runs: start, exit and schedule the next step, for every flow.

Layer: services, inside the caller's transaction. A run is unique on (shop, flow, customer,
trigger key), a message on (run, step, customer). `next_step_at` is the truth; its job, one per
shop, flow, step and due second, is enqueued after commit. Session listeners come from `install()`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

import redis
from flask import render_template
from flask_babel import force_locale
from sqlalchemy import event, or_, select, union, update
from sqlalchemy.orm import Session

from app.config import Config
from app.db import utcnow
from app.domain.orchestration import CART, FlowConfig, in_holdout
from app.flows import registry
from app.flows.rules import SENDER_IDENTITY, Postpone
from app.i18n import recipient_language
from app.models import Checkout, Customer, Order, Shop
from app.models.flow import FlowRun, FlowSetting, Message, MessageEvent
from app.models.order import order_time
from app.queueing import enqueue_after_commit, job_id
from app.services.segments import in_audience
from app.services.sender_identity import WAITING_FOR_SENDER, SenderIdentity, identity_of
from app.services.unsubscribe import (
    is_suppressed,
    make_token,
    suppress_address,
    unsubscribe_url,
)
from app.services.upsert import dialect_insert, normalize_email
from app.tasks import DISPATCH_DUE_STEPS, SEND_MESSAGE
from connectors.sendgrid.events import Event, event_dedupe_keys
from connectors.sendgrid.mail import OutgoingEmail

log = logging.getLogger(__name__)


def _redis() -> redis.Redis:
    from app.kizuna import kizuna

    return kizuna().redis


def is_subscribed(customer: Customer | None) -> bool:
    """Marketing needs explicit consent: Shopify's SUBSCRIBED (REST spells it lowercase)."""
    state = (customer.email_marketing_state or "") if customer else ""
    return state.upper() == "SUBSCRIBED"


# --- reads shared by the checks of one transaction ------------------------------------------
#
# A step and a send check the same settings, suppression and checkout several times (exit
# reasons, block reasons, rendering). Each is read once per transaction and kept in
# `session.info`; any flush, commit, rollback or write to one of these tables drops them, so a
# check never answers from before a change its own transaction made.

_READS = "kizuna.flows.reads"
_READ_TABLES = frozenset({"shops", "flow_settings", "suppressions", "checkouts"})


def _reads(session: Session) -> dict[tuple[Any, ...], Any]:
    if not _installed:
        install()  # a session used outside `create_app` (a script) still forgets stale reads
    reads: dict[tuple[Any, ...], Any] = session.info.setdefault(_READS, {})
    return reads


def _forget_reads_at_end(session: Session, _transaction: Any) -> None:
    session.info.pop(_READS, None)
    session.info.pop(_SCHEDULED, None)


def _forget_reads_after_flush(session: Session, _context: Any) -> None:
    session.info.pop(_READS, None)


def _forget_reads_on_write(state: Any) -> None:
    if state.is_select:
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table is None or table in _READ_TABLES:
        state.session.info.pop(_READS, None)


_LISTENERS = (
    ("after_transaction_end", _forget_reads_at_end),
    ("after_flush", _forget_reads_after_flush),
    ("do_orm_execute", _forget_reads_on_write),
)


def install() -> None:
    """Keep the per-transaction reads honest: drop them at the end of a transaction, after a
    flush and on a write to one of their tables. Called once by `create_app` (and so by every
    worker); safe to call again. Importing this module installs nothing."""
    global _installed
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
    _installed = True


_installed = False


def shop_row(session: Session, shop_id: int) -> Shop | None:
    """The shop, held for the rest of the transaction (the identity map alone holds it weakly,
    so a later `session.get` would read it again)."""
    key = ("shop", shop_id)
    reads = _reads(session)
    if key not in reads:
        reads[key] = session.get(Shop, shop_id)
    shop: Shop | None = reads[key]
    return shop


def flow_setting(session: Session, shop_id: int, flow_key: str) -> FlowSetting | None:
    """The shop's settings row for a flow (None: defaults), read once per transaction."""
    key = ("flow_setting", shop_id, flow_key)
    reads = _reads(session)
    if key not in reads:
        reads[key] = session.scalars(
            select(FlowSetting).where(
                FlowSetting.shop_id == shop_id, FlowSetting.flow_key == flow_key
            )
        ).one_or_none()
    row: FlowSetting | None = reads[key]
    return row


def flow_config(session: Session, shop_id: int, flow_key: str) -> tuple[bool, FlowConfig]:
    """(enabled, config): a shop without a settings row runs the flow on the defaults."""
    row = flow_setting(session, shop_id, flow_key)
    if row is None:
        return True, FlowConfig()
    return row.enabled, FlowConfig.from_overrides(row.config)


def suppressed(session: Session, shop_id: int, email: str | None) -> bool:
    """`is_suppressed`, read once per transaction."""
    key = ("suppressed", shop_id, normalize_email(email))
    reads = _reads(session)
    if key not in reads:
        reads[key] = is_suppressed(session, shop_id, email)
    return bool(reads[key])


def cart_checkout(session: Session, shop_id: int, token: str) -> Checkout | None:
    """The checkout a cart run was started for, read once per transaction."""
    key = ("checkout", shop_id, token)
    reads = _reads(session)
    if key not in reads:
        reads[key] = session.scalars(
            select(Checkout).where(Checkout.shop_id == shop_id, Checkout.external_id == token)
        ).one_or_none()
    checkout: Checkout | None = reads[key]
    return checkout


# --- scheduling ------------------------------------------------------------------------------


def step_job_id(shop_id: int, flow_key: str, step: int, when: datetime) -> str:
    """The id of the job that runs this shop's `flow_key` step `step` for runs due at `when`:
    one per due second (rounded up, so the job never runs before its runs are due)."""
    return job_id("flow", shop_id, flow_key, step, math.ceil(when.timestamp()))


_SCHEDULED = "kizuna.flows.scheduled"


def schedule_step(session: Session, run: FlowRun, step: int, when: datetime) -> None:
    """Have step `step` of `run` run at `when` (its `next_step_at`, already set by the caller):
    the dispatch job of its due second is scheduled after commit, once per transaction."""
    if not _installed:
        install()
    scheduled: set[str] = session.info.setdefault(_SCHEDULED, set())
    key = step_job_id(run.shop_id, run.flow_key, step, when)
    if key in scheduled:
        return
    scheduled.add(key)
    second = datetime.fromtimestamp(math.ceil(when.timestamp()), UTC)
    enqueue_after_commit(
        session,
        _redis(),
        DISPATCH_DUE_STEPS,
        run.shop_id,
        run.flow_key,
        step,
        job_id=key,
        at=second,
    )


def claim_due_runs(
    session: Session, shop_id: int, flow_key: str, step: int, now: datetime, limit: int
) -> list[FlowRun]:
    """Up to `limit` running runs of this shop and flow whose step `step` is due by `now`,
    locked for this transaction; rows another worker holds are skipped (PostgreSQL)."""
    return list(
        session.scalars(
            select(FlowRun)
            .where(
                FlowRun.shop_id == shop_id,
                FlowRun.flow_key == flow_key,
                FlowRun.status == "running",
                FlowRun.next_step == step,
                FlowRun.next_step_at <= now,
            )
            .order_by(FlowRun.next_step_at, FlowRun.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def enqueue_send(session: Session, message_id: int, when: datetime | None = None) -> None:
    """Send message `message_id` once `session` commits (at `when`, when given). A Redis failure
    leaves the message `pending` for the message sweeper."""
    key = (
        job_id("send", message_id)
        if when is None
        else job_id("send", message_id, int(when.timestamp()))
    )
    enqueue_after_commit(session, _redis(), SEND_MESSAGE, message_id, job_id=key, at=when)


def waiting_reason(decision: Postpone) -> str | None:
    """What a postponed message shows while it waits: only a wait the merchant can end (the
    shop's missing sender identity) is named; caps and quiet hours are the flow working."""
    return WAITING_FOR_SENDER if SENDER_IDENTITY in decision.causes else None


# --- the email envelope ----------------------------------------------------------------------


@dataclass(frozen=True)
class SharedContent:
    """One step's email in one language, the same for every recipient: what differs per
    recipient is left as substitution tags."""

    lang: str
    subject: str
    html: str
    text: str


# Where `email/_layout.html` wants the sender's footer.
SENDER_FOOTER_MARKER = "<!--kizuna:sender-footer-->"


def with_sender_footer(
    identity: SenderIdentity, lang: str, html: str, text: str
) -> tuple[str, str]:
    """The email's HTML and text with the sender's footer (name, postal address, contact and
    the right to refuse further email) in `lang`; HTML without the layout's marker gets it
    before `</body>`."""
    values = identity.to_json()
    with force_locale(lang):
        footer_html = render_template("email/_sender_footer.html", **values)
        footer_text = render_template("email/_sender_footer.txt", **values)
    if SENDER_FOOTER_MARKER in html:
        html = html.replace(SENDER_FOOTER_MARKER, footer_html, 1)
    elif "</body>" in html:
        html = html.replace("</body>", footer_html + "</body>", 1)
    else:
        html += footer_html
    return html, text.rstrip("\n") + "\n" + footer_text.strip("\n") + "\n"


def message_unsubscribe_link(config: Config, shop: Shop, customer: Customer, msg: Message) -> str:
    """The signed one-click unsubscribe URL of this recipient's message."""
    return unsubscribe_url(
        config.app_url, make_token(config.secret_key, shop.id, customer.id, msg.id)
    )


def flow_email(
    config: Config,
    shop: Shop,
    customer: Customer,
    msg: Message,
    flow_key: str,
    *,
    subject: str,
    html: str,
    text: str,
    link: str,
    substitutions: Mapping[str, str] | None = None,
) -> OutgoingEmail:
    """A flow message's email: the shop's sender identity (From name, Reply-To, and the
    footer with its name, postal address and contact), opaque ids, categories
    `kizuna`/`flow-<key>`/`<key>-step-<n>`, and the one-click unsubscribe header — which
    SendGrid (and RFC 8058) accept only over https, so a plain-http demo keeps the link in the
    body only. Without an identity (a preview) the shop's name stands in and no footer is added:
    the rules never let such an email be sent."""
    from_name, from_email = parseaddr(config.mail_from)
    identity = identity_of(shop)
    if identity is not None:
        html, text = with_sender_footer(
            identity, recipient_language(customer.locale, shop.locale), html, text
        )
    return OutgoingEmail(
        kizuna_message_id=str(msg.id),
        shop_id=str(shop.id),
        from_email=from_email,
        from_name=(identity.sender_name if identity else shop.name) or from_name or None,
        reply_to=identity.reply_to if identity else None,
        reply_to_name=identity.sender_name if identity else None,
        to_email=customer.email or "",
        subject=subject,
        html=html,
        text=text,
        categories=("kizuna", f"flow-{flow_key}", f"{flow_key}-step-{msg.step}"),
        substitutions=dict(substitutions or {}),
        unsubscribe_url=link if link.startswith("https://") else None,
    )


# --- starting and exiting --------------------------------------------------------------------


def _link_customer(session: Session, checkout: Checkout) -> Customer | None:
    """The checkout's customer; an unlinked checkout is linked by email when a customer has it."""
    if checkout.customer_id is not None:
        return session.scalars(
            select(Customer).where(
                Customer.shop_id == checkout.shop_id, Customer.id == checkout.customer_id
            )
        ).one_or_none()
    email = normalize_email(checkout.email)
    if email is None:
        return None
    customer = session.scalars(
        select(Customer)
        .where(Customer.shop_id == checkout.shop_id, Customer.email_normalized == email)
        .order_by(Customer.id)
        .limit(1)
    ).first()
    if customer is not None:
        checkout.customer_id = customer.id
    return customer


def start_cart_run(
    session: Session,
    checkout: Checkout,
    now: datetime | None = None,
    *,
    consent_required: bool = False,
) -> int | None:
    """Start the cart flow for an open checkout with an email and a known customer.

    Returns the new run's id, or None (not eligible, older than the last step's delay, or a run
    exists for this checkout). A holdout customer gets a `holdout` run and no messages. Step 1
    is scheduled after commit. `consent_required`: only for a customer who consents now and is
    not suppressed (checkouts from unauthenticated input never start a flow towards anyone else).
    """
    now = now or utcnow()
    if checkout.completed_at is not None or not normalize_email(checkout.email):
        return None
    customer = _link_customer(session, checkout)
    if customer is None or customer.deleted_at or customer.redacted_at:
        return None
    if consent_required and (
        not is_subscribed(customer) or suppressed(session, checkout.shop_id, customer.email)
    ):
        return None
    enabled, config = flow_config(session, checkout.shop_id, CART)
    if not enabled or config.steps == 0:
        return None
    # A reconcile or backfill may replay old checkouts: one past the last step is not recovered.
    last_activity = checkout.platform_updated_at or checkout.platform_created_at
    if last_activity is not None and now - last_activity > config.step_delays[-1]:
        return None
    return start_run(
        session,
        checkout.shop_id,
        CART,
        customer.id,
        checkout.external_id,
        config,
        now + config.step_delays[0],
        now,
    )


def start_run(
    session: Session,
    shop_id: int,
    flow_key: str,
    customer_id: int,
    trigger_key: str,
    config: FlowConfig,
    first_due: datetime,
    now: datetime,
) -> int | None:
    """Every flow's entry: the audience check, then the run (a `holdout` run without messages
    for the holdout share), unique on (shop, flow, customer, trigger key), and step 1
    scheduled at `first_due` after commit. → the new run's id, or None (not in the audience —
    or its segment can't be evaluated, which the shop's last error then says — or a run exists
    for this trigger)."""
    if not in_audience(session, shop_id, flow_key, customer_id):
        return None
    holdout = in_holdout(shop_id, flow_key, customer_id, config.holdout_percent)
    run_id = session.scalar(
        dialect_insert(session, FlowRun)
        .values(
            shop_id=shop_id,
            flow_key=flow_key,
            customer_id=customer_id,
            trigger_key=trigger_key,
            status="holdout" if holdout else "running",
            next_step=None if holdout else 1,
            next_step_at=None if holdout else first_due,
            started_at=now,
            ended_at=now if holdout else None,
            updated_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=["shop_id", "flow_key", "customer_id", "trigger_key"]
        )
        .returning(FlowRun.id)
    )
    if run_id is None:
        return None
    log.info(
        "flow run started shop_id=%s flow=%s run_id=%s holdout=%s",
        shop_id,
        flow_key,
        run_id,
        holdout,
    )
    if not holdout:
        schedule_step(session, session.get_one(FlowRun, run_id), 1, first_due)
    return int(run_id)


def exit_runs(
    session: Session,
    shop_id: int,
    reason: str,
    *,
    trigger_key: str | None = None,
    customer_id: int | None = None,
    started_before: datetime | None = None,
    except_flows: Sequence[str] = (),
) -> int:
    """Exit the shop's running runs for a checkout token and/or a customer (but not those of
    `except_flows`)."""
    conditions = [FlowRun.shop_id == shop_id, FlowRun.status == "running"]
    if except_flows:
        conditions.append(FlowRun.flow_key.not_in(except_flows))
    if trigger_key is not None:
        conditions.append(FlowRun.trigger_key == trigger_key)
    if customer_id is not None:
        conditions.append(FlowRun.customer_id == customer_id)
    if started_before is not None:
        conditions.append(FlowRun.started_at <= started_before)
    if trigger_key is None and customer_id is None:
        return 0
    result = session.execute(
        update(FlowRun)
        .where(*conditions)
        .values(status="exited", exit_reason=reason, next_step=None, ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- one step --------------------------------------------------------------------------------


def load_order_exits(
    session: Session, shop_id: int, runs: Sequence[FlowRun]
) -> dict[int, tuple[str, ...]]:
    """The exits of flows a purchase ends (cart, win-back), for many runs in two queries: the
    run's checkout completed, an order carrying its checkout token, or any order of the
    customer since the run started (a win-back run's trigger key names no checkout)."""
    if not runs:
        return {}
    tokens = {run.trigger_key for run in runs}
    customer_ids = {run.customer_id for run in runs}
    completed = set(
        session.scalars(
            select(Checkout.external_id).where(
                Checkout.shop_id == shop_id,
                Checkout.external_id.in_(tokens),
                Checkout.completed_at.is_not(None),
            )
        )
    )
    ordered_tokens: set[str] = set()
    order_times: dict[int, list[datetime]] = {}
    earliest = min(run.started_at for run in runs)
    for token, customer_id, placed_at in session.execute(
        select(Order.checkout_token, Order.customer_id, order_time()).where(
            Order.shop_id == shop_id,
            or_(
                Order.checkout_token.in_(tokens),
                Order.customer_id.in_(customer_ids) & (order_time() >= earliest),
            ),
        )
    ):
        if token is not None:
            ordered_tokens.add(token)
        if customer_id is not None and placed_at is not None:
            order_times.setdefault(customer_id, []).append(placed_at)
    exits: dict[int, tuple[str, ...]] = {}
    for run in runs:
        happened = []
        if run.trigger_key in completed:
            happened.append("checkout_completed")
        if run.trigger_key in ordered_tokens or any(
            placed_at >= run.started_at for placed_at in order_times.get(run.customer_id, ())
        ):
            happened.append("ordered")
        if happened:
            exits[run.id] = tuple(happened)
    return exits


def recent_sends(
    session: Session,
    shop_id: int,
    customer_ids: Collection[int],
    now: datetime,
    exclude_ids: Collection[int] = (),
) -> dict[int, list[datetime]]:
    """When these customers were last emailed (sent, in flight or unknown), within a week, in
    one query: customer id → send times (`exclude_ids`: the messages being decided)."""
    conditions = [
        Message.shop_id == shop_id,
        Message.customer_id.in_(customer_ids),
        Message.status.in_(("sending", "sent", "unknown")),
        Message.sent_at.is_not(None),
        Message.sent_at >= now - timedelta(days=7),
    ]
    if exclude_ids:
        conditions.append(Message.id.not_in(exclude_ids))
    times: dict[int, list[datetime]] = {}
    for customer_id, sent_at in session.execute(
        select(Message.customer_id, Message.sent_at).where(*conditions)
    ):
        if sent_at is not None:
            times.setdefault(customer_id, []).append(sent_at)
    return times


def customers_outranked(
    session: Session,
    shop_id: int,
    flow_key: str,
    customer_ids: Collection[int],
    now: datetime,
    exclude_messages: Collection[int] = (),
) -> set[int]:
    """Which of these customers have a due step or a due or in-flight message of a flow that
    outranks `flow_key` (then this flow's email waits its turn). One statement, so one
    snapshot: a step that creates and claims its message in another transaction is seen either
    as the due run before its commit or as the message after it, never as neither."""
    better = registry.outranking(flow_key)
    if not better or not customer_ids:
        return set()
    conditions = [
        Message.shop_id == shop_id,
        Message.customer_id.in_(customer_ids),
        FlowRun.flow_key.in_(better),
        Message.status.in_(("pending", "sending")),
        (Message.not_before.is_(None)) | (Message.not_before <= now),
    ]
    if exclude_messages:
        conditions.append(Message.id.not_in(exclude_messages))
    waiting_messages = (
        select(Message.customer_id)
        .join(FlowRun, FlowRun.id == Message.flow_run_id)
        .where(*conditions)
    )
    due_steps = select(FlowRun.customer_id).where(
        FlowRun.shop_id == shop_id,
        FlowRun.customer_id.in_(customer_ids),
        FlowRun.flow_key.in_(better),
        FlowRun.status == "running",
        FlowRun.next_step_at <= now,
    )
    return set(session.scalars(union(waiting_messages, due_steps)))


def runs_due(
    session: Session, now: datetime, overdue: timedelta = timedelta(minutes=1), limit: int = 500
) -> Sequence[FlowRun]:
    """Running runs whose next step is `overdue` (their job was lost): for the flow sweeper."""
    return session.scalars(
        select(FlowRun)
        .where(
            FlowRun.status == "running",
            FlowRun.next_step_at.is_not(None),
            FlowRun.next_step_at <= now - overdue,
        )
        .order_by(FlowRun.next_step_at)
        .limit(limit)
    ).all()


# --- SendGrid events -------------------------------------------------------------------------

SUPPRESSING_EVENTS = frozenset(
    {"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"}
)
_SETTLES_UNKNOWN = frozenset({"processed", "delivered", "open", "click", "deferred", "bounce"})


def _message_of(session: Session, event: Event) -> Message | None:
    """The message an event belongs to: by `kizuna_message_id` (checked against
    `kizuna_shop_id`), else by the X-Message-Id the send recorded."""
    raw = event.kizuna_message_id
    if raw and raw.isdigit():
        msg = session.get(Message, int(raw))
        shop = event.kizuna_shop_id
        if msg is not None and (shop is None or shop == str(msg.shop_id)):
            return msg
    if event.x_message_id:
        return session.scalars(
            select(Message).where(Message.x_message_id == event.x_message_id).limit(1)
        ).first()
    return None


def record_message_events(session: Session, events: Sequence[Event]) -> dict[str, int]:
    """Store a verified Event Webhook batch once and apply it; commits.

    Each event is inserted under both dedupe keys (`sg_event_id`, natural key); a duplicate
    inserts nothing and is not applied again. delivered/open/click stamp the message (and
    settle an `unknown` one as sent); bounce/dropped/spamreport/unsubscribe/group_unsubscribe
    suppress the address and set the shop's matching customers UNSUBSCRIBED.
    """
    counts = {"recorded": 0, "duplicate": 0, "unmatched": 0}
    for item in events:
        keys = event_dedupe_keys(item)
        msg = _message_of(session, item)
        shop_id = msg.shop_id if msg else None
        claimed_shop = item.kizuna_shop_id or ""
        if shop_id is None and claimed_shop.isdigit():
            shop_id = session.scalar(select(Shop.id).where(Shop.id == int(claimed_shop)))
        inserted = session.scalar(
            dialect_insert(session, MessageEvent)
            .values(
                shop_id=shop_id,
                message_id=msg.id if msg else None,
                event=item.event[:40],
                occurred_at=item.timestamp,
                sg_event_id=keys.event_id,
                natural_key=keys.natural,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
            .returning(MessageEvent.id)
        )
        if inserted is None:
            counts["duplicate"] += 1
            continue
        counts["recorded"] += 1
        if msg is None:
            counts["unmatched"] += 1
        else:
            if msg.status in ("unknown", "sending") and item.event in _SETTLES_UNKNOWN:
                msg.status = "sent"
                msg.x_message_id = msg.x_message_id or item.x_message_id
            if item.event == "delivered":
                msg.delivered_at = msg.delivered_at or item.timestamp
            elif item.event == "open":
                msg.opened_at = msg.opened_at or item.timestamp
            elif item.event == "click":
                msg.clicked_at = msg.clicked_at or item.timestamp
        if item.event in SUPPRESSING_EVENTS and shop_id is not None:
            suppress_address(session, shop_id, item.email, item.event)
    session.commit()
    return counts
