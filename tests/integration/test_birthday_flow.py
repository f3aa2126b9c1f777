"""The birthday flow end to end on PostgreSQL, Redis and the simulators over HTTP: the birthday
read from Shopify's `facts.birth_date` metafield by the sync (GraphQL) and from WooCommerce
customer meta; the daily scan starts a run on the birthday in the shop's zone (or in the
birthday month), once a year, only with consent and never to a suppressed address; the email
carries its single-use code; the frequency cap postpones it; the backtest agrees with a hand
count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows.birthday import BIRTHDAY, MONTH, scan_shop
from app.flows.coupons import message_coupon_code
from app.flows.simulation import simulate
from app.flows.triggers import daily_scan
from app.models import Account, Customer, Shop
from app.models.flow import FlowRun, FlowSetting, Message, Suppression
from app.models.woocommerce import WooCommerceShop
from app.queueing import EMAIL, SYNC, WEBHOOKS
from app.services.install_shop import connect_custom_app
from app.services.redact import redact_customer
from app.services.woocommerce_sync import run_sync
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.mutations import discounts
from connectors.sandbox.woocommerce import SandboxWooCommerce
from jobs.flows import dispatch_due_steps
from jobs.reconcile import reconcile_all
from tests.factories import cart_flow, simulated_shopify, woocommerce
from tests.factories.shopify_webhooks import DOMAIN, make_shop
from tests.factories.shops import set_sender_identity
from tests.factories.welcome import QUIET_FREE, flow_messages, flow_runs

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

TOKYO = ZoneInfo("Asia/Tokyo")
STORE = "birthday-tea"
FLOW = {**QUIET_FREE, "caps": [], "step_delay_hours": [0]}


servers = simulated_shopify.servers
config = simulated_shopify.config_sending_mail
live_app = simulated_shopify.live_app
sendgrid = cart_flow.sendgrid


@pytest.fixture
def sandbox(servers: Any) -> Iterator[SandboxShopify]:
    yield from simulated_shopify.open_store(
        servers, DOMAIN, seed=13, customers=12, name="Birthday Store"
    )


@pytest.fixture
def woo(serve: Any) -> Iterator[SandboxWooCommerce]:
    yield from woocommerce.serve_store(serve, STORE, seed=23, customers=8)


def _turn_on(db: Session, shop: Shop, **changes: Any) -> None:
    db.add(
        FlowSetting(shop_id=shop.id, flow_key=BIRTHDAY, enabled=True, config={**FLOW, **changes})
    )
    set_sender_identity(db, shop.id)
    db.commit()


def _tokyo_date(now: datetime) -> date:
    return now.astimezone(TOKYO).date()


def _later_the_same_day(now: datetime) -> datetime:
    """An hour after `now`, or the day's last moment if that is sooner: the same Tokyo date, so
    a second scan finds the same birthdays whatever the hour the test runs at."""
    last = now.astimezone(TOKYO).replace(hour=23, minute=59, second=59, microsecond=999_999)
    return min(now + timedelta(hours=1), last.astimezone(UTC))


def test_a_birthday_from_the_shopify_metafield_gets_its_email_and_code_once_a_year(
    live_app: Flask,
    runtime: Any,
    db: Session,
    drain_jobs: Any,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
) -> None:
    now = datetime.now(UTC)  # one moment for the whole test: its date is the birthday
    today = _tokyo_date(now)
    store = sandbox.shop(DOMAIN)
    made = store.create_customer(  # a leap year: the test may run on 29 February
        email="tanjoubi@example.jp", first_name="陽葵", last_name="森",
        marketing_state="SUBSCRIBED", birth_date=date(1992, today.month, today.day), locale="ja",
    )  # fmt: skip
    token = sandbox.install_app(DOMAIN, expiring=False)["access_token"]
    shop = db.get_one(Shop, connect_custom_app(runtime, DOMAIN, token))
    drain_jobs(SYNC)  # the backfill: customers read over GraphQL (bulk), the metafield too
    reconcile_all(900.0)  # and the 15-minute reconcile's paged read
    drain_jobs(SYNC)
    db.expire_all()
    shop = db.get_one(Shop, shop.id)
    shop.name, shop.locale, shop.currency, shop.timezone = "絆ストア", "ja", "JPY", "Asia/Tokyo"
    _turn_on(db, shop, coupon_step=1, coupon_kind="percentage", coupon_value=20)
    customer = db.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == str(made["id"]))
    ).one()
    assert (customer.birth_year, customer.birth_month, customer.birth_day) == (
        1992,
        today.month,
        today.day,
    )
    with_birthdays = db.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.birth_month.is_not(None))
    ).all()
    assert len(with_birthdays) > 1  # the simulated store's own customers have some too

    with live_app.app_context():
        started = daily_scan(db, shop, now)
        db.commit()
        assert daily_scan(db, shop, _later_the_same_day(now)) == []  # once a year
        db.commit()
    runs = flow_runs(db, BIRTHDAY)
    assert runs
    assert {run.id for run in runs} <= set(started)  # the daily scan runs every flow's scan
    ours = [run for run in runs if run.customer_id == customer.id]
    assert [run.trigger_key for run in ours] == [f"birthday:{today.year}"]
    for run in runs:  # everyone who entered has their birthday today and consents
        entered = db.get_one(Customer, run.customer_id)
        assert (entered.birth_month, entered.birth_day) == (today.month, today.day)
        assert entered.email_marketing_state == "SUBSCRIBED"

    assert dispatch_due_steps(shop.id, BIRTHDAY, 1, now=now)["created"] == len(runs)
    drain_jobs(EMAIL)
    [message] = [m for m in flow_messages(db, BIRTHDAY) if m.customer_id == customer.id]
    assert message.status == "sent"
    [email] = [e for e in sendgrid.outbox if e.to_email == "tanjoubi@example.jp"]
    assert email.subject == "絆ストアより、お誕生日おめでとうございます"
    assert "森 陽葵 様" in (email.html or "")
    code = message_coupon_code(runtime.config.secret_key, shop.id, message.id)
    assert code in (email.html or "")
    discount = discounts(store)[code]
    assert discount.customer_ids == [int(made["id"])]
    assert discount.usage_limit == 1


def test_a_birthday_added_later_arrives_with_the_customer_webhook_and_starts_the_flow(
    live_app: Flask,
    runtime: Any,
    db: Session,
    drain_jobs: Any,
    sandbox: SandboxShopify,
) -> None:
    now = datetime.now(UTC)  # one moment for the whole test: its date is the birthday
    today = _tokyo_date(now)
    store = sandbox.shop(DOMAIN)
    made = store.create_customer(
        email="atokara@example.jp", marketing_state="SUBSCRIBED", birth_date=None
    )
    token = sandbox.install_app(DOMAIN, expiring=False)["access_token"]
    shop = db.get_one(Shop, connect_custom_app(runtime, DOMAIN, token))
    drain_jobs(SYNC)
    customer_hooks = [
        subscription
        for subscription in store.subscriptions.values()
        if subscription.topic in ("customers/create", "customers/update")
    ]
    assert len(customer_hooks) == 2
    assert all(hook.metafield_namespaces == ["facts"] for hook in customer_hooks)
    db.expire_all()
    shop = db.get_one(Shop, shop.id)
    shop.timezone = "Asia/Tokyo"
    _turn_on(db, shop)
    customer = db.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == str(made["id"]))
    ).one()
    assert customer.birth_month is None
    with live_app.app_context():
        scan_shop(db, shop, now)  # the morning's scan: their birthday is not known yet
        db.commit()
    assert customer.id not in {run.customer_id for run in flow_runs(db, BIRTHDAY)}

    # The customer adds a birthday in their account: customers/update carries the metafield.
    store.update_customer(made["id"], birth_date=date(1988, today.month, today.day))
    sandbox.wait_for_deliveries()
    [delivery] = [
        hook
        for hook in sandbox.deliveries
        if hook.topic == "customers/update" and hook.payload["id"] == made["id"]
    ]
    assert delivery.status == "delivered"
    assert [(m["namespace"], m["key"], m["value"]) for m in delivery.payload["metafields"]] == [
        ("facts", "birth_date", date(1988, today.month, today.day).isoformat())
    ]
    drain_jobs(WEBHOOKS)  # no reconcile: the webhook alone brings the birthday
    db.expire_all()
    customer = db.get_one(Customer, customer.id)
    assert (customer.birth_year, customer.birth_month, customer.birth_day) == (
        1988,
        today.month,
        today.day,
    )
    with live_app.app_context():  # a later scan the same day
        started = scan_shop(db, db.get_one(Shop, shop.id), _later_the_same_day(now))
        db.commit()
    ours = [run for run in flow_runs(db, BIRTHDAY) if run.customer_id == customer.id]
    assert [run.trigger_key for run in ours] == [f"birthday:{today.year}"]
    assert ours[0].id in started


def test_a_birthday_from_woocommerce_customer_meta_starts_the_flow(
    app: Flask,
    runtime: Any,
    db: Session,
    drain_jobs: Any,
    woo: SandboxWooCommerce,
    sendgrid: SandboxSendGrid,
) -> None:
    now = datetime.now(UTC)  # one moment for the whole test: its date is the birthday
    today = _tokyo_date(now)
    made = woo.create_customer(STORE, email="woo.bd@example.jp", first_name="Aoi")
    # A leap year: the test may run on 29 February.
    woo.set_meta(STORE, "customers", made["id"], "billing_birth_date", f"1984-{today:%m-%d}")
    woo.set_meta(STORE, "customers", made["id"], "kizuna_marketing_consent", "subscribed")
    consumer_key, consumer_secret = woo.issue_key(STORE)
    keys = json.dumps({"consumer_key": consumer_key, "consumer_secret": consumer_secret})
    account = Account(name="Tea")
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id, platform="woocommerce",
        domain=f"{woo.url}/{STORE}",  # type: ignore[attr-defined]
        status="active", currency="JPY", timezone="Asia/Tokyo", locale="en", name="Tea",
        access_token_encrypted=runtime.cipher.encrypt(keys),
    )  # fmt: skip
    db.add(shop)
    db.flush()
    db.add(WooCommerceShop(shop_id=shop.id))
    db.commit()
    run_sync(runtime, shop.id, incremental=False)
    _turn_on(db, shop, coupon_step=0)
    customer = db.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == str(made["id"]))
    ).one()
    assert (customer.birth_year, customer.birth_month, customer.birth_day) == (
        1984,
        today.month,
        today.day,
    )

    with app.app_context():
        scan_shop(db, shop, now)
        db.commit()
    [run] = [r for r in flow_runs(db, BIRTHDAY) if r.customer_id == customer.id]
    assert run.trigger_key == f"birthday:{today.year}"
    outcome = dispatch_due_steps(shop.id, BIRTHDAY, 1, now=now)
    assert outcome["sent:sent"] >= 1  # no coupon: shared content, sent in the batch
    [email] = [e for e in sendgrid.outbox if e.to_email == "woo.bd@example.jp"]
    assert email.subject == "Happy birthday from Tea"
    assert "Hi Aoi" in (email.html or "")


def _person(db: Session, shop: Shop, n: int, born: tuple[int, int], **values: Any) -> Customer:
    customer = Customer(
        shop_id=shop.id, external_id=str(n), email=f"b{n}@example.jp",
        email_normalized=f"b{n}@example.jp", first_name=f"B{n}",
        email_marketing_state=values.pop("state", "SUBSCRIBED"),
        birth_month=born[0], birth_day=born[1], **values,
    )  # fmt: skip
    db.add(customer)
    return customer


def _shop(db: Session) -> Shop:
    shop = make_shop(db)
    shop.timezone, shop.locale, shop.name = "Asia/Tokyo", "ja", "絆ストア"
    db.commit()
    return shop


def test_consent_suppression_the_day_the_month_and_29_february(app: Flask, db: Session) -> None:
    shop = _shop(db)
    _turn_on(db, shop, coupon_step=0)
    # 28 February 2027 at 09:00 in Tokyo (a common year): 29 February birthdays are today.
    now = datetime(2027, 2, 28, 0, 0, tzinfo=UTC)
    today = _person(db, shop, 1, (2, 28))
    leap = _person(db, shop, 2, (2, 29))
    _person(db, shop, 3, (2, 28), state="NOT_SUBSCRIBED")
    _person(db, shop, 4, (2, 28))
    _person(db, shop, 5, (3, 1))  # tomorrow
    later = _person(db, shop, 6, (2, 10))  # earlier this month: only the month setting
    db.add(Suppression(shop_id=shop.id, email_normalized="b4@example.jp", reason="bounce"))
    db.commit()

    with app.app_context():
        scan_shop(db, shop, now)
        db.commit()
        assert {r.customer_id for r in flow_runs(db, BIRTHDAY)} == {today.id, leap.id}
        assert {r.trigger_key for r in flow_runs(db, BIRTHDAY)} == {"birthday:2027"}

        setting = db.scalars(select(FlowSetting).where(FlowSetting.flow_key == BIRTHDAY)).one()
        setting.config = {**setting.config, "granularity": MONTH}
        db.commit()
        scan_shop(db, shop, now + timedelta(hours=1))
        db.commit()
    assert {r.customer_id for r in flow_runs(db, BIRTHDAY)} == {today.id, leap.id, later.id}

    # A birthday is personal data: a redact erases it.
    redact_customer(db, shop.id, "1", None)
    db.commit()
    db.expire_all()
    erased = db.get_one(Customer, today.id)
    assert (erased.birth_year, erased.birth_month, erased.birth_day) == (None, None, None)


def test_the_frequency_cap_postpones_the_birthday_email(
    app: Flask, db: Session, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db)
    _turn_on(db, shop, coupon_step=0, caps=[[1, 16]])
    now = datetime.now(UTC)
    local = now.astimezone(TOKYO).date()
    customer = _person(db, shop, 7, (local.month, local.day))
    db.flush()
    earlier = now - timedelta(hours=2)
    other = FlowRun(
        shop_id=shop.id, flow_key="winback", customer_id=customer.id, trigger_key="lapse:9",
        status="completed", started_at=earlier,
    )  # fmt: skip
    db.add(other)
    db.flush()
    db.add(
        Message(
            shop_id=shop.id, flow_run_id=other.id, step=1, customer_id=customer.id,
            status="sent", sent_at=earlier, attempts=1, created_at=earlier,
        )
    )  # fmt: skip
    db.commit()
    with app.app_context():
        scan_shop(db, shop, now)
        db.commit()
    assert dispatch_due_steps(shop.id, BIRTHDAY, 1, now=now) == {"created": 1}
    [waiting] = flow_messages(db, BIRTHDAY)
    assert (waiting.status, waiting.not_before) == ("pending", earlier + timedelta(hours=16))
    assert sendgrid.outbox == []


def test_the_backtest_agrees_with_a_hand_count(db: Session) -> None:
    shop = _shop(db)
    _turn_on(db, shop, coupon_step=0)
    until = datetime(2027, 3, 31, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
    since = until - timedelta(days=30)  # 1 March, 12:00 in Tokyo
    in_window = [_person(db, shop, n, (3, day)) for n, day in ((11, 1), (12, 15), (13, 31))]
    _person(db, shop, 14, (2, 27))  # before the window
    _person(db, shop, 15, (4, 1))  # after it
    refuser = _person(db, shop, 16, (3, 10), state="UNSUBSCRIBED")
    db.commit()

    result = simulate(db, shop, BIRTHDAY, since, until)
    by_customer = {entry.customer_id: entry for entry in result.entries}
    assert set(by_customer) == {c.id for c in in_window} | {refuser.id}
    for customer in in_window:
        entry = by_customer[customer.id]
        assert entry.outcome == "entered"
        assert entry.started_at.astimezone(TOKYO).date() == date(2027, 3, customer.birth_day or 0)
        assert len(entry.emails) == 1
    assert by_customer[refuser.id].outcome == "not_eligible:no_consent"
    assert (result.totals.entered, result.totals.emails) == (3, 3)

    setting = db.scalars(select(FlowSetting).where(FlowSetting.flow_key == BIRTHDAY)).one()
    setting.config = {**setting.config, "granularity": MONTH}
    db.commit()
    month = simulate(db, shop, BIRTHDAY, since, until)
    # The month setting: everyone born in March enters at the window's first scan.
    assert {e.started_at for e in month.entries} == {since}
    assert (month.totals.entered, month.totals.emails) == (3, 3)
