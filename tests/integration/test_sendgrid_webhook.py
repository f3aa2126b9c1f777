"""`POST /webhooks/sendgrid` over real HTTP, signed by the simulated SendGrid's own key: good and
bad signatures, deduplication on both keys, engagement stamps, bounces that suppress.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Customer
from app.models.flow import Message, MessageEvent, Suppression
from app.queueing import EMAIL, WEBHOOKS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step
from tests.factories import cart_flow
from tests.factories.cart_flow import deliver_checkout, messages, runs, setup_shop

config = cart_flow.config
sendgrid = cart_flow.sendgrid

# The same fixtures as the cart flow: a served sandbox, and a config pointing at it.


@pytest.fixture
def events_url(app: Flask, serve: Any) -> str:
    return serve(app).url + "/webhooks/sendgrid"


@pytest.fixture
def sent(client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid) -> Any:
    """One cart email, sent: → the sandbox's outbox message."""
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [message] = sendgrid.outbox
    return message


def event_count(db: Session) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count(MessageEvent.id))) or 0)


def test_signed_events_are_recorded_once_and_stamp_the_message(
    db: Session, sendgrid: SandboxSendGrid, sent: Any, events_url: str
) -> None:
    events = sendgrid.events_for(sent, ("processed", "delivered", "open", "click"))
    assert sendgrid.emit_events(events_url, events) == 200
    assert event_count(db) == 4
    [msg] = messages(db)
    assert msg.delivered_at is not None
    assert msg.opened_at is not None
    assert msg.clicked_at is not None

    # A retried batch (same sg_event_id) and a duplicate under a new sg_event_id add nothing.
    assert sendgrid.emit_events(events_url, events) == 200
    renamed = [{**event, "sg_event_id": event["sg_event_id"] + "-again"} for event in events]
    assert sendgrid.emit_events(events_url, renamed) == 200
    assert event_count(db) == 4


def test_a_bad_signature_is_401_and_stores_nothing(
    db: Session, sendgrid: SandboxSendGrid, sent: Any, events_url: str
) -> None:
    body, headers = sendgrid.signed_delivery(sendgrid.events_for(sent, ("bounce",)))
    tampered = body.replace(b"bounce", b"delivered")
    response = httpx.post(events_url, content=tampered, headers=headers)
    assert response.status_code == 401
    unsigned = {k: v for k, v in headers.items() if "Signature" not in k}
    assert httpx.post(events_url, content=body, headers=unsigned).status_code == 401
    assert event_count(db) == 0
    assert db.scalars(select(Suppression)).all() == []


def test_a_bounce_suppresses_the_address_and_unsubscribes(
    db: Session, sendgrid: SandboxSendGrid, sent: Any, events_url: str
) -> None:
    assert sendgrid.emit_events(events_url, sendgrid.events_for(sent, ("bounce",))) == 200
    db.expire_all()
    [suppression] = db.scalars(select(Suppression)).all()
    assert (suppression.email_normalized, suppression.reason) == ("hanako@example.jp", "bounce")
    assert db.scalars(select(Customer)).one().email_marketing_state == "UNSUBSCRIBED"
    [run] = runs(db)
    assert (run.status, run.exit_reason) == ("exited", "bounce")


def test_events_settle_an_unknown_message_as_sent(
    db: Session, sendgrid: SandboxSendGrid, sent: Any, events_url: str
) -> None:
    msg = db.scalars(select(Message)).one()
    msg.status, msg.x_message_id = "unknown", None
    db.commit()
    assert sendgrid.emit_events(events_url, sendgrid.events_for(sent, ("processed",))) == 200
    [msg] = messages(db)
    assert msg.status == "sent"
    assert msg.x_message_id == sent.x_message_id
