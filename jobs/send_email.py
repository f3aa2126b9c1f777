"""Sending one flow message through SendGrid (queue `email`, job id `send-<message id>[-<ts>]`).

Layer: jobs. Acts only on `pending` rows. Consent, suppression, the run's exit conditions, the
frequency cap and quiet hours are checked again at send time; cap and quiet hours postpone the
message (`not_before` + a job scheduled then), never drop it. The row is claimed (`sending`,
attempts + 1) and committed before the API call. Outcomes: 202 → `sent` with X-Message-Id;
4xx → `failed` and the shop's last_error (never retried); retryable after the client's own
retries → back to `pending`, rescheduled, `failed` after MAX_ATTEMPTS; `SendOutcomeUnknown` →
`unknown`: SendGrid may have accepted it and Mail Send has no idempotency key, so it is never
resent blindly — the Event Webhook (every event echoes `kizuna_message_id`) settles it as `sent`.
A worker dying between claim and answer leaves `sending`, which is treated like `unknown`.
Emails claimed together leave together (`deliver`): up to 1,000 recipients per request (shared
content, per-recipient substitutions, custom_args and List-Unsubscribe), the request's outcome
applying to each — the batches `jobs.flows.dispatch_due_steps` claims, and a win-back message's
own job, which claims every due win-back message of its shop and step with it. An email that
SendGrid would refuse whatever the retry (a malformed address) is `failed` before any claim.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from app.config import Config
from app.db import utcnow
from app.domain.orchestration import POST_PURCHASE_FLOWS, WINBACK, next_send_time, shop_zone
from app.flows import post_purchase, winback
from app.flows.cart import language, render
from app.flows.runs import (
    PRIORITY_DELAY,
    SharedContent,
    cart_checkout,
    enqueue_send,
    exit_reason,
    flow_config,
    higher_priority_waiting,
    is_subscribed,
    recent_send_times,
    suppressed,
)
from app.heartbeats import process_name
from app.kizuna import Kizuna
from app.models import Customer, Shop
from app.models.flow import FlowRun, Message
from app.services.inquiries import marketing_paused
from connectors.base import ConnectorError, RetryableError
from connectors.sendgrid.client import SendGridClient, SendOutcomeUnknown
from connectors.sendgrid.mail import (
    KIZUNA_MESSAGE_ID_ARG,
    MAX_PERSONALIZATIONS,
    OutgoingEmail,
    build_batch,
    build_mail_body,
    refusal,
)
from jobs.context import kizuna_job

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_DELAY = timedelta(minutes=5)
_ERROR_LIMIT = 500

_clients = threading.local()  # SendGridClient is not for sharing across threads


def sendgrid_client(config: Config) -> SendGridClient:
    """Real SendGrid when SENDGRID_API_KEY is set, else the simulated one at
    SENDGRID_SANDBOX_URL (the demo starts it); neither configured is a ConnectorError.
    One client per thread and destination, reused by every send (with its connection)."""
    clients: dict[tuple[str, str | None], SendGridClient] = _clients.__dict__.setdefault(
        "by_destination", {}
    )
    key: tuple[str, str | None]
    if config.sendgrid_api_key:
        key = (config.sendgrid_api_key, None)
        if key not in clients:
            clients[key] = SendGridClient(config.sendgrid_api_key)
        return clients[key]
    if config.sendgrid_sandbox_url:
        key = ("sandbox", config.sendgrid_sandbox_url)
        if key not in clients:
            clients[key] = SendGridClient(
                "sandbox", base_url=config.sendgrid_sandbox_url, max_attempts=3
            )
        return clients[key]
    raise ConnectorError("SendGrid is not configured (SENDGRID_API_KEY)", code="not_configured")


def _block_reason(session: Session, msg: Message, run: FlowRun, customer: Customer | None) -> str:
    if customer is None or not is_subscribed(customer):
        return "no_consent"
    if suppressed(session, msg.shop_id, customer.email):
        return "suppressed"
    if marketing_paused(session, msg.shop_id, customer.id):  # an open complaint pauses marketing
        return "complaint_open"
    if run.status == "exited":
        return f"run_exited:{run.exit_reason}"
    return exit_reason(session, run) or ""


def _check_and_render(
    runtime: Kizuna,
    session: Session,
    msg: Message,
    now: datetime,
    *,
    shared: dict[str, SharedContent] | None = None,
) -> tuple[str, OutgoingEmail | None]:
    """The send-time checks for one locked `pending` message, then its email: → ("ready",
    email), or (suppressed | skipped | postponed, None) with the row already updated. With
    `shared` (win-back), the email is on shared content, rendered once per language there."""
    run = session.get_one(FlowRun, msg.flow_run_id)
    customer = session.scalars(
        select(Customer).where(Customer.shop_id == msg.shop_id, Customer.id == msg.customer_id)
    ).one_or_none()
    reason = _block_reason(session, msg, run, customer)
    if reason:
        consent = reason in ("no_consent", "suppressed")
        msg.status = "suppressed" if consent else "skipped"
        msg.last_error = reason
        return msg.status, None
    assert customer is not None  # noqa: S101 - _block_reason checked it
    shop = session.get_one(Shop, msg.shop_id)
    _enabled, config = flow_config(session, msg.shop_id, run.flow_key)
    due = max(now, msg.not_before or now)
    if higher_priority_waiting(session, msg, run.flow_key, now):  # cart first
        due = max(due, now + PRIORITY_DELAY)
    when = next_send_time(
        due,
        recent_send_times(session, msg.shop_id, msg.customer_id, now, msg.id),
        shop_zone(shop.timezone),
        config,
    )
    if when > now:
        msg.not_before = when
        enqueue_send(session, msg.id, when)
        log.info("send postponed message_id=%s until=%s", msg.id, when.isoformat())
        return "postponed", None
    lang = language(customer, shop)
    if run.flow_key == WINBACK:
        if shared is not None:
            if lang not in shared:
                shared[lang] = winback.render_shared(shop, msg.step, lang)
            email = winback.shared_email(runtime.config, shop, customer, msg, shared[lang])
        else:
            email = winback.render(runtime.config, shop, customer, msg, lang)
    elif run.flow_key in POST_PURCHASE_FLOWS:
        email = post_purchase.render(runtime.config, session, shop, customer, run, msg, lang, now)
    else:
        checkout = cart_checkout(session, msg.shop_id, run.trigger_key)
        if checkout is None:
            raise NoResultFound(f"no checkout for run {run.id}")
        email = render(runtime.config, shop, customer, checkout, run, msg)
    return "ready", email


def _claim(msg: Message, email: OutgoingEmail, now: datetime) -> None:
    msg.subject = email.subject
    msg.status, msg.attempts, msg.sent_at = "sending", msg.attempts + 1, now
    msg.claimed_by = process_name()


def _prepare(runtime: Kizuna, message_id: int, now: datetime) -> tuple[str, dict[str, Any] | None]:
    """Checks and claim, in one committed transaction: → (outcome, body to send or None)."""
    with runtime.db.session() as session:
        msg = session.scalars(
            select(Message).where(Message.id == message_id).with_for_update()
        ).one_or_none()
        if msg is None or msg.status != "pending":
            return "skipped", None
        outcome, email = _check_and_render(runtime, session, msg, now)
        if email is None:
            session.commit()
            return outcome, None
        problem = refusal(email)
        if problem is not None:
            msg.status, msg.last_error = "failed", problem
            session.commit()
            return "failed", None
        body = build_mail_body(email)
        _claim(msg, email, now)
        session.commit()
        return "sending", body


# --- campaign-size sends ---------------------------------------------------------------------

# Flows whose emails differ per recipient only by substitutions: their due messages of one shop
# and step leave together, up to 1,000 recipients per Mail Send request.
BATCHED_FLOWS = frozenset({WINBACK})
BATCH_LIMIT = MAX_PERSONALIZATIONS


def _batched_flow(runtime: Kizuna, message_id: int) -> str | None:
    with runtime.db.session() as session:
        flow_key = session.scalar(
            select(FlowRun.flow_key)
            .join(Message, Message.flow_run_id == FlowRun.id)
            .where(Message.id == message_id)
        )
    return flow_key if flow_key in BATCHED_FLOWS else None


def _prepare_batch(
    runtime: Kizuna, message_id: int, flow_key: str, now: datetime
) -> tuple[str, list[OutgoingEmail]]:
    """Lock the due `pending` messages of this message's shop, flow and step (this one first,
    up to BATCH_LIMIT, skipping rows another worker holds), check and render each, and claim
    the ready ones in one committed transaction: → (this message's outcome, the emails)."""
    with runtime.db.session() as session:
        first = session.scalars(
            select(Message).where(Message.id == message_id).with_for_update()
        ).one_or_none()
        if first is None or first.status != "pending":
            return "skipped", []
        others = session.scalars(
            select(Message)
            .join(FlowRun, FlowRun.id == Message.flow_run_id)
            .where(
                Message.shop_id == first.shop_id,
                Message.step == first.step,
                Message.status == "pending",
                Message.id != first.id,
                FlowRun.flow_key == flow_key,
                (Message.not_before.is_(None)) | (Message.not_before <= now),
            )
            .order_by(Message.id)
            .limit(BATCH_LIMIT - 1)
            .with_for_update(skip_locked=True, of=Message)
        ).all()
        outcome, emails, customers = "skipped", [], set()
        contents: dict[str, SharedContent] = {}
        for msg in (first, *others):
            if msg.customer_id in customers:  # one email per customer per request
                continue
            result, email = _check_and_render(runtime, session, msg, now, shared=contents)
            if email is not None and (problem := refusal(email)) is not None:
                msg.status, msg.last_error, email, result = "failed", problem, None, "failed"
            if email is not None:
                _claim(msg, email, now)
                emails.append(email)
                customers.add(msg.customer_id)
                result = "sending"
            if msg.id == first.id:
                outcome = result
        session.commit()
    return outcome, emails


def _send_batch(runtime: Kizuna, message_id: int, flow_key: str, now: datetime) -> str:
    """Send the due messages of this one's shop, flow and step together; → this one's outcome
    (as `send_message`)."""
    outcome, emails = _prepare_batch(runtime, message_id, flow_key, now)
    return deliver(runtime, emails, flow_key).get(message_id, outcome)


def deliver(runtime: Kizuna, emails: list[OutgoingEmail], flow_key: str) -> dict[int, str]:
    """Send claimed (`sending`) messages, up to 1,000 recipients per request; → message id →
    sent, unknown, pending (retried later, `failed` after MAX_ATTEMPTS) or failed. Each
    request's outcome applies to every message it carried."""
    statuses: dict[int, str] = {}
    client = sendgrid_client(runtime.config) if emails else None
    for body in build_batch(emails):
        ids = [
            int(p["custom_args"][KIZUNA_MESSAGE_ID_ARG]) for p in body.get("personalizations", [])
        ]
        assert client is not None  # noqa: S101 - emails exist
        try:
            result = client.send(body)
        except SendOutcomeUnknown:
            status, values = "unknown", {"status": "unknown", "last_error": "outcome_unknown"}
        except RetryableError as error:
            status, values = "pending", {"status": "pending", "last_error": str(error)}
        except ConnectorError as error:
            status, values = "failed", {"status": "failed", "last_error": str(error)}
        else:
            with runtime.db.session() as session:
                session.execute(
                    update(Message)
                    .where(Message.id.in_(ids))
                    .values(status="sent", x_message_id=result.message_id, last_error=None)
                )
                session.commit()
            status, values = "sent", {}
        statuses.update(dict.fromkeys(ids, status))
        if "last_error" in values:
            values["last_error"] = values["last_error"][:_ERROR_LIMIT]
        for each in ids if values else ():
            if values["status"] == "pending":
                attempts = _attempts(runtime, each)
                values = {**values, "status": "failed" if attempts >= MAX_ATTEMPTS else "pending"}
            _finish(runtime, each, **values)
            statuses[each] = values["status"]
        log.info("batch sent flow=%s recipients=%s outcome=%s", flow_key, len(ids), status)
    return statuses


def _attempts(runtime: Kizuna, message_id: int) -> int:
    with runtime.db.session() as session:
        return int(session.get_one(Message, message_id).attempts)


def _finish(runtime: Kizuna, message_id: int, **values: Any) -> Message:
    with runtime.db.session() as session:
        msg = session.get_one(Message, message_id)
        for name, value in values.items():
            setattr(msg, name, value)
        if values.get("status") == "failed":
            shop = session.get_one(Shop, msg.shop_id)
            flow_key = session.scalar(select(FlowRun.flow_key).where(FlowRun.id == msg.flow_run_id))
            flow_name = (flow_key or "flow").replace("_", "-")
            shop.last_error = (
                f"A {flow_name} email (message {msg.id}) was refused: {msg.last_error}"
            )[:_ERROR_LIMIT]
            shop.last_error_at = utcnow()
        if values.get("status") == "pending":
            enqueue_send(session, msg.id, utcnow() + RETRY_DELAY)
        session.commit()
        return msg


def _mark_sent(runtime: Kizuna, message_id: int, x_message_id: str | None) -> None:
    """The common outcome, in one statement: the claimed row becomes `sent`."""
    with runtime.db.session() as session:
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(status="sent", x_message_id=x_message_id, last_error=None)
        )
        session.commit()


@kizuna_job
def send_message(runtime: Kizuna, message_id: int, now: datetime | None = None) -> str:
    """Send one pending message; returns sent, unknown, failed, pending (retry later),
    postponed, suppressed or skipped."""
    now = now or utcnow()
    batched = _batched_flow(runtime, message_id)
    if batched is not None:
        return _send_batch(runtime, message_id, batched, now)
    outcome, body = _prepare(runtime, message_id, now)
    if body is None:
        return outcome
    try:
        result = sendgrid_client(runtime.config).send(body)
    except SendOutcomeUnknown:
        _finish(runtime, message_id, status="unknown", last_error="outcome_unknown")
        return "unknown"
    except RetryableError as error:
        with runtime.db.session() as session:
            attempts = session.get_one(Message, message_id).attempts
        status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        _finish(runtime, message_id, status=status, last_error=str(error)[:_ERROR_LIMIT])
        return status
    except ConnectorError as error:  # 4xx (incl. 401/403) and "not configured": never retried
        _finish(runtime, message_id, status="failed", last_error=str(error)[:_ERROR_LIMIT])
        return "failed"
    _mark_sent(runtime, message_id, result.message_id)
    log.info("email sent message_id=%s", message_id)
    return "sent"
