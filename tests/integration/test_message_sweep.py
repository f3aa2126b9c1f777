"""The message sweeper on PostgreSQL, Redis and the simulated SendGrid: a lost send job is queued
again and sends once; a send a dead worker abandoned becomes `unknown` and is never resent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models.flow import Message
from app.queueing import EMAIL, FLOWS, WEBHOOKS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step
from jobs.message_sweep import sweep_messages
from tests.factories import cart_flow
from tests.factories.cart_flow import deliver_checkout, messages, runs, setup_shop

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration


def _created_message(client: Any, db: Session, runtime: Any, drain_jobs: Any) -> Message:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    (run,) = runs(db)
    assert run_flow_step(run.id, 1) == "created"
    # The send job is lost: Redis forgot it (flushed, expired, or never written).
    Queue(EMAIL, connection=runtime.redis).empty()
    (message,) = messages(db)
    assert message.status == "pending"
    return message


def _age(db: Session, message_id: int, **values: Any) -> None:
    db.execute(update(Message).where(Message.id == message_id).values(**values))
    db.commit()


def test_a_lost_send_job_is_queued_again_and_sends_once(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    message = _created_message(client, db, runtime, drain_jobs)
    assert sweep_messages() == {"requeued": 0, "unknown": 0}  # not overdue yet

    _age(db, message.id, created_at=datetime.now(UTC) - timedelta(minutes=20))
    assert sweep_messages() == {"requeued": 1, "unknown": 0}
    assert sweep_messages()["requeued"] == 1  # swept twice before a worker ran: one job id
    drain_jobs(EMAIL)
    assert [m.kizuna_message_id for m in sendgrid.outbox] == [str(message.id)]
    (sent,) = messages(db)
    assert sent.status == "sent"
    assert sent.x_message_id

    assert sweep_messages() == {"requeued": 0, "unknown": 0}
    drain_jobs(EMAIL, FLOWS)
    assert len(sendgrid.outbox) == 1


def test_an_abandoned_send_becomes_unknown_shows_on_the_status_and_is_never_resent(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    message = _created_message(client, db, runtime, drain_jobs)
    # A worker claimed the row a minute ago and is still talking to SendGrid: left alone.
    _age(db, message.id, status="sending", sent_at=datetime.now(UTC) - timedelta(minutes=1))
    assert sweep_messages() == {"requeued": 0, "unknown": 0}

    # The worker died between the claim and SendGrid's answer.
    _age(db, message.id, sent_at=datetime.now(UTC) - timedelta(minutes=20))
    assert sweep_messages() == {"requeued": 0, "unknown": 1}
    (settled,) = messages(db)
    assert (settled.status, settled.last_error) == ("unknown", "worker_lost")
    assert sweep_messages() == {"requeued": 0, "unknown": 0}
    drain_jobs(EMAIL, FLOWS)
    assert sendgrid.outbox == []

    status = client.get(f"/app/status.json?shop_id={settled.shop_id}")
    if status.status_code == 200:  # signed-in variant is covered by the admin tests
        assert status.get_json()["email"]["unknown"] == 1
