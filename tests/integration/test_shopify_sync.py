"""Syncing a Shopify shop against the simulated Shopify over real HTTP: bulk backfill, cursors,
reconcile of missed webhooks, the 60-day limit without read_all_orders, `kizuna sync --follow`.

Real PostgreSQL and Redis; jobs drained in-process. The shop is connected as a custom app, which
subscribes Kizuna's webhooks (bulk_operations/finish included) at the sandbox.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask
from rq import Queue
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.cli import main as cli
from app.db import utcnow
from app.i18n import text_for
from app.kizuna import Kizuna
from app.models import Customer, Order, Product, Shop, WebhookEvent
from app.models.flow import FlowRun
from app.queueing import SYNC, WEBHOOKS
from app.services import shop_status
from app.services import sync as sync_service
from app.services.backfill_requests import enqueue_sync_now
from app.services.install_shop import connect_custom_app
from app.services.shop_errors import nested, record_shop_error
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.bulk import SandboxBulkOperations
from connectors.shopify.streams import SAFETY_OVERLAP, parse_cursor
from jobs.reconcile import reconcile_all
from tests.factories import simulated_shopify
from tests.factories.admin import make_account, pages_in_both_languages

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

DOMAIN = "sync-store.myshopify.com"
CUSTOMERS = 40


servers = simulated_shopify.servers
config = simulated_shopify.config
live_app = simulated_shopify.live_app


@pytest.fixture
def sandbox(servers: Any) -> Iterator[SandboxShopify]:
    yield from simulated_shopify.open_store(
        servers, DOMAIN, seed=11, customers=CUSTOMERS, name="Sync Store"
    )


@pytest.fixture
def progress_drawn(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once `kizuna sync --follow` has drawn its first progress line."""
    drawn = threading.Event()
    report = shop_status.sync_report

    def reporting(state: dict[str, Any] | None, now: Any) -> dict[str, Any]:
        try:
            return report(state, now)
        finally:
            drawn.set()

    monkeypatch.setattr(shop_status, "sync_report", reporting)
    return drawn


def _connect(runtime: Kizuna, sandbox: SandboxShopify) -> int:
    token = sandbox.install_app(DOMAIN, expiring=False)["access_token"]
    return connect_custom_app(runtime, DOMAIN, token)


def _count(db: Session, model: Any, shop_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(model.shop_id == shop_id)))


def _shop(db: Session, shop_id: int) -> Shop:
    db.expire_all()
    shop = db.get(Shop, shop_id)
    assert shop is not None
    return shop


def _customer(db: Session, shop_id: int, external_id: str) -> Customer:
    db.expire_all()
    return db.scalars(
        select(Customer).where(Customer.shop_id == shop_id, Customer.external_id == external_id)
    ).one()


def test_bulk_backfill_end_to_end(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync_service, "BULK_THRESHOLD", 1)  # every stream that can, goes bulk
    shop_id = _connect(runtime, sandbox)
    store = sandbox.shop(DOMAIN)

    drain_jobs(SYNC)

    shop = _shop(db, shop_id)
    state = shop.sync_state
    assert state["status"] == "done", state
    assert set(state["bulk"]) == {"customers", "products", "orders"}
    assert state["totals"] == {
        "customers": len(store.customers),
        "products": len(store.products),
        "orders": len(store.orders),
        "checkouts": len(store.checkouts),
    }
    assert state["done"] == state["totals"]
    assert _count(db, Order, shop_id) == len(store.orders)
    assert _count(db, Product, shop_id) == len(store.products)
    assert _count(db, Customer, shop_id) >= len(store.customers)
    # Line items came as `__parentId` rows and landed on their orders.
    order = store.orders[0]
    row = db.scalars(
        select(Order).where(Order.shop_id == shop_id, Order.external_id == str(order.id))
    ).one()
    assert row.name == order.name
    # The sandbox told Kizuna each operation finished (the webhook the sync waits for).
    sandbox.wait_for_deliveries()
    finishes = db.scalar(
        select(func.count())
        .select_from(WebhookEvent)
        .where(WebhookEvent.shop_id == shop_id, WebhookEvent.topic == "bulk_operations/finish")
    )
    assert finishes == 3
    # Cursors: every stream's, at the sync start minus the overlap.
    started = parse_cursor(state["started_at"])
    assert started is not None
    for name in ("customers", "products", "orders", "checkouts"):
        assert parse_cursor(state["cursors"][name]) == started - SAFETY_OVERLAP


