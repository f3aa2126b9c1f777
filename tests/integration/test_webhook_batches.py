"""Webhook events claimed from the inbox in batches: on PostgreSQL, concurrent claimers never
take the same event, a batch is applied set-wise and once, a poisoned event fails alone (retried
with backoff, then shown on the shop), and a worker killed mid-batch loses nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Customer, Order, Shop, WebhookEvent
from app.services.process_webhook import MAX_ATTEMPTS, claim, process_pending
from jobs.webhook_inbox import LISTEN_TIMEOUT_S, drain, run_inbox
from tests.conftest import make_test_env
from tests.factories import shopify_webhooks
from tests.factories.shopify_webhooks import deliver, sample_body
from tests.processes import start_group, stop_group

shop = shopify_webhooks.shop

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def customer(number: int, **changes: Any) -> dict[str, Any]:
    return {
        **sample_body("customers.update.json"),
        "id": 5_000_000 + number,
        "admin_graphql_api_id": f"gid://shopify/Customer/{5_000_000 + number}",
        "email": f"buyer{number}@example.jp",
        "updated_at": "2026-05-01T10:00:00Z",
        **changes,
    }


def deliver_customers(client: Any, count: int, start: int = 0) -> None:
    for number in range(start, start + count):
        response = deliver(client, "customers/update", customer(number), webhook_id=f"c-{number}")
        assert response.status_code == 200


def statuses(db: Session) -> Counter[tuple[str, int]]:
    db.expire_all()
    return Counter(
        (status, attempts)
        for status, attempts in db.execute(select(WebhookEvent.status, WebhookEvent.attempts))
    )


def test_concurrent_claimers_never_take_the_same_event(
    client: Any, db: Session, shop: Shop, runtime: Any
) -> None:
    deliver_customers(client, 30)
    with runtime.db.session() as first, runtime.db.session() as second:
        taken_first = {event.id for event in claim(first, 20, utcnow())}
        taken_second = {event.id for event in claim(second, 20, utcnow())}
        assert len(taken_first) == 20
        assert len(taken_second) == 10  # the rest: the first claimer's rows are skipped
        assert not taken_first & taken_second
        first.rollback()  # a claim given up: its events are pending again, attempts unchanged
        second.commit()
    assert statuses(db) == Counter({("pending", 0): 20, ("pending", 1): 10})


def test_workers_draining_together_apply_every_event_once(
    client: Any, db: Session, shop: Shop, runtime: Any, app: Any
) -> None:
    deliver_customers(client, 120)
    # Redeliveries and a newer version of some customers, all in the inbox at once.
    deliver_customers(client, 20)
    for number in range(10):
        newer = customer(number, first_name="Newer", updated_at="2026-05-02T10:00:00Z")
        deliver(client, "customers/update", newer, webhook_id=f"newer-{number}")
    claimed: list[int] = []

    def work() -> None:
        with app.app_context():
            while count := process_pending(runtime, 7):
                claimed.append(count)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(claimed) == 130
    assert statuses(db) == Counter({("processed", 1): 130})
    assert db.scalar(select(func.count(Customer.id))) == 120
    newer = db.scalars(select(Customer.first_name).where(Customer.first_name == "Newer")).all()
    assert len(newer) == 10


def test_a_batch_applies_orders_set_wise_and_reaches_the_flows(
    client: Any, db: Session, shop: Shop, drain_jobs: Any
) -> None:
    body = sample_body("orders.create.json")
    for number in range(5):
        order = {
            **body,
            "id": 9_100 + number,
            "admin_graphql_api_id": f"gid://shopify/Order/{9_100 + number}",
            "name": f"#{9_100 + number}",
        }
        deliver(client, "orders/create", order, webhook_id=f"o-{number}")
        deliver(
            client, "orders/paid", {**order, "financial_status": "paid"}, webhook_id=f"p-{number}"
        )
    drain_jobs()
    assert statuses(db) == Counter({("processed", 1): 10})
    assert db.scalar(select(func.count(Order.id))) == 5
    [count] = db.scalars(select(Customer.orders_count)).all()
    assert count == 5


def test_a_poisoned_event_fails_alone_and_does_not_block_its_batch(
    client: Any, db: Session, shop: Shop, runtime: Any
) -> None:
    deliver_customers(client, 3)
    # Maps fine, but the database refuses it (a country code longer than two letters).
    poisoned = customer(99, default_address={"city": "Kyoto", "country_code": "JPN"})
    deliver(client, "customers/update", poisoned, webhook_id="poisoned")
    deliver_customers(client, 3, start=3)

    assert drain(runtime) == 6 + 1
    assert statuses(db) == Counter({("processed", 1): 6, ("pending", 1): 1})
    event = db.scalars(select(WebhookEvent).where(WebhookEvent.dedupe_key == "poisoned")).one()
    assert event.last_error == "DataError"
    assert event.next_attempt_at is not None
    assert event.next_attempt_at > utcnow()
    assert event.payload is not None
    assert drain(runtime) == 0  # not due before its backoff

    for _attempt in range(MAX_ATTEMPTS - 1):
        db.execute(update(WebhookEvent).values(next_attempt_at=None))  # its backoff passes
        db.commit()
        deliver_customers(client, 1, start=100 + _attempt)  # new events keep flowing past it
        drain(runtime)
    db.expire_all()
    assert statuses(db) == Counter(
        {("processed", 1): 6 + MAX_ATTEMPTS - 1, ("failed", MAX_ATTEMPTS): 1}
    )
    event = db.scalars(select(WebhookEvent).where(WebhookEvent.dedupe_key == "poisoned")).one()
    assert event.payload is None
    stored = db.get(Shop, shop.id)
    assert stored is not None
    assert f"event {event.id}" in (stored.last_error or "")
    assert "Kizuna hit an internal error (logged)." in (stored.last_error or "")
    assert event.last_error == "DataError"  # for support; the merchant reads its class
    assert event.last_error_code == "webhook_error.internal"


CLAIM_AND_HANG = """
import sys, time
from app import create_app
from app.db import utcnow
from app.services.process_webhook import claim
runtime = create_app().extensions["kizuna"]
with runtime.db.session() as session:
    events = claim(session, 50, utcnow())
    print(len(events), flush=True)
    time.sleep(60)
