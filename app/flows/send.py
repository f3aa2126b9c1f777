"""The send step: flow emails through SendGrid, one message or a claimed batch (`deliver`).

Layer: services; each step commits. Acts only on `pending` rows, decides again, claims and commits
before the API call. 4xx → `failed`, never retried; a lost answer → `unknown`, never resent
blindly (Mail Send has no idempotency key); cap and quiet hours postpone, never drop. A
message's problem is a code with its values (`services.shop_errors.message_failure`), worded by
`app.i18n.message_problem`: never SendGrid's words (they can quote an address); the log keeps
the error's class and HTTP status.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Config
from app.db import utcnow
from app.flows import registry
from app.flows.content import SharedContent, language
from app.flows.coupons import create_step_coupon, step_terms, with_coupon
from app.flows.facts import FactSet
from app.flows.rules import Exit, Postpone, Skip, decide
from app.flows.runs import waiting_reason
from app.flows.scheduling import enqueue_send
from app.heartbeats import process_name
from app.kizuna import Kizuna
from app.models import Shop
from app.models.flow import FlowRun, Message
from app.services.shop_errors import (
    message_failure,
    record_email_refusal,
    sending_refusal,
    unsendable,
)
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

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_DELAY = timedelta(minutes=5)

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


def _decide_and_render(
    runtime: Kizuna,
    session: Session,
    facts: FactSet,
    run: FlowRun,
    msg: Message,
    now: datetime,
    *,
    shared: dict[str, SharedContent] | None = None,
) -> tuple[str, OutgoingEmail | None]:
    """`rules.decide` for one locked `pending` message, then — ready — the send step: the
    flow's explicit side effect (the cart's discount code), then its email (rendering has no
    side effects). → ("ready", email), or (suppressed | skipped | postponed, None) with the row
    already updated. With `shared` (win-back), the email is on shared content, rendered once
    per language there."""
    decision = decide(facts.facts(run, msg), now)
    if isinstance(decision, Exit | Skip):
        consent = isinstance(decision, Exit) and decision.consent
        msg.status = "suppressed" if consent else "skipped"
        msg.last_error = decision.reason
        return msg.status, None
    if isinstance(decision, Postpone):
        msg.not_before = decision.until
        msg.last_error = waiting_reason(decision)
        enqueue_send(session, msg.id, decision.until)
        log.info("send postponed message_id=%s until=%s", msg.id, decision.until.isoformat())
        return "postponed", None
    customer, shop = facts.customer(run), facts.shop
    assert customer is not None  # noqa: S101 - decided above
    assert shop is not None  # noqa: S101 - decided above
    facts.record_send(customer.id, now)
    definition = registry.get(run.flow_key)
    lang = language(customer, shop)
    defaults = definition.form.defaults
    coupon = (
        None
        if definition.create_code
        else step_terms(session, shop.id, run.flow_key, msg.step, defaults)
    )
    render_shared, shared_email = definition.render_shared, definition.shared_email
    if shared is not None and coupon is None and render_shared and shared_email:
        if lang not in shared:
            shared[lang] = render_shared(session, shop, msg.step, lang)
        email = shared_email(runtime.config, shop, customer, run, msg, shared[lang], {})
        if email is not None:
            return "ready", email
    # The send step's explicit side effect, before rendering: the flow's own code (the cart's
    # discount) or the coupon its settings put on this step.
    if definition.create_code is not None:
        code = definition.create_code(session, shop, run, msg)
    else:
        code = create_step_coupon(session, shop, run, msg, defaults)
    msg.coupon_code = code  # what the Outbox shows when it renders this email again
    email = definition.render(
        runtime.config, session, shop, customer, run, msg, lang, now, discount_code=code
    )
    if coupon is not None and code is not None:
        email = with_coupon(email, shop, coupon, code, lang)
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
        run = session.get_one(FlowRun, msg.flow_run_id)
        facts = FactSet(session, msg.shop_id, run.flow_key, [run], now, messages=[msg])
        outcome, email = _decide_and_render(runtime, session, facts, run, msg, now)
        if email is None:
            session.commit()
            return outcome, None
        problem = refusal(email)
        if problem is not None:
            msg.status, msg.last_error = "failed", unsendable(msg.id, problem)
            session.commit()
            return "failed", None
        body = build_mail_body(email)
        _claim(msg, email, now)
        session.commit()
        return "sending", body


# --- campaign-size sends ---------------------------------------------------------------------

# A flow whose definition `sends_together` (win-back: emails that differ per recipient only by
# substitutions): a message's send takes the due messages of its shop and step with it, up to
# 1,000 recipients per Mail Send request.
BATCH_LIMIT = MAX_PERSONALIZATIONS


def _batched_flow(runtime: Kizuna, message_id: int) -> str | None:
    with runtime.db.session() as session:
        flow_key = session.scalar(
            select(FlowRun.flow_key)
            .join(Message, Message.flow_run_id == FlowRun.id)
            .where(Message.id == message_id)
        )
    if flow_key is None or not registry.get(flow_key).sends_together:
        return None
    return flow_key


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
        batch = (first, *others)
        runs = {
            run.id: run
            for run in session.scalars(
                select(FlowRun).where(FlowRun.id.in_({msg.flow_run_id for msg in batch}))
            )
        }
        facts = FactSet(session, first.shop_id, flow_key, list(runs.values()), now, batch)
        for msg in batch:
            if msg.customer_id in customers:  # one email per customer per request
                continue
            if msg.flow_run_id is None:  # a campaign's message is never in a flow's batch
                continue
            run = runs[msg.flow_run_id]
            result, email = _decide_and_render(
                runtime, session, facts, run, msg, now, shared=contents
            )
            if email is not None and (problem := refusal(email)) is not None:
                msg.status, msg.last_error = "failed", unsendable(msg.id, problem)
                email, result = None, "failed"
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
        reason: dict[str, Any] | None = None
        try:
            result = client.send(body)
        except SendOutcomeUnknown:
            status, values = "unknown", {"status": "unknown", "last_error": "outcome_unknown"}
        except ConnectorError as error:  # RetryableError: retried later, up to MAX_ATTEMPTS
            status = "pending" if isinstance(error, RetryableError) else "failed"
            values = {"status": status, "last_error": message_failure(error)}
            reason = sending_refusal(error)
            _log_failure(error, f"flow={flow_key} recipients={len(ids)}")
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
        for each in ids if values else ():
            if values["status"] == "pending":
                attempts = _attempts(runtime, each)
                values = {**values, "status": "failed" if attempts >= MAX_ATTEMPTS else "pending"}
            _finish(runtime, each, reason, **values)
            statuses[each] = values["status"]
        log.info("batch sent flow=%s recipients=%s outcome=%s", flow_key, len(ids), status)
    return statuses


def _log_failure(error: ConnectorError, which: str) -> None:
    """SendGrid did not take a request (`which` emails): its class of error and HTTP status,
    never its words."""
    log.warning(
        "flow email not sent %s error=%s status=%s", which, type(error).__name__, error.status
    )


def _attempts(runtime: Kizuna, message_id: int) -> int:
    with runtime.db.session() as session:
        return int(session.get_one(Message, message_id).attempts)


def _finish(
    runtime: Kizuna, message_id: int, reason: dict[str, Any] | None = None, **values: Any
) -> Message:
    """Set the message's `values`; a failed one goes on its shop, worded from `reason`."""
    with runtime.db.session() as session:
        msg = session.get_one(Message, message_id)
        for name, value in values.items():
            setattr(msg, name, value)
        if values.get("status") == "failed":
            shop = session.get_one(Shop, msg.shop_id)
            flow_key = session.scalar(select(FlowRun.flow_key).where(FlowRun.id == msg.flow_run_id))
            record_email_refusal(shop, flow_key, msg.id, reason)
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
        _log_failure(error, f"message_id={message_id}")
        with runtime.db.session() as session:
            attempts = session.get_one(Message, message_id).attempts
        status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        _finish(
            runtime,
            message_id,
            sending_refusal(error),
            status=status,
            last_error=message_failure(error),
        )
        return status
    except ConnectorError as error:  # 4xx (incl. 401/403) and "not configured": never retried
        _log_failure(error, f"message_id={message_id}")
        _finish(
            runtime,
            message_id,
            sending_refusal(error),
            status="failed",
            last_error=message_failure(error),
        )
        return "failed"
    _mark_sent(runtime, message_id, result.message_id)
    log.info("email sent message_id=%s", message_id)
    return "sent"
