"""Marketing consent on WooCommerce, end to end: meta read by a sync from the simulated store over
real HTTP, the storefront checkbox posted to the capture endpoint, the cart email that follows,
and an opt-out written back to the store's customer meta (a guest's stays in Kizuna).

Real PostgreSQL and Redis; the simulated WooCommerce and SendGrid are served on loopback ports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from rq import Queue
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.models import Account, Checkout, Customer, Shop
from app.models.flow import FlowRun, FlowSetting
from app.models.woocommerce import WooCommerceShop
from app.services import upsert
from app.services.unsubscribe import make_token
from app.storefront import capture_key
from connectors.base import CustomerRecord, RetryableError
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.woocommerce import mapping
from connectors.woocommerce.consent import KIZUNA_KEY, MAILCHIMP_KEY
from jobs.consent import write_back_consent as write_back_job
from jobs.flows import run_flow_step as run_flow_step_job
from jobs.queues import EMAIL, SYNC
from jobs.woocommerce import run_sync
from tests.conftest import make_test_env

STORE = "tea-shop"
# Jobs called with their ids only, as RQ calls them (the decorator supplies the runtime).
run_flow_step: Any = run_flow_step_job
write_back_consent: Any = write_back_job


@pytest.fixture
def sendgrid(serve: Any) -> SandboxSendGrid:
    sandbox = SandboxSendGrid()
    sandbox.url = serve(sandbox.wsgi_app).url  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Path, sendgrid: Any) -> Config:
    env = make_test_env(
        database_url,
        redis_url,
        APP_URL="https://kizuna.test",
        SENDGRID_SANDBOX_URL=sendgrid.url,
        SENDGRID_EVENT_PUBLIC_KEY=sendgrid.public_key_b64,
    )
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def woo(serve: Any) -> Iterator[SandboxWooCommerce]:
    platform = SandboxWooCommerce(seed=11)
    platform.add_store(url_path=STORE, customers=4, years=1, currency="JPY")
    platform.url = serve(platform.wsgi_app).url  # type: ignore[attr-defined]
    yield platform
    platform.close()


@pytest.fixture
def shop(db: Session, runtime: Any, woo: SandboxWooCommerce) -> Shop:
    """A connected store (keys issued by hand, as under Settings → Advanced → REST API)."""
    consumer_key, consumer_secret = woo.issue_key(STORE)
    keys = json.dumps({"consumer_key": consumer_key, "consumer_secret": consumer_secret})
    account = Account(name="Tea")
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id,
        platform="woocommerce",
        domain=f"{woo.url}/{STORE}",  # type: ignore[attr-defined]
        status="active",
        currency="JPY",
        timezone="UTC",
        locale="ja",
        name="絆ティー",
        access_token_encrypted=runtime.cipher.encrypt(keys),
    )
    db.add(shop)
    db.flush()
    db.add(WooCommerceShop(shop_id=shop.id))
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key="cart",
            enabled=True,
            config={"holdout_percent": 0, "quiet_hours": None},
        )
    )
    db.commit()
    return shop


def _customer(db: Session, shop: Shop, external_id: str) -> Customer:
    db.expire_all()
    return db.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == external_id)
    ).one()


def _meta(woo: SandboxWooCommerce, customer_id: int) -> dict[str, Any]:
    resource = woo.render(STORE, "customers", customer_id)
    return {entry["key"]: entry["value"] for entry in resource["meta_data"]}


def _origin(shop: Shop) -> str:
    parts = urlparse(shop.domain)
    return f"{parts.scheme}://{parts.netloc}"


def _capture(client: Any, runtime: Any, shop: Shop, email: str, **changes: Any) -> Any:
    key = capture_key(runtime.config.secret_key, shop.id)
    body = {
        "email": email,
        "cart_token": "cart0123456789",
        "currency": "JPY",
        "cart_url": f"{_origin(shop)}/cart/",
        "items": [{"title": "Sencha", "quantity": 2, "price": "1800", "product_id": 11}],
        **changes,
    }
    return client.post(
        f"/storefront/woocommerce/capture?shop={shop.id}&key={key}",
        json=body,
        headers={"Origin": _origin(shop)},
    )


# --- reading consent -------------------------------------------------------------------------


def test_a_sync_reads_consent_from_customer_and_guest_order_meta(
    db: Session, runtime: Any, woo: SandboxWooCommerce, shop: Shop
) -> None:
    a, b, c, d = sorted(woo.store(STORE).customers)[:4]
    woo.set_meta(STORE, "customers", a, KIZUNA_KEY, "subscribed")
    woo.set_meta(STORE, "customers", b, MAILCHIMP_KEY, "unsubscribed")
    woo.set_meta(STORE, "customers", c, MAILCHIMP_KEY, "1")
    woo.set_meta(STORE, "customers", c, KIZUNA_KEY, "no")  # Kizuna's key wins
    woo.create_order(STORE, guest_email="Opt.In@example.jp", meta={MAILCHIMP_KEY: "1"})

    run_sync(runtime, shop.id, incremental=False)

    states = {
        external_id: (row.email_marketing_state, row.email_marketing_opt_in_level)
        for external_id in (str(a), str(b), str(c), str(d), "guest:opt.in@example.jp")
        for row in [_customer(db, shop, external_id)]
    }
    assert states == {
        str(a): ("SUBSCRIBED", "SINGLE_OPT_IN"),
        str(b): ("UNSUBSCRIBED", None),
        str(c): ("NOT_SUBSCRIBED", None),
        str(d): (None, None),
        "guest:opt.in@example.jp": ("SUBSCRIBED", "SINGLE_OPT_IN"),
    }
    first = _customer(db, shop, str(a)).email_marketing_updated_at
    assert first == woo.store(STORE).customers[a]["modified"]

    # The shopper unsubscribes in the store (a plugin sets the meta): the next sync follows,
    # and the consent time moves with the change.
    woo.set_meta(STORE, "customers", a, KIZUNA_KEY, "unsubscribed")
    run_sync(runtime, shop.id, incremental=False)
    row = _customer(db, shop, str(a))
    assert row.email_marketing_state == "UNSUBSCRIBED"
    assert first is not None
    assert row.email_marketing_updated_at is not None
    assert row.email_marketing_updated_at > first


# --- the storefront checkbox -----------------------------------------------------------------


def test_a_ticked_box_subscribes_a_known_customer_and_an_unticked_one_never_downgrades(
    client: Any, db: Session, runtime: Any, woo: SandboxWooCommerce, shop: Shop
) -> None:
    run_sync(runtime, shop.id, incremental=False)
    first, second = sorted(woo.store(STORE).customers)[:2]
    email = woo.store(STORE).customers[first]["email"]
    assert _customer(db, shop, str(first)).email_marketing_state is None

    before = datetime.now(UTC)
    assert _capture(client, runtime, shop, email.upper(), marketing_consent=True).status_code == 200
    row = _customer(db, shop, str(first))
    assert (row.email_marketing_state, row.email_marketing_opt_in_level) == (
        "SUBSCRIBED",
        "SINGLE_OPT_IN",
    )
    assert row.email_marketing_updated_at is not None
    assert row.email_marketing_updated_at >= before.replace(microsecond=0)
    subscribed_at = row.email_marketing_updated_at

    # The box unticked on a later capture: not an opt-out.
    assert _capture(client, runtime, shop, email, marketing_consent=False).status_code == 200
    row = _customer(db, shop, str(first))
    assert row.email_marketing_state == "SUBSCRIBED"
    assert row.email_marketing_updated_at == subscribed_at

    # Unticked for a customer who never consented: nothing changes either.
    other = woo.store(STORE).customers[second]["email"]
    response = _capture(
        client, runtime, shop, other, cart_token="cart9876543210", marketing_consent=False
    )
    assert response.status_code == 200
    assert _customer(db, shop, str(second)).email_marketing_state is None

    refused = _capture(client, runtime, shop, email, marketing_consent="yes")
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_marketing_consent"


def test_a_tick_before_the_customer_exists_applies_when_they_arrive(
    client: Any, db: Session, runtime: Any, woo: SandboxWooCommerce, shop: Shop
) -> None:
    response = _capture(client, runtime, shop, "New.Buyer@example.jp", marketing_consent=True)
    assert response.status_code == 200
    db.expire_all()
    checkout = db.scalars(select(Checkout).where(Checkout.shop_id == shop.id)).one()
    assert checkout.customer_id is None
    assert checkout.marketing_opt_in_at is not None
    assert db.scalars(select(Customer).where(Customer.shop_id == shop.id)).all() == []

    # The shopper pays as a guest: the order (no consent meta) brings the customer.
    woo.create_order(STORE, guest_email="new.buyer@example.jp")
    run_sync(runtime, shop.id, incremental=False)
    guest = _customer(db, shop, "guest:new.buyer@example.jp")
    assert (guest.email_marketing_state, guest.email_marketing_opt_in_level) == (
        "SUBSCRIBED",
        "SINGLE_OPT_IN",
    )
    assert guest.email_marketing_updated_at == checkout.marketing_opt_in_at


def test_a_tick_never_overrides_a_later_unsubscribe(
    client: Any, db: Session, runtime: Any, shop: Shop
) -> None:
    response = _capture(client, runtime, shop, "late@example.jp", marketing_consent=True)
    assert response.status_code == 200
    db.expire_all()
    ticked_at = db.scalars(select(Checkout.marketing_opt_in_at)).one()
    assert ticked_at is not None
    # The customer arrives saying they unsubscribed after the tick: that stands.
    record = CustomerRecord(
        external_id="77",
        updated_at=ticked_at + timedelta(minutes=5),
        email="late@example.jp",
        email_marketing_state="UNSUBSCRIBED",
    )
    upsert.upsert_customers(db, shop.id, [record])
    db.commit()
    assert _customer(db, shop, "77").email_marketing_state == "UNSUBSCRIBED"
    # Nor does a tick older than a stored unsubscribe, on the immediate path.
    row = _customer(db, shop, "77")
    assert not upsert.apply_opt_in(row, ticked_at)
    assert row.email_marketing_state == "UNSUBSCRIBED"


def test_a_ticked_box_lets_the_cart_email_go_to_a_woocommerce_customer(
    client: Any,
    db: Session,
    runtime: Any,
    woo: SandboxWooCommerce,
    shop: Shop,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    run_sync(runtime, shop.id, incremental=False)
    first, second = sorted(woo.store(STORE).customers)[:2]
    ticked = woo.store(STORE).customers[first]["email"]
    unticked = woo.store(STORE).customers[second]["email"]
    assert _capture(client, runtime, shop, ticked, marketing_consent=True).status_code == 200
    response = _capture(
        client, runtime, shop, unticked, cart_token="cart9876543210", marketing_consent=False
    )
    assert response.status_code == 200

    db.expire_all()
    runs = {run.trigger_key: run for run in db.scalars(select(FlowRun))}
    assert set(runs) == {"capture:cart0123456789", "capture:cart9876543210"}
    assert run_flow_step(runs["capture:cart0123456789"].id, 1) == "created"
    assert run_flow_step(runs["capture:cart9876543210"].id, 1) == "exited:no_consent"
    drain_jobs(EMAIL)

    [sent] = sendgrid.outbox
    assert sent.to_email == ticked
    assert "Sencha" in (sent.text or "")


# --- writing an opt-out back -----------------------------------------------------------------


def test_an_unsubscribe_in_kizuna_is_written_to_the_customers_meta(
    client: Any,
    db: Session,
    runtime: Any,
    woo: SandboxWooCommerce,
    shop: Shop,
    drain_jobs: Any,
) -> None:
    platform_id = sorted(woo.store(STORE).customers)[0]
    woo.set_meta(STORE, "customers", platform_id, MAILCHIMP_KEY, "1")
    run_sync(runtime, shop.id, incremental=False)
    customer = _customer(db, shop, str(platform_id))
    assert customer.email_marketing_state == "SUBSCRIBED"

    token = make_token(runtime.config.secret_key, shop.id, customer.id, None)
    path = urlparse(f"https://x/unsubscribe/{token}").path
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert Queue(SYNC, connection=runtime.redis).job_ids == [f"consent-{customer.id}"]
    drain_jobs(SYNC)

    assert _meta(woo, platform_id) == {KIZUNA_KEY: "unsubscribed", MAILCHIMP_KEY: "unsubscribed"}
    job = Job.fetch(f"consent-{customer.id}", connection=runtime.redis)
    assert job.return_value() == "written"
    db.expire_all()
    assert db.get_one(Shop, shop.id).last_error is None
    # The next sync reads the opt-out back from the store.
    run_sync(runtime, shop.id, incremental=False)
    assert _customer(db, shop, str(platform_id)).email_marketing_state == "UNSUBSCRIBED"
    assert mapping.customer_from_resource(
        woo.render(STORE, "customers", platform_id)
    ).email_marketing_state == ("UNSUBSCRIBED")


def test_a_guest_opt_out_stays_in_kizuna(
    client: Any,
    db: Session,
    runtime: Any,
    woo: SandboxWooCommerce,
    shop: Shop,
    drain_jobs: Any,
) -> None:
    woo.create_order(STORE, guest_email="guest.only@example.jp", meta={MAILCHIMP_KEY: "1"})
    run_sync(runtime, shop.id, incremental=False)
    guest = _customer(db, shop, "guest:guest.only@example.jp")
    assert guest.email_marketing_state == "SUBSCRIBED"
    customers_before = {cid: _meta(woo, cid) for cid in woo.store(STORE).customers}

    token = make_token(runtime.config.secret_key, shop.id, guest.id, None)
    path = urlparse(f"https://x/unsubscribe/{token}").path
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    drain_jobs(SYNC)

    job = Job.fetch(f"consent-{guest.id}", connection=runtime.redis)
    assert job.return_value() == "unsupported"
    assert {cid: _meta(woo, cid) for cid in woo.store(STORE).customers} == customers_before
    guest = _customer(db, shop, "guest:guest.only@example.jp")
    assert guest.email_marketing_state == "UNSUBSCRIBED"
    db.expire_all()
    assert db.get_one(Shop, shop.id).last_error is None


def test_a_refused_write_back_lands_on_last_error_and_a_503_is_retried(
    app: Any, db: Session, woo: SandboxWooCommerce, shop: Shop
) -> None:
    ghost = Customer(
        shop_id=shop.id,
        external_id="999999",  # unknown to the store → 404
        email="ghost@example.jp",
        email_normalized="ghost@example.jp",
        email_marketing_state="UNSUBSCRIBED",
        email_marketing_updated_at=datetime.now(UTC),
    )
    db.add(ghost)
    db.commit()
    assert write_back_consent(ghost.id) == "failed"
    db.expire_all()
    last_error = db.get_one(Shop, shop.id).last_error or ""
    assert last_error.startswith("WooCommerce refused the opt-out of customer 999999")

    woo.fail_next(STORE, 503, count=4, retry_after=0)
    with pytest.raises(RetryableError):
        write_back_consent(ghost.id)


# --- the script ------------------------------------------------------------------------------


def test_the_script_carries_the_checkbox_and_the_merchants_selector(
    client: Any, runtime: Any, shop: Shop
) -> None:
    key = capture_key(runtime.config.secret_key, shop.id)
    base = f"/storefront/woocommerce/capture.js?shop={shop.id}&key={key}"

    own = client.get(base).get_data(as_text=True)
    assert "Email me news and offers" in own
    assert "ニュースやお得な情報をメールで受け取る" in own
    assert "var consentSelector = null;" in own
    assert "marketing_consent" in own

    selector = "#mailchimp_woocommerce_newsletter"
    theirs = client.get(f"{base}&consent=%23mailchimp_woocommerce_newsletter")
    assert theirs.status_code == 200
    script = theirs.get_data(as_text=True)
    assert f"var consentSelector = {json.dumps(selector)};" in script
    assert "consent=%23mailchimp_woocommerce_newsletter" in script  # the tag it documents

    for bad in ('input[name="x"]', "a'b", "</script>", "x" * 101, "a\nb"):
        refused = client.get(
            "/storefront/woocommerce/capture.js",
            query_string={"shop": shop.id, "key": key, "consent": bad},
        )
        assert refused.status_code == 400, bad
        assert refused.get_json()["error"] == "invalid_consent_selector"