"""


def test_a_worker_killed_mid_batch_loses_nothing(
    client: Any, db: Session, shop: Shop, runtime: Any, config: Any, redis_url: str, tmp_path: Path
) -> None:
    deliver_customers(client, 8)
    env = {
        **os.environ,
        **make_test_env(config.database_url, redis_url),
        "KIZUNA_INSTANCE": str(tmp_path / "killed"),
        "PYTHONPATH": str(ROOT),
    }
    worker = start_group(
        [sys.executable, "-c", CLAIM_AND_HANG], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == b"8"  # holds the whole batch, mid-work
        assert drain(runtime) == 0  # nothing to take while it holds them
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        stop_group(worker)
    # Its transaction died with it: the events are pending again, their attempt not counted.
    deadline_drained = 0
    for _try in range(50):
        deadline_drained += drain(runtime)
        if deadline_drained == 8:
            break
        threading.Event().wait(0.1)  # the server notices the dropped connection
    assert deadline_drained == 8
    assert statuses(db) == Counter({("processed", 1): 8})


def test_a_listening_worker_is_woken_by_the_insert_of_a_pending_event(
    client: Any, db: Session, shop: Shop, runtime: Any
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=run_inbox, args=(runtime, stop), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # listening, then waiting up to LISTEN_TIMEOUT_S for a notification
        delivered = time.monotonic()
        deliver_customers(client, 1)
        while statuses(db) != Counter({("processed", 1): 1}):
            assert time.monotonic() - delivered < LISTEN_TIMEOUT_S * 0.8, "not woken"
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=LISTEN_TIMEOUT_S + 5)
    assert not thread.is_alive()
