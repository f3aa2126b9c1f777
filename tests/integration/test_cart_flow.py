"""The cart-abandonment flow end to end: Shopify webhook → run → step → one email in the
simulated SendGrid (real HTTP), on real PostgreSQL and Redis, consent first.

Step jobs are scheduled with `enqueue_at`; tests check RQ's scheduled registry for the job id
and then call the step job directly (no faked clock inside the code; `now` is a parameter).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Config
from app.flows.scheduling import step_job_id
from app.models import Customer, Shop
from app.models.flow import Suppression
from app.queueing import EMAIL, FLOWS, WEBHOOKS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step
from jobs.send_email import send_message
from tests.factories import cart_flow
from tests.factories.admin import pages_in_both_languages
from tests.factories.cart_flow import (
    TOKEN,
    TOKYO,
    checkout_body,
    deliver_checkout,
    messages,
    recently,
    runs,
    scheduled,
    setup_shop,
)
from tests.factories.shopify_webhooks import deliver, sample_body

config = cart_flow.config
sendgrid = cart_flow.sendgrid


def test_checkout_five_times_and_step_twice_send_exactly_one_email(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client, times=5)
    drain_jobs(WEBHOOKS)

    [run] = runs(db)
    assert (run.status, run.next_step, run.trigger_key) == ("running", 1, TOKEN)
    assert scheduled(runtime, FLOWS) == [step_job_id(run.shop_id, "cart", 1, run.next_step_at)]
    assert run.next_step_at is not None
    assert timedelta(minutes=59) < run.next_step_at - run.started_at <= timedelta(hours=1)

    assert run_flow_step(run.id, 1) == "created"
    assert run_flow_step(run.id, 1) == "duplicate"
    drain_jobs(EMAIL)
    drain_jobs(EMAIL)

    outbox = sendgrid.outbox
    assert len(outbox) == 1
    sent = outbox[0]
    [msg] = messages(db)
    assert (msg.status, msg.step, msg.attempts) == ("sent", 1, 1)
    assert msg.x_message_id == sent.x_message_id
    assert sent.to_email == "hanako@example.jp"
    assert sent.subject == "カートに商品が残っています"
    assert "¥12,800" in (sent.html or "")
    assert "¥12,800" in (sent.text or "")
    assert "抹茶セット" in (sent.html or "")
    assert "https://shop.example/checkouts/cart-token-0001/recover?key=k" in (sent.text or "")
    assert sent.custom_args == {
        "kizuna_message_id": str(msg.id),
        "kizuna_shop_id": str(msg.shop_id),
    }
    assert sent.categories == ("kizuna", "flow-cart", "cart-step-1")
    assert sent.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent.headers["List-Unsubscribe"].startswith("<https://kizuna.test/unsubscribe/")
    # Step 2 is scheduled 24 h after the run started.
    db.refresh(run)
    assert run.next_step == 2
    assert run.next_step_at is not None
    assert step_job_id(run.shop_id, "cart", 2, run.next_step_at) in scheduled(runtime, FLOWS)


def test_a_customer_without_consent_gets_nothing(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db, consent="NOT_SUBSCRIBED")
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run_flow_step(run.id, 1) == "exited:no_consent"
    drain_jobs(EMAIL)
    assert sendgrid.outbox == []
    assert messages(db) == []
    assert runs(db)[0].exit_reason == "no_consent"


def test_holdout_customers_get_a_holdout_run_and_no_step(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    setup_shop(db, flow_config={"holdout_percent": 100})
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run.status == "holdout"
    assert scheduled(runtime, FLOWS) == []
    assert run_flow_step(run.id, 1) == "stopped"


def test_an_order_with_the_checkout_token_exits_before_step_two(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 1

    order = copy.deepcopy(sample_body("orders.create.json"))
    order["checkout_token"] = TOKEN
    assert deliver(client, "orders/create", order, webhook_id="wh-order-1").status_code == 200
    drain_jobs(WEBHOOKS)

    [run] = runs(db)
    assert (run.status, run.exit_reason) == ("exited", "ordered")
    assert run_flow_step(run.id, 2) == "stopped"
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 1


def test_a_completed_checkout_exits_the_run(client: Any, db: Session, drain_jobs: Any) -> None:
    setup_shop(db)
    deliver_checkout(client)
    body = checkout_body(updated_at=recently(1), completed_at=recently(1))
    assert deliver(client, "checkouts/update", body, webhook_id="wh-done").status_code == 200
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert (run.status, run.exit_reason) == ("exited", "checkout_completed")


def test_quiet_hours_postpone_the_send_to_the_morning(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db, timezone="Asia/Tokyo", flow_config={"holdout_percent": 0})
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run_flow_step(run.id, 1) == "created"
    [msg] = messages(db)

    night = datetime(2026, 11, 25, 22, 30, tzinfo=TOKYO).astimezone(UTC)
    assert send_message(msg.id, now=night) == "postponed"
    [msg] = messages(db)
    morning = datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO)
    assert (msg.status, msg.not_before) == ("pending", morning)
    assert f"send-{msg.id}-{int(morning.timestamp())}" in scheduled(runtime, EMAIL)
    assert sendgrid.outbox == []

    assert send_message(msg.id, now=morning.astimezone(UTC)) == "sent"
    assert len(sendgrid.outbox) == 1


def test_the_frequency_cap_postpones_a_second_email(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [first] = messages(db)
    assert first.sent_at is not None
    assert run_flow_step(run.id, 2) == "created"
    second = messages(db)[1]
    assert send_message(second.id, now=first.sent_at + timedelta(hours=2)) == "postponed"
    assert messages(db)[1].not_before == first.sent_at + timedelta(hours=16)
    assert len(sendgrid.outbox) == 1


def test_one_click_unsubscribe_stops_the_flow(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    run_flow_step(run.id, 1)
    drain_jobs(EMAIL)
    header = sendgrid.outbox[0].headers["List-Unsubscribe"]
    path = urlparse(header.strip("<>")).path

    page = client.get(path)
    assert page.status_code == 200
    assert "配信を停止する" in page.get_data(as_text=True)
    assert db.scalars(select(Suppression)).all() == []  # GET changes nothing

    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    db.expire_all()
    customer = db.scalars(select(Customer)).one()
    assert customer.email_marketing_state == "UNSUBSCRIBED"
    [suppression] = db.scalars(select(Suppression)).all()
    assert suppression.email_normalized == "hanako@example.jp"
    [run] = runs(db)
    assert (run.status, run.exit_reason) == ("exited", "unsubscribe_link")
    assert run_flow_step(run.id, 2) == "stopped"
    assert client.post(path).status_code == 200  # twice is harmless
    assert client.post("/unsubscribe/not-a-token").status_code == 404
    assert len(sendgrid.outbox) == 1


def test_unsubscribe_between_step_and_send_suppresses_the_message(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    run_flow_step(run.id, 1)
    customer = db.scalars(select(Customer)).one()
    customer.email_marketing_state = "UNSUBSCRIBED"
    db.commit()
    drain_jobs(EMAIL)
    [msg] = messages(db)
    assert (msg.status, msg.last_error) == ("suppressed", "no_consent")
    assert sendgrid.outbox == []


def test_a_4xx_from_sendgrid_fails_the_message_and_tells_the_merchant(
    client: Any, runtime: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    run_flow_step(run.id, 1)
    sendgrid.fail_next(400)
    drain_jobs(EMAIL)
    [msg] = messages(db)
    assert msg.status == "failed"
    shop = db.scalars(select(Shop)).one()
    assert shop.last_error_code == "shop_error.email_refused"
    assert "hanako" not in f"{shop.last_error} {shop.last_error_params}"
    pages = pages_in_both_languages(client, runtime, db, shop.id)
    assert (
        f"An email of the Abandoned cart flow (message {msg.id}) was not sent: "
        "SendGrid refused it with HTTP status 400."
    ) in pages["en"]
    assert (
        f"カート放棄 フローのメール（メッセージ {msg.id}）を送信できませんでした: "
        "SendGrid が HTTP ステータス 400 で拒否しました。"
    ) in pages["ja"]


def test_a_lost_answer_marks_the_message_unknown_and_never_resends(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid, monkeypatch: Any
) -> None:
    from app.flows import send as send_email

    real = send_email.sendgrid_client

    def short_timeout(config: Config) -> Any:
        client = real(config)
        client._api.client.timeout = 0.3
        return client

    monkeypatch.setattr(send_email, "sendgrid_client", short_timeout)
    setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    run_flow_step(run.id, 1)
    sendgrid.delay_next(1.0)
    drain_jobs(EMAIL)
    [msg] = messages(db)
    assert msg.status == "unknown"
    assert send_message(msg.id) == "skipped"
    assert len(sendgrid.outbox) == 1


def test_a_checkout_older_than_the_last_step_starts_no_flow(
    client: Any, db: Session, drain_jobs: Any
) -> None:
    setup_shop(db)
    old = recently(minutes=4 * 24 * 60)
    body = checkout_body(updated_at=old, created_at=old)
    assert deliver(client, "checkouts/create", body, webhook_id="wh-old").status_code == 200
    drain_jobs(WEBHOOKS)
    assert runs(db) == []
