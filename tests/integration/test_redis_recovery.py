"""Redis restarted without its data, or the database down: on PostgreSQL, Redis and the
simulated SendGrid, in-flight work resumes at once and requests get a 503, never a 500."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rq import Queue
from rq.job import JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import create_app
from app.config import load_config
from app.heartbeats import beat_worker, worker_lost
from app.models import WebhookEvent
from app.models.flow import FlowRun, Message
from app.queueing import QUEUE_NAMES, WEBHOOKS, enqueue
from app.tasks import SWEEP_WEBHOOK_EVENTS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step, sweep_flow_runs
from jobs.message_sweep import sweep_messages
from jobs.redis_recovery import recover_if_emptied
from jobs.sweeper import sweep_webhook_events
from tests.conftest import make_test_env
from tests.factories import cart_flow
from tests.factories.cart_flow import checkout_body, deliver_checkout, messages, runs, setup_shop
from tests.factories.shopify_webhooks import deliver

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _release_scheduled(runtime: Any) -> None:
    """Move every scheduled job to its queue now, as RQ's scheduler does when they fall due."""
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=runtime.redis)
        registry = ScheduledJobRegistry(queue=queue)
        for scheduled_id in registry.get_job_ids():
            job = queue.fetch_job(scheduled_id)
            if job is not None:
                registry.remove(job)
                queue.enqueue_job(job)


def test_redis_back_empty_resumes_events_steps_and_sends_at_once(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    assert recover_if_emptied(runtime.redis, first_tick=True)  # a new deployment sweeps once
    drain_jobs()
    deliver_checkout(client)
    drain_jobs()
    (run,) = runs(db)
    # The run's first step falls due now, and a second checkout's webhook is recorded.
    db.execute(update(FlowRun).values(next_step_at=datetime.now(UTC)))
    db.commit()
    second = checkout_body(token="cart-token-0002")
    assert deliver(client, "checkouts/create", second, webhook_id="wh-2").status_code == 200

    runtime.redis.flushdb()  # Redis restarts without its data: every job is gone

    # Nothing is overdue enough for the periodic sweepers yet: without recovery, all would wait.
    assert sweep_webhook_events() == 0
    assert sweep_flow_runs() == 0
    assert recover_if_emptied(runtime.redis)
    assert not recover_if_emptied(runtime.redis)  # once per loss
    drain_jobs()
    _release_scheduled(runtime)  # the step's dispatch job is scheduled for the next second
    drain_jobs()
    db.expire_all()
    statuses = set(db.scalars(select(WebhookEvent.status)))
    assert statuses == {"processed"}
    assert len(runs(db)) == 2
    [message] = messages(db)
    assert message.flow_run_id == run.id
    assert message.status == "sent"
    assert [m.kizuna_message_id for m in sendgrid.outbox] == [str(message.id)]
    assert sweep_messages(lost_after=0.0) == {"requeued": 0, "unknown": 0}


def test_a_pending_send_whose_job_was_lost_is_requeued_within_a_minute(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs()
    db.execute(update(FlowRun).values(next_step_at=datetime.now(UTC)))
    db.commit()
    (run,) = runs(db)

    assert run_flow_step(run.id, 1) == "created"
    runtime.redis.flushdb()
    [message] = messages(db)
    assert sweep_messages() == {"requeued": 0, "unknown": 0}  # due seconds ago: not lost yet
    assert sweep_messages(lost_after=0.0) == {"requeued": 1, "unknown": 0}
    drain_jobs()
    assert [m.kizuna_message_id for m in sendgrid.outbox] == [str(message.id)]


def test_requests_during_a_database_outage_get_503_and_retry_after(
    redis_url: str, tmp_path: Path
) -> None:
    env = make_test_env(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nothing", redis_url
    )
    app = create_app(load_config(env, instance_path=tmp_path))
    client = app.test_client()
    body = checkout_body()
    webhook = deliver(client, "checkouts/create", body, webhook_id="wh-outage")
    assert webhook.status_code == 503
    assert webhook.headers["Retry-After"] == "5"
    assert webhook.get_json() == {"error": "service_unavailable", "retry_after": 5}
    page = client.get("/app/customers", headers={"Authorization": "Bearer x.y.z"})
    assert page.status_code in (401, 503)  # a bad token is refused before the database
    login = client.post("/login", data={"email": "a@example.jp", "password": "x"})
    assert login.status_code in (400, 503)
    assert b"5432" not in login.data
    assert b"postgres" not in login.data


def test_a_job_whose_worker_died_mid_run_is_enqueued_again(runtime: Any) -> None:
    connection = runtime.redis
    queue = Queue(WEBHOOKS, connection=connection)
    job = queue.enqueue("jobs.sweeper.sweep_webhook_events", job_id="webhook-99")
    # A worker took it and beat a minute ago; then nothing (SIGKILL leaves no trace but this).
    job.set_status(JobStatus.STARTED)
    connection.hset(job.key, "worker_name", "host-a:4242")
    queue.remove(job)
    beat_worker(connection, "host-a:4242", [WEBHOOKS], now=time.time() - 60)
    assert worker_lost(connection, "host-a:4242")
    again = enqueue(connection, SWEEP_WEBHOOK_EVENTS, job_id="webhook-99")
    assert again is not None
    assert again.get_status() == JobStatus.QUEUED
    assert queue.job_ids == ["webhook-99"]


def test_a_job_running_in_a_live_worker_is_not_enqueued_twice(runtime: Any) -> None:
    connection = runtime.redis
    queue = Queue(WEBHOOKS, connection=connection)
    job = queue.enqueue("jobs.sweeper.sweep_webhook_events", job_id="webhook-98")
    job.set_status(JobStatus.STARTED)
    connection.hset(job.key, "worker_name", "host-b:4343")
    queue.remove(job)
    beat_worker(connection, "host-b:4343", [WEBHOOKS])
    assert not worker_lost(connection, "host-b:4343")
    assert not worker_lost(connection, "a-burst-worker-that-never-beats")
    enqueue(connection, SWEEP_WEBHOOK_EVENTS, job_id="webhook-98")
    assert queue.job_ids == []


def test_a_send_claimed_by_a_worker_that_died_is_settled_unknown_at_the_next_sweep(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs()
    (run,) = runs(db)
    db.execute(update(FlowRun).values(next_step_at=datetime.now(UTC)))
    db.commit()
    assert run_flow_step(run.id, 1) == "created"
    [message] = messages(db)
    # Claimed seconds ago by two workers: one still beats, the other was SIGKILLed a minute ago.
    for claimer in ("host-live:11", "host-dead:22"):
        db.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(status="sending", sent_at=datetime.now(UTC), claimed_by=claimer)
        )
        db.commit()
        beat_worker(runtime.redis, "host-live:11", ["email"])
        beat_worker(runtime.redis, "host-dead:22", ["email"], now=time.time() - 60)
        expected = 1 if claimer == "host-dead:22" else 0
        assert sweep_messages()["unknown"] == expected
    [settled] = messages(db)
    assert (settled.status, settled.last_error) == ("unknown", "worker_lost")
    drain_jobs()
    assert sendgrid.outbox == []  # never resent