def test_a_change_during_the_sync_is_picked_up_by_the_next_reconcile(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop_id = _connect(runtime, sandbox)
    store = sandbox.shop(DOMAIN)
    target = store.customers[0]
    page_stream = sync_service.SyncRun.page_stream

    def change_then_page(run: sync_service.SyncRun, stream: Any) -> None:
        # Customers are already read; this change (webhook lost) happens mid-sync.
        if stream.name == "checkouts":
            with sandbox.webhooks_muted(DOMAIN):
                store.update_customer(target.id, first_name="DuringSync")
        page_stream(run, stream)

    monkeypatch.setattr(sync_service.SyncRun, "page_stream", change_then_page)
    drain_jobs(SYNC)
    monkeypatch.undo()

    state = _shop(db, shop_id).sync_state
    assert state["status"] == "done", state
    started = parse_cursor(state["started_at"])
    cursor = parse_cursor(state["cursors"]["customers"])
    assert started is not None
    assert cursor is not None
    assert cursor <= started - SAFETY_OVERLAP
    assert cursor < target.updated_at  # the cursor did not pass the change
    assert _customer(db, shop_id, str(target.id)).first_name != "DuringSync"

    assert reconcile_all(900.0) == 1
    job = Queue(SYNC, connection=runtime.redis).fetch_job(f"reconcile-{shop_id}")
    assert job is not None
    drain_jobs(SYNC)
    assert job.get_status() == "finished"
    assert _customer(db, shop_id, str(target.id)).first_name == "DuringSync"
    read = job.return_value()
    assert 1 <= read["customers"] < len(store.customers)  # a window, not everything again


def test_reconcile_repairs_a_change_whose_webhook_was_missed(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
    servers: Any,
) -> None:
    shop_id = _connect(runtime, sandbox)
    drain_jobs(SYNC)
    assert _shop(db, shop_id).sync_state["status"] == "done"
    target = sandbox.shop(DOMAIN).customers[3]
    deliveries = len(sandbox.deliveries)

    # Changed at Shopify without a webhook (the sandbox's silent-change control).
    response = httpx.post(
        f"{servers[0].url}/_sandbox/{DOMAIN}/customers/{target.id}/silent",
        json={"last_name": "Missed"},
    )
    assert response.status_code == 200
    sandbox.wait_for_deliveries()
    assert len(sandbox.deliveries) == deliveries
    assert _customer(db, shop_id, str(target.id)).last_name != "Missed"

    reconcile_all(900.0)
    drain_jobs(SYNC)

    assert _customer(db, shop_id, str(target.id)).last_name == "Missed"
    state = _shop(db, shop_id).sync_state
    assert state["status"] == "done"
    assert state["reconciled"]["read"]["customers"] >= 1
    cursor = parse_cursor(state["cursors"]["customers"])
    reconcile_start = parse_cursor(state["reconciled"]["started_at"])
    assert cursor is not None
    assert reconcile_start is not None
    assert cursor == reconcile_start - SAFETY_OVERLAP


def test_without_read_all_orders_only_60_days_of_orders_are_read(
    live_app: Flask, runtime: Kizuna, db: Session, sandbox: SandboxShopify, drain_jobs: Any
) -> None:
    shop_id = _connect(runtime, sandbox)
    shop = _shop(db, shop_id)
    shop.scopes = "read_customers,read_orders,read_products,read_checkouts"
    db.commit()

    drain_jobs(SYNC)

    state = _shop(db, shop_id).sync_state
    assert state["status"] == "done", state
    assert state["notice"] == sync_service.READ_ALL_ORDERS_NOTICE
    with live_app.test_request_context():
        worded = text_for(state["notice"])
    assert "read_all_orders" in worded
    assert "60 days" in worded
    since = utcnow() - timedelta(days=60)
    recent = [order for order in sandbox.shop(DOMAIN).orders if order.created_at >= since]
    assert 0 < len(recent) < len(sandbox.shop(DOMAIN).orders)
    assert _count(db, Order, shop_id) == len(recent) == state["done"]["orders"]
    assert state["totals"]["orders"] == len(recent)


def test_sync_command_queues_a_sync_and_follows_one_to_the_end(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
    progress_drawn: threading.Event,
) -> None:
    shop_id = _connect(runtime, sandbox)
    drain_jobs(SYNC)
    runner = CliRunner()

    queued = runner.invoke(cli, ["sync", DOMAIN])
    assert queued.exit_code == 0, queued.output
    assert f"sync of {DOMAIN} queued" in queued.output
    job = Queue(SYNC, connection=runtime.redis).fetch_job(f"backfill-{shop_id}")
    assert job is not None
    assert job.args == (shop_id, False)  # incremental: from the saved cursors
    Queue(SYNC, connection=runtime.redis).empty()

    # A running sync: --follow draws it until it is done.
    shop = _shop(db, shop_id)
    started = utcnow() - timedelta(seconds=10)
    shop.sync_state = {
        **shop.sync_state,
        "status": "running",
        "stream": "orders",
        "started_at": started.isoformat(),
        "done": {"customers": 40, "orders": 10},
        "totals": {"customers": 40, "orders": 60},
    }
    db.commit()

    def finish() -> None:
        progress_drawn.wait(timeout=30)  # the running sync is on screen first
        with runtime.db.session() as session:
            row = session.get(Shop, shop_id)
            assert row is not None
            row.sync_state = {
                **row.sync_state,
                "status": "done",
                "stream": None,
                "done": {"customers": 40, "orders": 60},
                "finished_at": utcnow().isoformat(),
            }
            session.commit()

    thread = threading.Thread(target=finish)
    thread.start()
    followed = runner.invoke(cli, ["sync", DOMAIN, "--follow", "--interval", "0.05"])
    thread.join()
    assert followed.exit_code == 0, followed.output
    assert "is running since" in followed.output
    first = followed.output.split("\r")[1]
    assert "50 / 100 records" in first
    assert "/s" in first
    assert "ETA 0:00:" in first
    assert "running (orders)" in first
    last = followed.output.split("\r")[-1]
    assert "100.0%" in last
    assert "100 / 100 records" in last
    assert "done" in last

    unknown = runner.invoke(cli, ["sync", "nope.myshopify.com"])
    assert unknown.exit_code != 0
    assert "no Shopify shop" in unknown.output


def test_a_followed_sync_that_fails_says_why_in_the_shops_language(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
    progress_drawn: threading.Event,
) -> None:
    shop_id = _connect(runtime, sandbox)
    drain_jobs(SYNC)
    shop = _shop(db, shop_id)
    shop.locale = "ja"
    shop.sync_state = {**shop.sync_state, "status": "running", "started_at": "earlier"}
    db.commit()

    def fail() -> None:
        progress_drawn.wait(timeout=30)  # the running sync is on screen first
        with runtime.db.session() as session:
            row = session.get_one(Shop, shop_id)
            record_shop_error(
                row,
                "shop_error.backfill_failed",
                detail=nested("shop_error.reason.status", status=500),
            )
            row.sync_state = {**row.sync_state, "status": "failed", "error": row.last_error}
            session.commit()

    thread = threading.Thread(target=fail)
    thread.start()
    followed = CliRunner().invoke(cli, ["sync", DOMAIN, "--follow", "--interval", "0.05"])
    thread.join()
    assert followed.exit_code != 0
    assert (
        "過去データの取り込みに失敗しました: Shopify が HTTP ステータス 500 を返しました。"
        in followed.output
    )
    assert "Backfill failed" not in followed.output
    assert "Shopify answered" not in followed.output


def test_a_backfill_shopify_refused_says_why_in_the_merchants_language(
    live_app: Flask,
    client: Any,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
) -> None:
    account = make_account(db)
    token = sandbox.install_app(DOMAIN, expiring=False)["access_token"]
    shop_id = connect_custom_app(runtime, DOMAIN, token, account_id=account.id)
    drain_jobs(SYNC)
    # Not retried: the backfill stops on the first of its calls that gets it (the estimate of
    # the totals before it does without).
    sandbox.fail_admin_api(404, count=5)

    enqueue_sync_now(runtime, shop_id, full=True)
    drain_jobs(SYNC)

    shop = _shop(db, shop_id)
    assert shop.sync_state["status"] == "failed"
    assert shop.last_error == "Backfill failed: Shopify answered with HTTP status 404."
    worded = {
        "en": shop.last_error,
        "ja": "過去データの取り込みに失敗しました: Shopify が HTTP ステータス 404 を返しました。",
    }
    pages = pages_in_both_languages(client, runtime, db, shop_id)
    assert "Backfill failed" not in pages["ja"]
    for language, words in worded.items():
        assert words in pages[language], language
        api = client.get(
            "/api/v1/shop", headers={"Accept-Language": language, "Accept": "application/json"}
        ).get_json()
        assert (api["shop"]["last_error"], api["shop"]["last_error_code"]) == (
            words,
            "shop_error.backfill_failed",
        )
        assert api["sync"]["error"] == words


def test_without_the_finish_webhook_polling_completes_the_bulk_backfill(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync_service, "BULK_THRESHOLD", 1)
    shop_id = _connect(runtime, sandbox)
    with sandbox.webhooks_muted(DOMAIN):
        drain_jobs(SYNC)
    state = _shop(db, shop_id).sync_state
    assert state["status"] == "done", state
    assert set(state["bulk"]) == {"customers", "products", "orders"}
    assert state["done"]["orders"] == len(sandbox.shop(DOMAIN).orders)
    finishes = db.scalar(
        select(func.count()).select_from(WebhookEvent).where(WebhookEvent.shop_id == shop_id)
    )
    assert finishes == 0


def test_a_failed_bulk_operation_falls_back_to_pages(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: Any) -> list[dict[str, Any]]:
        raise RuntimeError("simulated bulk failure")

    monkeypatch.setattr(sync_service, "BULK_THRESHOLD", 1)
    monkeypatch.setattr(SandboxBulkOperations, "_execute", broken)
    shop_id = _connect(runtime, sandbox)
    drain_jobs(SYNC)
    state = _shop(db, shop_id).sync_state
    assert state["status"] == "done", state
    assert set(state["bulk"]) == {"customers", "products", "orders"}
    store = sandbox.shop(DOMAIN)
    assert all(operation.status == "FAILED" for operation in sandbox.bulk._operations.values())
    assert _count(db, Order, shop_id) == len(store.orders) == state["done"]["orders"]
    assert state["done"]["customers"] == len(store.customers)


def _refuse_webhooks(environ: Any, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"down"]


def test_reconcile_starts_the_flows_a_missed_webhook_would_have(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
    servers: Any,
) -> None:
    shop_id = _connect(runtime, sandbox)
    drain_jobs(SYNC)
    store = sandbox.shop(DOMAIN)
    shopper, buyer = store.customers[5], store.customers[6]

    # Kizuna is down while a cart is abandoned and an order is paid: both webhooks are lost.
    servers[3].target = _refuse_webhooks
    control = f"{servers[0].url}/_sandbox/{DOMAIN}"
    checkout = httpx.post(f"{control}/checkouts", json={"customer_id": shopper.id})
    order = httpx.post(f"{control}/orders", json={"customer_id": buyer.id, "paid": True})
    assert (checkout.status_code, order.status_code) == (201, 201)
    sandbox.wait_for_deliveries()
    servers[3].target = live_app
    drain_jobs(WEBHOOKS)
    assert _count(db, FlowRun, shop_id) == 0

    reconcile_all(900.0)
    drain_jobs(SYNC)

    db.expire_all()
    runs = db.scalars(select(FlowRun).where(FlowRun.shop_id == shop_id)).all()
    started = {(run.flow_key, run.customer_id) for run in runs}
    assert ("cart", _customer(db, shop_id, str(shopper.id)).id) in started
    assert ("thank_you", _customer(db, shop_id, str(buyer.id)).id) in started
    reconcile_all(900.0)
    drain_jobs(SYNC)
    assert _count(db, FlowRun, shop_id) == len(runs)  # a second reconcile starts nothing new


def test_bulk_backfill_writes_set_wise_with_progress_and_fresh_statistics(
    live_app: Flask,
    runtime: Kizuna,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sync_service, "BULK_THRESHOLD", 1)
    monkeypatch.setattr(sync_service, "BULK_SET_BATCH", 7)  # many batches from a small store
    seen: list[dict[str, int]] = []
    save_state = sync_service.save_state

    def recording(session: Session, shop: Shop, **changes: Any) -> None:
        save_state(session, shop, **changes)
        if "done" in changes:
            seen.append(dict(changes["done"]))

    monkeypatch.setattr(sync_service, "save_state", recording)
    analyzed_before = _analyze_count(db, "orders")
    shop_id = _connect(runtime, sandbox)
    store = sandbox.shop(DOMAIN)

    drain_jobs(SYNC)

    state = _shop(db, shop_id).sync_state
    assert state["status"] == "done", state
    assert state["done"] == state["totals"]
    # Progress moved batch by batch while the orders were written, never backwards.
    orders_done = [done["orders"] for done in seen if "orders" in done]
    steps = sorted(set(orders_done))
    assert len(steps) >= len(store.orders) // 7
    assert orders_done == sorted(orders_done)
    # Each customer's totals (recomputed once, after the last batch) match its stored orders.
    mismatched = db.scalar(
        text(
            "SELECT count(*) FROM customers c LEFT JOIN (SELECT customer_id, count(*) AS n"
            " FROM orders WHERE shop_id = :shop GROUP BY customer_id) t ON t.customer_id = c.id"
            " WHERE c.shop_id = :shop AND c.orders_count <> coalesce(t.n, 0)"
        ),
        {"shop": shop_id},
    )
    assert mismatched == 0
    assert db.scalar(
        text("SELECT count(*) FROM customers WHERE shop_id = :shop AND orders_count > 0"),
        {"shop": shop_id},
    )
    unlinked = db.scalar(
        text(
            "SELECT count(*) FROM customers WHERE shop_id = :shop AND person_id IS NULL"
            " AND email_normalized IS NOT NULL AND redacted_at IS NULL"
        ),
        {"shop": shop_id},
    )
    assert unlinked == 0
    # The backfill refreshed the planner's statistics of what it loaded.
    deadline = time.monotonic() + 5
    while _analyze_count(db, "orders") == analyzed_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _analyze_count(db, "orders") > analyzed_before


def _analyze_count(db: Session, table: str) -> int:
    db.commit()
    db.execute(text("SELECT pg_stat_clear_snapshot()"))
    return int(
        db.scalar(
            text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = :name"),
            {"name": table},
        )
        or 0
    )
