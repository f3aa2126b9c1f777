"""Win-back end to end: the daily scan starts a run for a lapsed repeat buyer only (not a
recent buyer, not one without consent), step 1 goes out through the simulated SendGrid, step 2
waits a week, and a new order exits the run."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.orchestration import WINBACK, WINBACK_DEFAULTS
from app.flows.scheduling import step_job_id
from app.models.flow import FlowSetting, Message
from app.queueing import EMAIL, FLOWS, WEBHOOKS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step, scan_winback
from tests.factories import cart_flow
from tests.factories.cart_flow import scheduled
from tests.factories.shopify_webhooks import deliver, make_shop, sample_body
from tests.factories.winback import add_customer, winback_runs

config = cart_flow.config
sendgrid = cart_flow.sendgrid


def test_a_lapsed_repeat_buyer_gets_step_one_and_an_order_exits_the_run(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = make_shop(db)
    shop.name, shop.locale = "絆ストア", "ja"
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key=WINBACK,
            config={**WINBACK_DEFAULTS, "holdout_percent": 0, "quiet_hours": None},
        )
    )
    # Every ~50 days, last 200 days ago: past max(60, 2 × 50) = 100 days → lapsing.
    lapsed = add_customer(db, shop, "9001", [300, 250, 200], "SUBSCRIBED")
    add_customer(db, shop, "9002", [60, 30, 10], "SUBSCRIBED")  # recent buyer
    add_customer(db, shop, "9003", [300, 250, 200], "NOT_SUBSCRIBED")  # lapsed, no consent
    add_customer(db, shop, "9004", [80], "SUBSCRIBED")  # one-time buyer, under 90 days
    db.commit()

    assert scan_winback() == 1
    assert scan_winback() == 0  # the daily scan twice starts nothing new
    [run] = winback_runs(db)
    assert (run.customer_id, run.status, run.next_step) == (lapsed.id, "running", 1)
    assert run.next_step_at is not None
    assert step_job_id(run.shop_id, "winback", 1, run.next_step_at) in scheduled(runtime, FLOWS)

    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [sent] = sendgrid.outbox
    assert sent.to_email == "c9001@example.jp"
    assert sent.subject == "お久しぶりです。またのご来店をお待ちしています"
    assert sent.categories == ("kizuna", "flow-winback", "winback-step-1")
    assert f"https://{shop.domain}" in (sent.text or "")
    assert "山田 花子 様、" in (sent.html or "")  # the full name, family name first, with 様
    assert sent.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [run] = winback_runs(db)
    assert run.next_step == 2
    assert run.next_step_at == run.started_at + timedelta(days=7)
    assert step_job_id(run.shop_id, "winback", 2, run.next_step_at) in scheduled(runtime, FLOWS)

    # The customer orders again: the run exits and step 2 sends nothing.
    order = copy.deepcopy(sample_body("orders.create.json"))
    placed = datetime.now(UTC).isoformat()
    order.update(id=880001, checkout_token=None, cancelled_at=None)
    order.update(created_at=placed, updated_at=placed, processed_at=placed)
    order["admin_graphql_api_id"] = "gid://shopify/Order/880001"
    order["customer"] = {
        **(order.get("customer") or {}),
        "id": 9001,
        "admin_graphql_api_id": "gid://shopify/Customer/9001",
        "email": "c9001@example.jp",
    }
    assert deliver(client, "orders/create", order, webhook_id="wh-winback-order").status_code == 200
    drain_jobs(WEBHOOKS)
    [run] = winback_runs(db)
    assert (run.status, run.exit_reason) == ("exited", "ordered")
    assert run_flow_step(run.id, 2) == "stopped"
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 1
    assert scan_winback() == 0  # no longer lapsing
    assert len(db.scalars(select(Message)).all()) == 1


def test_holdout_customers_get_a_holdout_run_and_no_email(
    db: Session, runtime: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = make_shop(db)
    db.add(FlowSetting(shop_id=shop.id, flow_key=WINBACK, config={"holdout_percent": 100}))
    add_customer(db, shop, "9101", [95], "SUBSCRIBED")  # one-time buyer past 90 days
    db.commit()
    assert scan_winback() == 1
    [run] = winback_runs(db)
    assert run.status == "holdout"
    assert scheduled(runtime, FLOWS) == []
    assert run_flow_step(run.id, 1) == "stopped"


def test_a_shop_without_settings_gets_the_winback_defaults(db: Session) -> None:
    shop = make_shop(db)
    db.commit()
    assert scan_winback() == 0
    setting = db.scalars(select(FlowSetting).where(FlowSetting.flow_key == WINBACK)).one()
    assert (setting.shop_id, setting.enabled) == (shop.id, True)
    assert setting.config["step_delay_hours"] == [0, 168]
