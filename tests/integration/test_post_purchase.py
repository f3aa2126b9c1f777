"""Post-purchase flows end to end: Shopify order webhooks → thank-you, review request and
replenishment runs → one email each in the simulated SendGrid (real HTTP), on real PostgreSQL
and Redis. The shop's history is written as rows; the triggering orders arrive as webhooks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.domain.orchestration import (
    REPLENISHMENT,
    REVIEW_REQUEST,
    THANK_YOU,
    in_holdout,
)
from app.flows.post_purchase import exit_reason, product_url, refresh_history_stats
from app.flows.scheduling import step_job_id
from app.models import Order, Product, Shop
from app.models.flow import FlowRun, FlowSetting
from app.queueing import EMAIL, FLOWS
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.woocommerce import mapping as woocommerce_mapping
from jobs.flows import run_flow_step
from tests.factories import cart_flow
from tests.factories.cart_flow import messages
from tests.factories.post_purchase import (
    BOWL,
    CUSTOMER,
    SCOOP,
    TEA,
    TRAY,
    WHISK,
    add_history,
    deliver_order,
    now,
    order_body,
    runs,
    setup_shop,
)
from tests.factories.shopify_webhooks import DOMAIN

sendgrid = cart_flow.sendgrid
config = cart_flow.config


def due_time(runtime: Any, run: FlowRun) -> datetime:
    registry = ScheduledJobRegistry(queue=Queue(FLOWS, connection=runtime.redis))
    assert run.next_step_at is not None
    return registry.get_scheduled_time(step_job_id(run.shop_id, run.flow_key, 1, run.next_step_at))


def thank_yous_done(db: Session) -> None:
    """End the thank-you runs: a due thank-you outranks the other post-purchase emails, which
    would wait for it (`flows.customers_outranked`)."""
    for run in runs(db, THANK_YOU):
        run.status, run.next_step, run.next_step_at = "completed", None, None
    db.commit()


def test_a_paid_order_gets_a_thank_you_two_hours_later_with_cross_sells(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, _customer = setup_shop(db)
    # Bought with the bowl across the shop: whisk twice, tea twice, scoop once. Tea is re-bought
    # every 30 days by all three of its repeat buyers: a consumable.
    add_history(db, shop, "2", 100, [BOWL, WHISK, TEA])
    add_history(db, shop, "2", 70, [TEA])
    add_history(db, shop, "2", 40, [TEA])
    add_history(db, shop, "3", 90, [BOWL, TEA, SCOOP])
    add_history(db, shop, "3", 60, [TEA])
    add_history(db, shop, "4", 80, [BOWL, WHISK])
    add_history(db, shop, "4", 50, [TEA])
    add_history(db, shop, "4", 20, [TEA])
    add_history(db, shop, "5", 10, [TRAY])
    # Hanako owns a whisk (never offered again) and tea bought 40 days ago (due after 30).
    add_history(db, shop, str(CUSTOMER), 60, [WHISK])
    add_history(db, shop, str(CUSTOMER), 40, [TEA])
    refresh_history_stats(db, shop.id)  # as the shop's daily job does

    paid = now() - timedelta(minutes=5)
    deliver_order(client, drain_jobs, order_body(880001, [BOWL], placed=paid))
    deliver_order(client, drain_jobs, order_body(880001, [BOWL], placed=paid), "orders/paid")

    [run] = runs(db, THANK_YOU)
    assert (run.status, run.next_step) == ("running", 1)
    order = db.scalars(select(Order).where(Order.external_id == "880001")).one()
    assert run.trigger_key == f"order:{order.id}"
    assert abs(due_time(runtime, run) - (paid + timedelta(hours=2))) < timedelta(seconds=2)
    assert runs(db, REVIEW_REQUEST) == []  # not fulfilled yet
    assert runs(db, REPLENISHMENT) == []  # a first bowl: nothing to replenish

    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [sent] = sendgrid.outbox
    html, text = sent.html or "", sent.text or ""
    assert sent.subject == "ご注文ありがとうございます"
    assert sent.categories == ("kizuna", "flow-thank_you", "thank_you-step-1")
    assert sent.headers["List-Unsubscribe"].startswith("<https://kizuna.test/unsubscribe/")
    assert "山田 花子 様" in html  # the full name, family name first, with 様
    assert "山田 花子 様" in text
    assert "#880001" in text
    assert "¥4,800" in text  # the order's total, JPY without decimals
    for body in (html, text):
        assert "宇治抹茶 30g" in body  # owned, but a consumable at its re-buy time
        assert "茶杓" in body  # bought with the bowl
        assert "盆" in body  # a best seller fills the third place
        assert "茶筅" not in body  # owned, not consumable
        assert "¥1,200" in body
        assert ".00" not in body
    assert f"https://{DOMAIN}/products/uji-matcha" in text
    assert f'href="https://{DOMAIN}/products/chashaku"' in html
    assert 'src="https://cdn.example/uji-matcha.jpg"' in html
    [msg] = messages(db)
    assert msg.status == "sent"


@pytest.mark.parametrize(
    "changes",
    [{"financial_status": "pending"}, {"financial_status": "paid", "cancelled": True}],
    ids=["unpaid", "cancelled"],
)
def test_unpaid_or_cancelled_orders_start_nothing(
    client: Any, db: Session, drain_jobs: Any, changes: dict[str, Any]
) -> None:
    setup_shop(db)
    body = order_body(880002, [BOWL, TEA], fulfilled_at=now() - timedelta(minutes=1), **changes)
    deliver_order(client, drain_jobs, body)
    db.expire_all()
    assert db.scalars(select(FlowRun)).all() == []


def test_without_consent_nothing_is_sent(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db, consent="NOT_SUBSCRIBED")
    deliver_order(client, drain_jobs, order_body(880003, [BOWL]))
    [run] = runs(db, THANK_YOU)
    assert run_flow_step(run.id, 1) == "exited:no_consent"
    drain_jobs(EMAIL)
    assert sendgrid.outbox == []
    assert messages(db) == []


def test_the_review_request_follows_fulfilment_and_survives_a_new_order(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    placed = now() - timedelta(hours=3)
    deliver_order(client, drain_jobs, order_body(880004, [BOWL, SCOOP], placed=placed))
    assert runs(db, REVIEW_REQUEST) == []

    shipped = now() - timedelta(minutes=30)
    fulfilled = order_body(880004, [BOWL, SCOOP], placed=placed, fulfilled_at=shipped)
    fulfilled["updated_at"] = (shipped + timedelta(minutes=1)).isoformat()
    deliver_order(client, drain_jobs, fulfilled, "orders/updated")
    order = db.scalars(select(Order).where(Order.external_id == "880004")).one()
    assert order.fulfilled_at == shipped
    [run] = runs(db, REVIEW_REQUEST)
    assert run.trigger_key == f"fulfilled:{order.id}"
    assert abs(due_time(runtime, run) - (shipped + timedelta(days=7))) < timedelta(seconds=2)

    # A new order stops neither the thank-you nor the review request.
    deliver_order(client, drain_jobs, order_body(880005, [TRAY]))
    [thanks, _new_thanks] = runs(db, THANK_YOU)
    assert thanks.status == "running"
    thank_yous_done(db)
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [sent] = sendgrid.outbox
    assert sent.subject == "ご購入いただいた商品はいかがですか"
    assert sent.categories == ("kizuna", "flow-review_request", "review_request-step-1")
    for body in (sent.html or "", sent.text or ""):
        assert "抹茶碗" in body
        assert "茶杓" in body
        assert "レビューを書く" in body
    assert f"https://{DOMAIN}/products/matcha-bowl" in (sent.text or "")


def test_replenishment_comes_before_the_expected_reorder_and_stops_when_re_ordered(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, _customer = setup_shop(db)
    # Hanako buys tea every 20 days: after today's order she should run out in 20 days.
    placed = now() - timedelta(hours=2)
    add_history(db, shop, str(CUSTOMER), 40, [TEA], base=placed)
    add_history(db, shop, str(CUSTOMER), 20, [TEA], base=placed)
    deliver_order(client, drain_jobs, order_body(880006, [TEA, BOWL], placed=placed))

    [first] = runs(db, REPLENISHMENT)
    order = db.scalars(select(Order).where(Order.external_id == "880006")).one()
    assert first.trigger_key == f"replenish:{TEA}:{order.id}"  # the bowl is bought once: none
    expected = placed + timedelta(days=20) - timedelta(days=3)
    assert abs(due_time(runtime, first) - expected) < timedelta(seconds=2)

    # She re-orders tea before the reminder: that run stops, the new order's run takes over.
    reordered = now() - timedelta(hours=1)
    deliver_order(client, drain_jobs, order_body(880007, [TEA], placed=reordered))
    first, second = runs(db, REPLENISHMENT)
    assert (first.status, first.exit_reason) == ("exited", "reordered")
    assert run_flow_step(first.id, 1) == "stopped"
    assert second.status == "running"

    thank_yous_done(db)
    assert run_flow_step(second.id, 1) == "created"
    drain_jobs(EMAIL)
    [sent] = sendgrid.outbox
    assert sent.subject == "宇治抹茶 30gのお買い替え時期が近づいています"
    assert "¥1,200" in (sent.html or "")
    assert f"https://{DOMAIN}/products/uji-matcha" in (sent.text or "")

    # A later order of the product found at step time (not through a webhook) also stops a run.
    add_history(db, shop, str(CUSTOMER), 0, [TEA])
    with runtime.db.session() as session:
        assert exit_reason(session, session.get_one(FlowRun, second.id)) == "reordered"


def test_the_holdout_share_gets_runs_without_steps(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop, _customer = setup_shop(db, holdout_percent=100)
    add_history(db, shop, str(CUSTOMER), 30, [TEA])
    deliver_order(client, drain_jobs, order_body(880008, [TEA], fulfilled_at=now()))
    db.expire_all()
    statuses = {run.flow_key: run.status for run in db.scalars(select(FlowRun))}
    assert statuses == {THANK_YOU: "holdout", REVIEW_REQUEST: "holdout", REPLENISHMENT: "holdout"}
    registry = ScheduledJobRegistry(queue=Queue(FLOWS, connection=runtime.redis))
    assert registry.get_job_ids() == []
    [run] = runs(db, THANK_YOU)
    assert run_flow_step(run.id, 1) == "stopped"


def test_an_old_order_arriving_late_starts_nothing(
    client: Any, db: Session, drain_jobs: Any
) -> None:
    shop, _customer = setup_shop(db)
    add_history(db, shop, str(CUSTOMER), 60, [TEA])
    long_ago = now() - timedelta(days=40)
    body = order_body(880009, [TEA], placed=long_ago, fulfilled_at=long_ago + timedelta(days=1))
    deliver_order(client, drain_jobs, body)
    db.expire_all()
    assert db.scalars(select(FlowRun)).all() == []


def test_a_shop_without_settings_runs_the_flows_on_their_defaults(
    client: Any, db: Session, drain_jobs: Any
) -> None:
    shop, customer = setup_shop(db)
    db.execute(delete(FlowSetting))
    db.commit()
    deliver_order(client, drain_jobs, order_body(880010, [BOWL], fulfilled_at=now()))
    db.expire_all()
    rows = {row.flow_key: row for row in db.scalars(select(FlowSetting))}
    # The welcome series writes its row at a first order too, turned off until the merchant
    # turns it on: it starts nothing.
    welcome = rows.pop("welcome")
    assert not welcome.enabled
    assert not runs(db, "welcome")
    assert set(rows) == {THANK_YOU, REVIEW_REQUEST, REPLENISHMENT}
    assert all(row.enabled for row in rows.values())
    assert rows[REVIEW_REQUEST].config["review_delay_days"] == 7
    assert rows[REPLENISHMENT].config["lead_days"] == 3
    # The default 10 % holdout is deterministic per shop, flow and customer.
    [run] = runs(db, THANK_YOU)
    held_out = in_holdout(shop.id, THANK_YOU, customer.id, 10)
    assert run.status == ("holdout" if held_out else "running")


def test_woocommerce_orders_carry_their_completion_time_and_products_link_by_id() -> None:
    completed = {
        "id": 412,
        "status": "completed",
        "currency": "JPY",
        "total": "4800",
        "date_created_gmt": "2026-11-20T01:00:00",
        "date_modified_gmt": "2026-11-23T05:00:00",
        "date_completed_gmt": "2026-11-22T03:00:00",
        "billing": {"email": "hanako@example.jp"},
        "line_items": [],
    }
    record = woocommerce_mapping.order_from_resource(completed)
    assert record.fulfilled_at == datetime(2026, 11, 22, 3, tzinfo=UTC)
    processing = woocommerce_mapping.order_from_resource({**completed, "status": "processing"})
    assert (processing.financial_status, processing.fulfilled_at) == ("paid", None)

    shop = Shop(platform="woocommerce", domain="https://tea.example/")
    product = Product(external_id="77", title="抹茶", handle="matcha")
    assert product_url(shop, product) == "https://tea.example/?post_type=product&p=77"
    shop = Shop(platform="shopify", domain=DOMAIN)
    assert product_url(shop, product) == f"https://{DOMAIN}/products/matcha"


def test_a_due_thank_you_makes_the_review_request_wait(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    placed = now() - timedelta(hours=3)
    shipped = now() - timedelta(minutes=30)
    order = order_body(880008, [BOWL], placed=placed, fulfilled_at=shipped)
    deliver_order(client, drain_jobs, order)
    [thanks] = runs(db, THANK_YOU)
    [review] = runs(db, REVIEW_REQUEST)
    assert thanks.next_step_at is not None
    assert thanks.next_step_at <= now()  # paid 3 h ago: the thank-you is due
    assert run_flow_step(review.id, 1) == "created"  # run early: only the order matters here
    drain_jobs(EMAIL)
    assert sendgrid.outbox == []  # the thank-you goes first
    [waiting] = [m for m in messages(db) if m.flow_run_id == review.id]
    assert waiting.status == "pending"
    assert waiting.not_before is not None
