"""POST /webhooks/shopify end to end: verify, record once, process once, survive Redis outages.

Integration tests on real PostgreSQL and Redis; the inbox is drained and jobs run as burst
workers do. The Redis-outage test starts its own redis-server on a free port (the shared server
is never stopped or flushed).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from flask import Flask
from rq import Queue
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from app import create_app
from app import entry as process_runtime
from app.config import Config, load_config
from app.models import Customer, Shop, WebhookEvent
from app.queueing import WEBHOOKS
from app.services import process_webhook
from app.services.process_webhook import MAX_ATTEMPTS
from app.services.webhook_stats import rejected_count, webhook_counts
from jobs.process_webhook import process_webhook_event
from jobs.schedule import run_scheduler, schedule_sweep
from jobs.sweeper import sweep_webhook_events
from jobs.webhook_inbox import drain as drain_inbox
from jobs.worker import run_worker
from tests.conftest import SHOPIFY_API_SECRET_PREVIOUS, make_test_env
from tests.factories import shopify_webhooks
from tests.factories.admin import pages_in_both_languages
from tests.factories.shopify_webhooks import (
    DOMAIN,
    deliver,
    make_shop,
    sample_body,
    shopify_headers,
    sign,
)

shop = shopify_webhooks.shop


def events(db: Session) -> list[WebhookEvent]:
    db.expire_all()
    return list(db.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def customer_update(updated_at: str, first_name: str) -> dict[str, Any]:
    return {
        **sample_body("customers.update.json"),
        "updated_at": updated_at,
        "first_name": first_name,
    }


# --- intake ----------------------------------------------------------------------------------


def test_five_deliveries_are_recorded_and_processed_once(
    client: Any, db: Session, shop: Shop, drain_jobs: Any, runtime: Any
) -> None:
    body = sample_body("customers.create.json")
    for _ in range(5):
        response = deliver(client, "customers/create", body, webhook_id="wh-create-1")
        assert response.status_code == 200
        assert response.get_json()["duplicate"] is (_ > 0)
    assert Queue(WEBHOOKS, connection=runtime.redis).count == 0  # the inbox is the queue
    drain_jobs(WEBHOOKS)

    (event,) = events(db)
    assert (event.status, event.attempts, event.payload) == ("processed", 1, None)
    assert event.shop_id == shop.id
    assert event.resource_id == "706405506930370084"
    assert event.event_id == "event-wh-create-1"
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()
    assert customer.external_id == "706405506930370084"
    assert (customer.first_name, customer.last_name) == ("Bob", "Biller")
    assert customer.email_normalized == "bob@biller.com"
    assert customer.city == "Ottawa"
    assert webhook_counts(db, shop.id)["processed"] == 1


def test_a_second_job_for_the_same_event_does_nothing(
    client: Any, db: Session, shop: Shop, drain_jobs: Any
) -> None:
    deliver(client, "orders/create", sample_body("orders.create.json"), webhook_id="wh-o1")
    (event,) = events(db)
    assert process_webhook_event(event.id) == "processed"
    assert process_webhook_event(event.id) == "skipped"
    drain_jobs(WEBHOOKS)  # the inbox finds nothing pending
    (event,) = events(db)
    assert (event.status, event.attempts) == ("processed", 1)


def test_bad_signature_is_401_stores_nothing_and_is_counted(
    client: Any, db: Session, shop: Shop, runtime: Any
) -> None:
    raw = json.dumps(sample_body("customers.create.json")).encode()
    headers = shopify_headers("customers/create", raw, webhook_id="wh-bad", secret="wrong")
    response = client.post("/webhooks/shopify", data=raw, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "unauthorized", "reason": "signature_mismatch"}

    del headers["X-Shopify-Hmac-Sha256"]
    response = client.post("/webhooks/shopify", data=raw, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["reason"] == "missing_signature"

    tampered = raw.replace(b"Bob", b"Rob")
    response = client.post(
        "/webhooks/shopify",
        data=tampered,
        headers=shopify_headers("customers/create", raw, webhook_id="wh-tampered"),
    )
    assert response.status_code == 401
    assert events(db) == []
    assert rejected_count(runtime.redis, shop.id) == 3


def rejected_keys(runtime: Any) -> list[str]:
    return sorted(key.decode() for key in runtime.redis.scan_iter("kizuna:webhooks:rejected:*"))


def test_bad_signatures_naming_no_installed_shop_create_no_counter(
    client: Any, db: Session, runtime: Any
) -> None:
    make_shop(db, "gone.myshopify.com", status="uninstalled")
    raw = json.dumps(sample_body("customers.create.json")).encode()
    for n, domain in enumerate(
        ["random-1.myshopify.com", "random-2.myshopify.com", "gone.myshopify.com", "junk!", ""]
    ):
        headers = shopify_headers(
            "customers/create", raw, webhook_id=f"wh-{n}", domain=domain, secret="wrong"
        )
        response = client.post("/webhooks/shopify", data=raw, headers=headers)
        assert response.status_code == 401
    assert rejected_keys(runtime) == []


def test_rejections_count_for_the_installed_shop_alone_and_expire(
    client: Any, db: Session, shop: Shop, runtime: Any
) -> None:
    from app.services.shop_status import shop_status

    woo = Shop(
        account_id=shop.account_id, platform="woocommerce", domain="https://woo.example",
        status="active", installed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    db.add(woo)
    db.commit()
    raw = json.dumps(sample_body("customers.create.json")).encode()
    for n, domain in enumerate([DOMAIN, DOMAIN.upper(), "random.myshopify.com", "junk!"]):
        headers = shopify_headers(
            "customers/create", raw, webhook_id=f"wh-{n}", domain=domain, secret="wrong"
        )
        assert client.post("/webhooks/shopify", data=raw, headers=headers).status_code == 401

    assert rejected_keys(runtime) == [f"kizuna:webhooks:rejected:{shop.id}"]
    ttl = runtime.redis.ttl(f"kizuna:webhooks:rejected:{shop.id}")
    assert 0 < ttl <= 30 * 24 * 3600
    assert shop_status(db, runtime.redis, shop, wanted_scopes="")["webhooks"]["rejected"] == 2
    # Junk naming no shop no longer lands on a store whose domain is not a Shopify one.
    assert shop_status(db, runtime.redis, woo, wanted_scopes="")["webhooks"]["rejected"] == 0


def test_previous_secret_is_accepted(client: Any, db: Session, shop: Shop) -> None:
    response = deliver(
        client,
        "customers/create",
        sample_body("customers.create.json"),
        secret=SHOPIFY_API_SECRET_PREVIOUS,
    )
    assert response.status_code == 200
    assert [e.status for e in events(db)] == ["pending"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"id": 1,', "the body is not valid UTF-8 JSON"),
        (b"\xff\xfe{}", "the body is not valid UTF-8 JSON"),
        (b"[1, 2]", "the JSON body must be an object"),
    ],
)
def test_signed_malformed_json_is_400_with_a_reason(
    client: Any, db: Session, shop: Shop, raw: bytes, reason: str
) -> None:
    response = deliver(client, "orders/create", raw)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_json", "reason": reason}
    assert events(db) == []


def test_signed_delivery_with_a_bad_shop_domain_is_400(client: Any, db: Session) -> None:
    response = deliver(client, "orders/create", {"id": 1}, domain="shop.example.com")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_shop_domain"
    assert events(db) == []


def test_unknown_shop_is_acknowledged_and_ignored(client: Any, db: Session, runtime: Any) -> None:
    response = deliver(client, "customers/create", sample_body("customers.create.json"))
    assert response.status_code == 200
    (event,) = events(db)
    assert (event.status, event.shop_id, event.payload) == ("ignored", None, None)
    assert Queue(WEBHOOKS, connection=runtime.redis).count == 0


def test_unsupported_topic_is_ignored(client: Any, db: Session, shop: Shop) -> None:
    response = deliver(client, "products/update", {"id": 7})
    assert response.status_code == 200
    assert [(e.status, e.payload) for e in events(db)] == [("ignored", None)]


@pytest.mark.parametrize(
    ("topic", "sample"),
    [
        ("customers/data_request", "customers.data_request.json"),
        ("customers/redact", "customers.redact.json"),
        ("shop/redact", "shop.redact.json"),
    ],
)
def test_compliance_topics_of_an_unknown_shop_are_honoured(
    client: Any, db: Session, drain_jobs: Any, topic: str, sample: str
) -> None:
    response = deliver(client, topic, sample_body(sample), domain="never-installed.myshopify.com")
    assert response.status_code == 200
    assert [e.status for e in events(db)] == ["pending"]
    drain_jobs(WEBHOOKS)
    assert [(e.status, e.payload) for e in events(db)] == [("processed", None)]


def test_missing_webhook_id_falls_back_to_the_body_hash(
    client: Any, db: Session, shop: Shop
) -> None:
    body = sample_body("customers.create.json")
    assert deliver(client, "customers/create", body, webhook_id=None).status_code == 200
    assert deliver(client, "customers/create", body, webhook_id=None).status_code == 200
    (event,) = events(db)
    raw = json.dumps(body).encode()
    assert event.dedupe_key == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_unprefixed_headers_over_real_http(
    app: Flask, db: Session, shop: Shop, serve: Any, drain_jobs: Any
) -> None:
    server = serve(app)
    raw = json.dumps(sample_body("customers.create.json")).encode()
    headers = {
        "content-type": "application/json",
        "shopify-topic": "customers/create",
        "shopify-shop-domain": DOMAIN,
        "shopify-hmac-sha256": sign(raw),
        "shopify-webhook-id": "wh-events-style",
        "shopify-event-id": "ev-1",
    }
    response = httpx.post(f"{server.url}/webhooks/shopify", content=raw, headers=headers)
    assert response.status_code == 200
    drain_jobs(WEBHOOKS)
    (event,) = events(db)
    assert (event.dedupe_key, event.status) == ("wh-events-style", "processed")


def test_intake_survives_a_dropped_database_connection(
    client: Any, db: Session, shop: Shop
) -> None:
    deliver(client, "customers/create", sample_body("customers.create.json"), webhook_id="c1")
    # Kill every other session (the intake keeps one open between requests).
    db.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )
    db.commit()
    response = deliver(client, "customers/update", sample_body("customers.update.json"))
    assert response.status_code == 200
    assert [e.status for e in events(db)] == ["pending", "pending"]


# --- processing ------------------------------------------------------------------------------


def test_older_customer_update_after_a_newer_one_changes_nothing(
    client: Any, db: Session, shop: Shop, drain_jobs: Any
) -> None:
    newer = customer_update("2026-05-02T10:00:00-04:00", "Newer")
    older = customer_update("2026-05-01T10:00:00-04:00", "Older")
    deliver(client, "customers/update", newer, webhook_id="wh-newer")
    drain_jobs(WEBHOOKS)
    deliver(client, "customers/update", older, webhook_id="wh-older")
    drain_jobs(WEBHOOKS)
    db.expire_all()
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()
    assert customer.first_name == "Newer"
    assert customer.platform_updated_at == datetime(2026, 5, 2, 14, tzinfo=UTC)
    assert [e.status for e in events(db)] == ["processed", "processed"]


def test_consent_update_sets_consent_without_touching_the_profile(
    client: Any, db: Session, shop: Shop, drain_jobs: Any
) -> None:
    deliver(client, "customers/create", sample_body("customers.create.json"))
    consent = {
        "customer_id": 706405506930370084,
        "email_address": "bob@biller.com",
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": "2026-08-06T15:00:00Z",
        },
    }
    deliver(client, "customers_email_marketing_consent/update", consent)
    drain_jobs(WEBHOOKS)
    db.expire_all()
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()
    assert (customer.first_name, customer.email_marketing_state) == ("Bob", "subscribed")


def test_orders_and_checkouts_are_applied(
    client: Any, db: Session, shop: Shop, drain_jobs: Any
) -> None:
    deliver(client, "orders/create", sample_body("orders.create.json"))
    deliver(client, "checkouts/update", sample_body("checkouts.update.json"))
    drain_jobs(WEBHOOKS)
    db.expire_all()
    john = db.scalars(
        select(Customer).where(
            Customer.shop_id == shop.id, Customer.external_id == "115310627314723954"
        )
    ).one()
    assert (john.orders_count, john.email_normalized) == (1, "john@example.com")
    assert [e.status for e in events(db)] == ["processed", "processed"]


def test_customer_delete_marks_the_row(
    client: Any, db: Session, shop: Shop, drain_jobs: Any
) -> None:
    deliver(client, "customers/create", sample_body("customers.create.json"))
    deliver(client, "customers/delete", {"id": 706405506930370084})
    drain_jobs(WEBHOOKS)
    db.expire_all()
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()
    assert customer.deleted_at is not None


def test_app_uninstalled_twice_is_safe_and_deletes_tokens(
    client: Any, db: Session, shop: Shop, drain_jobs: Any
) -> None:
    body = sample_body("app.uninstalled.json")
    assert deliver(client, "app/uninstalled", body, webhook_id="wh-un-1").status_code == 200
    drain_jobs(WEBHOOKS)
    db.expire_all()
    first_time = db.get(Shop, shop.id).uninstalled_at  # type: ignore[union-attr]
    assert deliver(client, "app/uninstalled", body, webhook_id="wh-un-2").status_code == 200
    drain_jobs(WEBHOOKS)
    db.expire_all()
    stored = db.get(Shop, shop.id)
    assert stored is not None
    assert stored.status == "uninstalled"
    assert stored.uninstalled_at == first_time is not None
    assert stored.access_token_encrypted is None
    assert stored.refresh_token_encrypted is None
    assert [e.status for e in events(db)] == ["processed", "processed"]

    # Deliveries for the uninstalled shop are acknowledged and ignored.
    deliver(client, "customers/create", sample_body("customers.create.json"))
    assert events(db)[-1].status == "ignored"


def test_shop_uninstalled_after_intake_is_ignored_by_the_job(
    client: Any, db: Session, shop: Shop, drain_jobs: Any
) -> None:
    deliver(client, "customers/create", sample_body("customers.create.json"), webhook_id="a")
    db.get(Shop, shop.id).status = "uninstalled"  # type: ignore[union-attr]
    db.commit()
    # The intake's cache still holds the shop as active for a few seconds.
    deliver(client, "customers/update", sample_body("customers.update.json"), webhook_id="b")
    assert [e.status for e in events(db)] == ["pending", "pending"]
    drain_jobs(WEBHOOKS)
    assert [(e.status, e.payload) for e in events(db)] == [("ignored", None)] * 2
    assert db.scalar(select(func.count(Customer.id))) == 0


def test_unmappable_payload_fails_at_once_and_tells_the_merchant(
    client: Any, runtime: Any, db: Session, shop: Shop, drain_jobs: Any
) -> None:
    deliver(client, "orders/create", {"id": 1, "total_price": "5.00"})  # no currency
    drain_jobs(WEBHOOKS)
    (event,) = events(db)
    assert (event.status, event.payload) == ("failed", None)
    # Support reads the mapping message; the merchant is shown its class, in their language.
    assert event.last_error == "WebhookPayloadError: payload has no currency"
    assert event.last_error_code == "webhook_error.unreadable"
    db.expire_all()
    stored = db.get(Shop, shop.id)
    assert stored is not None
    assert stored.last_error_code == "shop_error.webhook_failed"
    counts = webhook_counts(db, shop.id)
    assert (counts["failed"], counts["received"]) == (1, 1)
    assert counts["last_error_code"] == "webhook_error.unreadable"

    pages = pages_in_both_languages(client, runtime, db, shop.id)
    shop_problem = {
        "en": f"A Shopify webhook (orders/create, event {event.id}, attempts: 1) could not be "
        "processed: The store sent data Kizuna could not read. "
        "The next sync reconciles the data.",
        "ja": f"Shopify の Webhook（orders/create、イベント {event.id}、試行回数: 1）"
        "を処理できませんでした: ストアから Kizuna が読み取れないデータが届きました。"
        "次回の同期でデータを整合させます。",
    }
    event_problem = {
        "en": "The store sent data Kizuna could not read.",
        "ja": "ストアから Kizuna が読み取れないデータが届きました。",
    }
    for language, other in (("en", "ja"), ("ja", "en")):
        assert shop_problem[language] in pages[language]
        assert event_problem[language] in pages[language]
        assert event_problem[other] not in pages[language]
    assert "payload has no currency" not in pages["ja"]


def _due_now(db: Session) -> None:
    """Time passes: every retry's backoff is over."""
    db.execute(update(WebhookEvent).values(next_attempt_at=None))
    db.commit()


