"""The "Flows" issue's acceptance points, end to end on PostgreSQL, Redis and the simulated
SendGrid over HTTP (helpers and fixtures from test_cart_flow).

Covered elsewhere, not repeated: quiet hours → sent at the morning edge
(`test_cart_flow::test_quiet_hours_postpone_the_send_to_the_morning`); 400 → `failed` and the
shop's last_error (`test_cart_flow::test_a_4xx_from_sendgrid_fails_the_message_and_tells_the_
merchant`; here only "not retried" is added); holdout share (`tests/unit/test_holdout_share.py`).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.orchestration import WINBACK, WINBACK_DEFAULTS
from app.flows.scheduling import step_job_id
from app.models import Customer, Shop
from app.models.flow import FlowRun, FlowSetting, Suppression
from app.queueing import EMAIL, FLOWS, WEBHOOKS
from app.tasks import DISPATCH_DUE_STEPS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import dispatch_due_steps, run_flow_step, sweep_flow_runs
from jobs.send_email import send_message
from tests.conftest import make_test_env
from tests.factories import cart_flow
from tests.factories.cart_flow import TOKEN, deliver_checkout, messages, runs, scheduled, setup_shop
from tests.factories.shopify_webhooks import deliver, sample_body

config = cart_flow.config
sendgrid = cart_flow.sendgrid

RECOVERY_URL = "https://shop.example/checkouts/cart-token-0001/recover?key=k"
REPO = Path(__file__).resolve().parents[2]

# The cart flow's fixtures: the simulated SendGrid on a port, and a config pointing at it.


def mail_statuses(sandbox: SandboxSendGrid) -> list[int]:
    return [record.status for record in sandbox.requests_to("/v3/mail/send")]


# --- 1. the cart flow's first email and what stops it ---------------------------------------


def test_first_email_is_scheduled_an_hour_after_the_checkout_with_url_and_items(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    before = datetime.now(UTC)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    registry = ScheduledJobRegistry(queue=Queue(FLOWS, connection=runtime.redis))
    assert run.next_step_at is not None
    job_id = step_job_id(run.shop_id, "cart", 1, run.next_step_at)
    due = registry.get_scheduled_time(job_id)
    assert before + timedelta(minutes=59) < due < datetime.now(UTC) + timedelta(minutes=61)
    job = Job.fetch(job_id, connection=runtime.redis)
    assert (job.func_name, job.args) == (DISPATCH_DUE_STEPS.path, (run.shop_id, "cart", 1))

    # The scheduled job, run when it falls due: the email leaves in the job itself.
    assert dispatch_due_steps(*job.args, now=due) == {"created": 1, "sent:sent": 1}
    [sent] = sendgrid.outbox
    for body in (sent.html or "", sent.text or ""):
        assert "抹茶セット" in body
    assert RECOVERY_URL in (sent.text or "")
    assert 'href="https://shop.example/checkouts/cart-token-0001/recover?key=k"' in (
        sent.html or ""
    )


def test_an_order_placed_at_thirty_minutes_sends_nothing(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    order = copy.deepcopy(sample_body("orders.create.json"))
    order["checkout_token"] = TOKEN
    assert deliver(client, "orders/create", order, webhook_id="wh-order-30").status_code == 200
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert (run.status, run.exit_reason) == ("exited", "ordered")
    assert run_flow_step(run.id, 1) == "stopped"  # the step job an hour later
    drain_jobs(EMAIL)
    assert messages(db) == []
    assert sendgrid.outbox == []


@pytest.mark.parametrize(
    ("consent", "suppressed", "reason"),
    [
        ("UNSUBSCRIBED", False, "no_consent"),
        (None, False, "no_consent"),  # never asked
        ("NOT_SUBSCRIBED", False, "no_consent"),
        ("SUBSCRIBED", True, "suppressed"),  # e.g. an earlier bounce
    ],
)
def test_without_consent_or_when_suppressed_nothing_is_sent(
    client: Any,
    db: Session,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
    consent: str | None,
    suppressed: bool,
    reason: str,
) -> None:
    shop = setup_shop(db)
    customer = db.scalars(select(Customer)).one()
    customer.email_marketing_state = consent
    if suppressed:
        db.add(Suppression(shop_id=shop.id, email_normalized="hanako@example.jp", reason="bounce"))
    db.commit()
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    for run in runs(db):  # without consent no run may even start; if one did, it exits
        assert run_flow_step(run.id, 1) == f"exited:{reason}"
    drain_jobs(EMAIL)
    assert messages(db) == []
    assert sendgrid.outbox == []


# --- 1. over the cap: the lower-priority flow waits, it is not lost --------------------------


def start_winback_run(db: Session, shop: Shop) -> FlowRun:
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key=WINBACK,
            config={**WINBACK_DEFAULTS, "holdout_percent": 0, "quiet_hours": None},
        )
    )
    customer = db.scalars(select(Customer)).one()
    run = FlowRun(shop_id=shop.id, flow_key=WINBACK, customer_id=customer.id, trigger_key="lapse:1")
    db.add(run)
    db.commit()
    return run


def test_cart_beats_winback_and_the_winback_email_is_postponed_then_sent(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [cart_run] = runs(db)
    winback_run = start_winback_run(db, shop)
    assert run_flow_step(cart_run.id, 1) == "created"
    assert run_flow_step(winback_run.id, 1) == "created"
    cart, winback = messages(db)
    t0 = utcnow()

    # Both due now; the win-back send runs first but yields to the waiting cart email.
    assert send_message(winback.id, now=t0) == "postponed"
    assert send_message(cart.id, now=t0) == "sent"
    # Its retry meets the cap (1 per 16 h): postponed again, to when the cap allows it.
    assert send_message(winback.id, now=t0 + timedelta(minutes=6)) == "postponed"
    winback = messages(db)[1]
    assert (winback.status, winback.not_before) == ("pending", t0 + timedelta(hours=16))
    assert [m.categories[1] for m in sendgrid.outbox] == ["flow-cart"]

    assert send_message(winback.id, now=t0 + timedelta(hours=16)) == "sent"
    assert [m.categories[1] for m in sendgrid.outbox] == ["flow-cart", "flow-winback"]
    assert [m.status for m in messages(db)] == ["sent", "sent"]


# --- 2. a worker killed after SendGrid accepted, before the database recorded it -------------


def test_a_worker_killed_after_sendgrid_accepted_never_sends_twice(
    client: Any,
    db: Session,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
    database_url: str,
    redis_url: str,
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run_flow_step(run.id, 1) == "created"
    [msg] = messages(db)

    # The sandbox stores the mail, then holds its 202 for 10 s; the worker dies meanwhile.
    sendgrid.delay_next(10.0)
    env = {
        **os.environ,
        **make_test_env(
            database_url,
            redis_url,
            APP_URL="https://kizuna.test",
            SENDGRID_SANDBOX_URL=str(sendgrid.url),  # type: ignore[attr-defined]
        ),
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", f"from jobs.send_email import send_message; send_message({msg.id})"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not sendgrid.outbox and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        assert len(sendgrid.outbox) == 1, worker.stderr.read() if worker.stderr else ""
        assert worker.poll() is None  # still waiting for SendGrid's answer
        worker.kill()  # SIGKILL: no except, no finally, nothing recorded
        assert worker.wait(10) == -9
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)

    [msg] = messages(db)
    assert (msg.status, msg.attempts, msg.x_message_id) == ("sending", 1, None)
    # The send job again (RQ retry, a duplicate enqueue) and the flow sweeper: nothing resends.
    assert send_message(msg.id) == "skipped"
    drain_jobs(EMAIL)
    sweep_flow_runs()
    drain_jobs(FLOWS, EMAIL)
    [accepted] = sendgrid.outbox
    assert accepted.kizuna_message_id == str(msg.id)

    # SendGrid's Event Webhook (every event carries kizuna_message_id) settles it as sent.
    body, headers = sendgrid.signed_delivery(sendgrid.events_for(accepted, ("processed",)))
    assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200
    [msg] = messages(db)
    assert msg.status == "sent"
    assert [m.kizuna_message_id for m in sendgrid.outbox] == [str(msg.id)]


# --- 3. SendGrid answers 429 then 202; 400 is not retried ------------------------------------


def test_429_then_202_sends_once(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    run_flow_step(run.id, 1)
    sendgrid.fail_next(429, reset_in=1.0)
    drain_jobs(EMAIL)
    assert mail_statuses(sendgrid) == [429, 202]
    [msg] = messages(db)
    assert (msg.status, msg.attempts) == ("sent", 1)
    assert len(sendgrid.outbox) == 1


def test_400_is_not_retried(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    run_flow_step(run.id, 1)
    sendgrid.fail_next(400)
    drain_jobs(EMAIL)
    [msg] = messages(db)
    assert (msg.status, msg.attempts) == ("failed", 1)
    assert scheduled(runtime, EMAIL) == []  # no retry scheduled
    assert send_message(msg.id) == "skipped"
    assert mail_statuses(sendgrid) == [400]
    assert sendgrid.outbox == []
    shop = db.scalars(select(Shop)).one()
    assert shop.last_error is not None
