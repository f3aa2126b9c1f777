"""The welcome series end to end on PostgreSQL, Redis and the simulated SendGrid over HTTP:
a new subscriber (Shopify customer webhook with consent) or a first-time customer enters, the
emails go out through `rules.decide`, a first order does not end a subscriber's series and the
second purchase does; no consent or a suppressed address starts nothing, the frequency cap
postpones; the backtest agrees with a hand count; the admin lists it with settings, preview
and backtest. On WooCommerce the same series runs from the store's signed webhooks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows.simulation import simulate
from app.flows.welcome import SECOND_PURCHASE, WELCOME
from app.models import Account, Customer, Order
from app.models.flow import FlowRun, FlowSetting, Message, Suppression
from app.models.woocommerce import WooCommerceShop
from app.queueing import WEBHOOKS
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.sandbox.woocommerce.webhooks import sign
from connectors.woocommerce.consent import KIZUNA_KEY
from jobs.flows import dispatch_due_steps
from tests.factories import cart_flow, woocommerce
from tests.factories.admin import login, text_of
from tests.factories.shops import set_sender_identity
from tests.factories.welcome import (
    QUIET_FREE,
    customer_body,
    deliver_customer,
    deliver_order,
    flow_messages,
    flow_runs,
    flow_shop,
    order_body,
    stored_customer,
)

config = cart_flow.config
sendgrid = cart_flow.sendgrid

EMAIL = "hanako@example.jp"
SERIES = {**QUIET_FREE, "step_delay_hours": [0, 72, 168]}


def _shop(db: Session, **changes: Any) -> Any:
    shop = flow_shop(db, welcome={**SERIES, **changes})
    set_sender_identity(db, shop.id)
    return shop


def test_a_new_subscriber_gets_the_series_and_leaves_it_at_the_second_purchase(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db)
    deliver_customer(client, customer_body(7101, EMAIL))
    drain_jobs(WEBHOOKS)
    [run] = flow_runs(db, WELCOME)
    assert (run.status, run.trigger_key, run.next_step) == ("running", "welcome", 1)
    deliver_customer(client, customer_body(7101, EMAIL), topic="customers/update")
    drain_jobs(WEBHOOKS)
    assert len(flow_runs(db, WELCOME)) == 1  # one series per customer

    t0 = run.started_at
    assert dispatch_due_steps(shop.id, WELCOME, 1, now=t0) == {"created": 1, "sent:sent": 1}
    [first] = sendgrid.outbox
    assert first.subject == "絆ストアへようこそ"
    assert "森 花子 様" in (first.html or "")
    assert first.categories == ("kizuna", "flow-welcome", "welcome-step-1")

    # The first order does not end a subscriber's series: its goal is the second.
    deliver_order(client, order_body(8101, 7101, EMAIL, datetime.now(UTC)))
    drain_jobs(WEBHOOKS)
    [run] = flow_runs(db, WELCOME)
    assert run.status == "running"
    assert stored_customer(db, shop, 7101).orders_count == 1
    assert dispatch_due_steps(shop.id, WELCOME, 2, now=t0 + timedelta(hours=72))["created"] == 1
    assert len(sendgrid.outbox) == 2

    deliver_order(client, order_body(8102, 7101, EMAIL, datetime.now(UTC)))
    drain_jobs(WEBHOOKS)
    [run] = flow_runs(db, WELCOME)
    assert (run.status, run.exit_reason) == ("exited", SECOND_PURCHASE)
    assert dispatch_due_steps(shop.id, WELCOME, 3, now=t0 + timedelta(hours=168)) == {}
    assert len(sendgrid.outbox) == 2


def test_a_first_time_customer_enters_at_the_first_order_and_the_second_ends_it(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db)
    long_ago = datetime.now(UTC) - timedelta(days=40)
    deliver_customer(client, customer_body(7201, EMAIL, consent_at=long_ago))
    drain_jobs(WEBHOOKS)
    assert flow_runs(db, WELCOME) == []  # an old subscriber is not new

    deliver_order(client, order_body(8201, 7201, EMAIL, datetime.now(UTC)))
    drain_jobs(WEBHOOKS)
    [run] = flow_runs(db, WELCOME)
    assert run.status == "running"
    assert dispatch_due_steps(shop.id, WELCOME, 1, now=run.started_at)["sent:sent"] == 1

    deliver_order(client, order_body(8202, 7201, EMAIL, datetime.now(UTC)))
    drain_jobs(WEBHOOKS)
    [run] = flow_runs(db, WELCOME)
    assert (run.status, run.exit_reason) == ("exited", SECOND_PURCHASE)
    assert len(sendgrid.outbox) == 1


def test_without_consent_or_when_suppressed_nothing_starts_and_an_unsubscribe_stops_it(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db)
    db.add(Suppression(shop_id=shop.id, email_normalized="bounced@example.jp", reason="bounce"))
    db.commit()
    deliver_customer(client, customer_body(7301, "never@example.jp", state="not_subscribed"))
    deliver_customer(client, customer_body(7302, "bounced@example.jp"))
    deliver_order(client, order_body(8301, 7301, "never@example.jp", datetime.now(UTC)))
    drain_jobs(WEBHOOKS)
    assert flow_runs(db, WELCOME) == []

    deliver_customer(client, customer_body(7303, EMAIL))
    drain_jobs(WEBHOOKS)
    [run] = flow_runs(db, WELCOME)
    customer = stored_customer(db, shop, 7303)
    customer.email_marketing_state = "UNSUBSCRIBED"
    db.commit()
    outcome = dispatch_due_steps(shop.id, WELCOME, 1, now=run.started_at)
    assert outcome == {"exited:no_consent": 1}
    assert sendgrid.outbox == []


def test_the_frequency_cap_postpones_a_welcome_email(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, caps=[[1, 16]])
    deliver_customer(client, customer_body(7401, EMAIL))
    drain_jobs(WEBHOOKS)
    [run] = flow_runs(db, WELCOME)
    earlier = run.started_at - timedelta(hours=1)
    other = FlowRun(
        shop_id=shop.id, flow_key="winback", customer_id=run.customer_id, trigger_key="lapse:1",
        status="completed", started_at=earlier,
    )  # fmt: skip
    db.add(other)
    db.flush()
    db.add(
        Message(
            shop_id=shop.id, flow_run_id=other.id, step=1, customer_id=run.customer_id,
            status="sent", sent_at=earlier, attempts=1, created_at=earlier,
        )
    )  # fmt: skip
    db.commit()

    assert dispatch_due_steps(shop.id, WELCOME, 1, now=run.started_at) == {"created": 1}
    [waiting] = flow_messages(db, WELCOME)
    assert waiting.status == "pending"
    assert waiting.not_before == earlier + timedelta(hours=16)
    assert sendgrid.outbox == []


def _customer(db: Session, shop: Any, n: int, consent: datetime, state: str) -> Customer:
    customer = Customer(
        shop_id=shop.id, external_id=str(n), email=f"c{n}@example.jp",
        email_normalized=f"c{n}@example.jp", email_marketing_state=state,
        email_marketing_updated_at=consent, platform_created_at=consent,
    )  # fmt: skip
    db.add(customer)
    db.flush()
    return customer


def _orders(db: Session, shop: Any, customer: Customer, *days_ago: int) -> None:
    now = datetime.now(UTC)
    for index, days in enumerate(days_ago):
        placed = now - timedelta(days=days)
        db.add(
            Order(
                shop_id=shop.id, external_id=f"{customer.external_id}-{index}",
                customer_id=customer.id, processed_at=placed, platform_created_at=placed,
                financial_status="paid", currency="JPY",
            )
        )  # fmt: skip
        customer.orders_count += 1
        customer.first_order_at = min(customer.first_order_at or placed, placed)


def test_the_backtest_agrees_with_a_hand_count(db: Session) -> None:
    shop = _shop(db)
    now = datetime.now(UTC)
    ago = lambda days: now - timedelta(days=days)  # noqa: E731
    subscriber = _customer(db, shop, 1, ago(10), "SUBSCRIBED")  # 3 emails, no order
    repeat = _customer(db, shop, 2, ago(10), "SUBSCRIBED")
    _orders(db, shop, repeat, 9, 8)  # second order 8 days ago: exits before email 2
    buyer = _customer(db, shop, 3, ago(100), "SUBSCRIBED")
    _orders(db, shop, buyer, 6)  # enters at the first order: 3 emails (the last one due later)
    regular = _customer(db, shop, 4, ago(10), "SUBSCRIBED")
    _orders(db, shop, regular, 60, 45)  # bought twice before subscribing: never enters
    refuser = _customer(db, shop, 5, ago(10), "NOT_SUBSCRIBED")
    db.commit()

    result = simulate(db, shop, WELCOME, now - timedelta(days=30), now)
    by_customer = {entry.customer_id: entry for entry in result.entries}
    assert set(by_customer) == {subscriber.id, repeat.id, buyer.id, refuser.id}
    assert regular.id not in by_customer
    assert len(by_customer[subscriber.id].emails) == 3
    assert (by_customer[repeat.id].outcome, by_customer[repeat.id].exited_before_step) == (
        f"exited:{SECOND_PURCHASE}",
        2,
    )
    assert len(by_customer[repeat.id].emails) == 1
    assert len(by_customer[buyer.id].emails) == 3
    assert by_customer[refuser.id].outcome == "not_eligible:no_consent"
    totals = result.totals
    assert (totals.entered, totals.exited, totals.emails) == (3, 1, 7)
    assert totals.not_eligible == {"no_consent": 1}


def test_the_admin_lists_the_series_with_settings_preview_and_backtest(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop = _shop(db)
    _customer(db, shop, 11, datetime.now(UTC), "SUBSCRIBED").first_name = "花子"
    db.commit()
    login(client, runtime, db.get_one(Account, shop.account_id))
    listing = client.get("/app/flows")
    assert listing.status_code == 200
    assert "/app/flows/welcome" in text_of(listing)
    page = client.get("/app/flows/welcome")
    assert page.status_code == 200
    html = text_of(page)
    assert 'name="coupon_step"' in html
    assert 'data-step="3"' in html  # every step previewed
    assert client.get("/app/flows/backtest?flow=welcome").status_code == 200


def test_the_admin_lists_the_birthday_flow_and_previews_its_sample_coupon(
    client: Any, db: Session, runtime: Any
) -> None:
    shop = _shop(db)
    born = _customer(db, shop, 12, datetime.now(UTC), "SUBSCRIBED")
    born.birth_month, born.birth_day = 5, 3
    db.commit()
    login(client, runtime, db.get_one(Account, shop.account_id))
    assert "/app/flows/birthday" in text_of(client.get("/app/flows"))
    page = client.get(f"/app/flows/birthday?customer_id={born.id}")
    assert page.status_code == 200
    html = text_of(page)
    assert 'name="granularity"' in html
    assert 'name="coupon_kind"' in html
    assert "KZ-SAMPLE00" in html  # the birthday coupon, as a sample: nothing is created
    assert client.get("/app/flows/backtest?flow=birthday").status_code == 200
    saved = client.post(
        "/app/flows/birthday",
        data={
            **_form_of(html),
            "granularity": "month",
            "coupon_kind": "fixed",
            "coupon_value": "500",
        },
    )
    assert saved.status_code == 302
    db.expire_all()
    setting = db.scalars(select(FlowSetting).where(FlowSetting.flow_key == "birthday")).one()
    assert (setting.config["granularity"], setting.config["coupon_kind"]) == ("month", "fixed")
    assert setting.config["coupon_value"] == 500


def _form_of(html: str) -> dict[str, str]:
    """The settings form's fields as the page fills them (inputs, checked boxes, selections)."""
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input [^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        fields[name[1]] = unescape(value[1]) if value else ""
    for name, body in re.findall(
        r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', html, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        fields[name] = unescape(chosen[1]) if chosen else ""
    return fields


# --- WooCommerce -----------------------------------------------------------------------------

WOO_STORE = "welcome-tea"
WOO_SECRET = "webhook-secret-welcome-0123"


@pytest.fixture
def woo(serve: Any) -> Iterator[SandboxWooCommerce]:
    yield from woocommerce.serve_store(serve, WOO_STORE, seed=31, customers=1)


def _deliver_woo(client: Any, woo: SandboxWooCommerce, shop: Any, kind: str, item_id: int) -> None:
    """The store's signed webhook for a created customer or order, as WooCommerce posts it."""
    topic = {"customers": "customer.created", "orders": "order.created"}[kind]
    body = json.dumps(woo.render(WOO_STORE, kind, item_id)).encode()
    response = client.post(
        f"/webhooks/woocommerce?shop={shop.id}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Signature": sign(body, WOO_SECRET),
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_new_woocommerce_subscriber_gets_the_series_and_the_second_order_ends_it(
    client: Any,
    db: Session,
    runtime: Any,
    drain_jobs: Any,
    woo: SandboxWooCommerce,
    sendgrid: SandboxSendGrid,
) -> None:
    shop = woocommerce.build_connected_shop(db, runtime, woo, WOO_STORE, timezone="Asia/Tokyo")
    db.get_one(WooCommerceShop, shop.id).webhook_secret_encrypted = runtime.cipher.encrypt(
        WOO_SECRET
    )
    db.add(FlowSetting(shop_id=shop.id, flow_key=WELCOME, enabled=True, config=SERIES))
    db.commit()
    set_sender_identity(db, shop.id)
    made = woo.create_customer(WOO_STORE, email="woo.new@example.jp", first_name="葵")
    woo.set_meta(WOO_STORE, "customers", made["id"], KIZUNA_KEY, "subscribed")

    _deliver_woo(client, woo, shop, "customers", made["id"])
    drain_jobs(WEBHOOKS)
    [run] = flow_runs(db, WELCOME)
    assert (run.status, run.trigger_key, run.next_step) == ("running", "welcome", 1)
    assert dispatch_due_steps(shop.id, WELCOME, 1, now=run.started_at)["sent:sent"] == 1
    [first] = sendgrid.outbox
    assert first.to_email == "woo.new@example.jp"

    for _ in range(2):
        order = woo.create_order(WOO_STORE, customer_id=made["id"])
        _deliver_woo(client, woo, shop, "orders", order["id"])
        drain_jobs(WEBHOOKS)
    [run] = flow_runs(db, WELCOME)
    assert (run.status, run.exit_reason) == ("exited", SECOND_PURCHASE)
    assert dispatch_due_steps(shop.id, WELCOME, 2, now=run.started_at + timedelta(hours=72)) == {}
    assert len(sendgrid.outbox) == 1