def test_transient_failures_retry_with_backoff_then_fail(
    client: Any, db: Session, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("database hiccup with bob@biller.com")

    monkeypatch.setitem(process_webhook.HANDLERS, "customers/delete", broken)
    deliver(client, "customers/delete", {"id": 706405506930370084})
    (event,) = events(db)
    waited = []
    for attempt in range(1, MAX_ATTEMPTS):
        assert process_webhook_event(event.id) == "retry"
        (event,) = events(db)
        assert (event.status, event.attempts) == ("pending", attempt)
        assert event.payload is not None
        assert event.next_attempt_at is not None
        waited.append((event.next_attempt_at - datetime.now(UTC)).total_seconds())
        assert process_webhook_event(event.id) == "skipped"  # not due yet
        _due_now(db)
    assert waited == sorted(waited)
    assert waited[0] > 5
    assert process_webhook_event(event.id) == "failed"
    (event,) = events(db)
    assert (event.status, event.attempts, event.payload) == ("failed", MAX_ATTEMPTS, None)
    assert event.last_error == "RuntimeError"  # never the exception text (personal data)
    assert event.last_error_code == "webhook_error.internal"
    assert event.next_attempt_at is None
    stored = db.get(Shop, shop.id)
    assert stored is not None
    assert stored.last_error
    assert "bob@" not in stored.last_error
    assert f"attempts: {MAX_ATTEMPTS}" in stored.last_error
    assert "bob@" not in json.dumps(stored.last_error_params)


# --- Redis outage, sweeper, scheduler, worker ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class OwnRedis:
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or str(Path(sys.executable).with_name("redis-server"))
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis(_free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def outage_app(app: Flask, config: Config, own_redis: OwnRedis, tmp_path: Path) -> Iterator[Flask]:
    """A second app on the same database whose Redis is our own server."""
    own_config = load_config(
        make_test_env(config.database_url, own_redis.url), instance_path=tmp_path / "outage"
    )
    application = create_app(own_config, TESTING=True)
    process_runtime.bind_app(application)
    yield application
    process_runtime.bind_app(app)
    application.extensions["kizuna"].db.dispose()


def test_redis_down_loses_nothing_intake_and_processing_need_only_the_database(
    outage_app: Flask, own_redis: OwnRedis, db: Session
) -> None:
    shop = make_shop(db)
    client = outage_app.test_client()
    own_redis.stop()

    for number in range(3):
        body = customer_update(f"2026-05-0{number + 1}T10:00:00Z", f"Name{number}")
        response = deliver(client, "customers/update", body, webhook_id=f"wh-down-{number}")
        assert response.status_code == 200
    # A forged delivery is still a 401, not a 500, while the counter cannot be written.
    raw = b'{"id": 1}'
    forged = shopify_headers("customers/update", raw, webhook_id="wh-forged", secret="nope")
    assert client.post("/webhooks/shopify", data=raw, headers=forged).status_code == 401
    assert [e.status for e in events(db)] == ["pending"] * 3

    assert drain_inbox(outage_app.extensions["kizuna"]) == 3  # Redis still down
    assert [(e.status, e.attempts) for e in events(db)] == [("processed", 1)] * 3
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()
    assert customer.first_name == "Name2"


def test_the_sweeper_processes_overdue_events_once(
    client: Any, db: Session, shop: Shop, runtime: Any
) -> None:
    for number in range(3):
        body = customer_update(f"2026-05-0{number + 1}T10:00:00Z", f"Name{number}")
        deliver(client, "customers/update", body, webhook_id=f"wh-late-{number}")
    assert sweep_webhook_events(older_than=0) == 3
    assert sweep_webhook_events(older_than=0) == 0
    assert [(e.status, e.attempts) for e in events(db)] == [("processed", 1)] * 3
    assert db.scalars(select(Customer.first_name)).one() == "Name2"


def test_sweeper_leaves_recent_and_finished_events_alone(
    client: Any, db: Session, shop: Shop, runtime: Any, drain_jobs: Any
) -> None:
    deliver(client, "customers/create", sample_body("customers.create.json"))
    assert sweep_webhook_events(older_than=3600) == 0
    drain_jobs(WEBHOOKS)
    assert sweep_webhook_events(older_than=0) == 0
    assert Queue(WEBHOOKS, connection=runtime.redis).count == 0


def test_scheduler_enqueues_one_sweep_per_window(runtime: Any) -> None:
    now = time.time()
    assert schedule_sweep(runtime, 30.0, now=now) is True
    assert schedule_sweep(runtime, 30.0, now=now) is False  # a second scheduler, same window
    queue = Queue(WEBHOOKS, connection=runtime.redis)
    assert queue.count == 1
    assert queue.jobs[0].func_name == "jobs.sweeper.sweep_webhook_events"

    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(runtime, stop, 0.2), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10  # its first tick, however long a busy machine delays it
    while queue.count < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert queue.count >= 2


def test_worker_runs_queued_webhook_jobs(
    client: Any, db: Session, shop: Shop, runtime: Any
) -> None:
    deliver(client, "customers/create", sample_body("customers.create.json"))
    assert run_worker(runtime, burst=True) is True
    assert [e.status for e in events(db)] == ["processed"]
    assert db.scalar(select(func.count(Customer.id))) == 1
