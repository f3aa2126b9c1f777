"""Marketing consent on WooCommerce, end to end: meta read by a sync from the simulated store over
real HTTP, signed order data, the storefront checkbox posted to the capture endpoint (a request
the shopper confirms from an email: double opt-in), the cart email that follows, and an opt-out
written back to the store's customer meta (a guest's stays in Kizuna).

Real PostgreSQL and Redis; the simulated WooCommerce and SendGrid are served on loopback ports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
from rq import Queue
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Checkout, Customer, Shop, TimelineEvent
from app.models.flow import FlowRun, FlowSetting
from app.models.opt_in import OptInRequest
from app.models.woocommerce import WooCommerceShop
from app.queueing import EMAIL, FLOWS, SYNC, WEBHOOKS
from app.services import opt_in, upsert
from app.services.unsubscribe import make_token, suppress_address
from app.services.woocommerce_sync import run_sync
from app.storefront import capture_key
from connectors.base import CustomerRecord, RetryableError
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.sandbox.woocommerce.webhooks import sign
from connectors.woocommerce import mapping
from connectors.woocommerce.consent import KIZUNA_KEY, MAILCHIMP_KEY
from jobs.consent import write_back_consent as write_back_job
from jobs.flows import run_flow_step as run_flow_step_job
from tests.factories import cart_flow, woocommerce
from tests.factories.admin import pages_in_both_languages

STORE = "tea-shop"
# Jobs called with their ids only, as RQ calls them (the decorator supplies the runtime).
run_flow_step: Any = run_flow_step_job
write_back_consent: Any = write_back_job


config = cart_flow.config
sendgrid = cart_flow.sendgrid


@pytest.fixture
def woo(serve: Any) -> Iterator[SandboxWooCommerce]:
    yield from woocommerce.serve_store(serve, STORE, seed=11, customers=4)


@pytest.fixture
def shop(db: Session, runtime: Any, woo: SandboxWooCommerce) -> Shop:
    shop = woocommerce.build_connected_shop(db, runtime, woo, STORE)
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


# --- the storefront checkbox: a request for consent, confirmed by the shopper ----------------


def _forged_capture(base_url: str, runtime: Any, shop: Shop, email: str, **changes: Any) -> Any:
    """A plain HTTP client with the store's public capture key and an `Origin` it sets itself."""
    key = capture_key(runtime.config.secret_key, shop.id)
    body = {
        "email": email,
        "cart_token": "cart0123456789",
        "currency": "JPY",
        "items": [{"title": "Sencha", "quantity": 2, "price": "1800", "product_id": 11}],
        **changes,
    }
    return requests.post(
        f"{base_url}/storefront/woocommerce/capture?shop={shop.id}&key={key}",
        json=body,
        headers={"Origin": _origin(shop)},
        timeout=30,
    )


def _consent(db: Session, shop: Shop, external_id: str) -> tuple[Any, ...]:
    row = _customer(db, shop, external_id)
    return (
        row.email_marketing_state,
        row.email_marketing_opt_in_level,
        row.email_marketing_updated_at,
    )


def _confirmations(sendgrid: SandboxSendGrid) -> list[Any]:
    return [m for m in sendgrid.outbox if "opt-in-confirmation" in m.categories]


def _link_path(message: Any) -> str:
    found = re.search(r"https://kizuna\.test(/opt-in/[A-Za-z0-9_.-]+)", message.text or "")
    assert found is not None, message.text
    return found.group(1)


def test_a_forged_tick_changes_no_consent_and_starts_no_flow(
    app: Any,
    serve: Any,
    db: Session,
    runtime: Any,
    woo: SandboxWooCommerce,
    shop: Shop,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    a, b, c, d = sorted(woo.store(STORE).customers)[:4]
    woo.set_meta(STORE, "customers", b, KIZUNA_KEY, "unsubscribed")
    woo.set_meta(STORE, "customers", c, KIZUNA_KEY, "no")
    run_sync(runtime, shop.id, incremental=False)
    before = {str(n): _consent(db, shop, str(n)) for n in (a, b, c, d)}
    assert [state[0] for state in before.values()] == [None, "UNSUBSCRIBED", "NOT_SUBSCRIBED", None]

    base_url = serve(app).url
    for n, cart in ((a, "cartaaaaaaaa"), (b, "cartbbbbbbbb"), (c, "cartcccccccc")):
        email = woo.store(STORE).customers[n]["email"]
        response = _forged_capture(
            base_url, runtime, shop, email.upper(), cart_token=cart, marketing_consent=True
        )
        assert response.status_code == 200
    # A cart without any box, for a customer who never consented: captured, never followed up.
    email = woo.store(STORE).customers[d]["email"]
    assert _forged_capture(base_url, runtime, shop, email, cart_token="cartdddddddd").ok

    assert {str(n): _consent(db, shop, str(n)) for n in (a, b, c, d)} == before
    captured = select(Checkout).where(Checkout.external_id.startswith("capture:"))
    assert len(db.scalars(captured).all()) == 4
    assert db.scalars(select(FlowRun)).all() == []
    drain_jobs(EMAIL, FLOWS)
    # Each address is asked to confirm; no marketing email goes anywhere.
    assert sorted(m.to_email for m in sendgrid.outbox) == sorted(
        woo.store(STORE).customers[n]["email"].lower() for n in (a, b, c)
    )
    assert all(m.categories == ("kizuna", "opt-in-confirmation") for m in sendgrid.outbox)
    assert all("List-Unsubscribe" not in m.headers for m in sendgrid.outbox)


def test_double_opt_in_from_capture_to_the_cart_email(
    app: Any,
    serve: Any,
    db: Session,
    runtime: Any,
    woo: SandboxWooCommerce,
    shop: Shop,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    run_sync(runtime, shop.id, incremental=False)
    first = sorted(woo.store(STORE).customers)[0]
    email = woo.store(STORE).customers[first]["email"]
    base_url = serve(app).url
    response = _forged_capture(base_url, runtime, shop, email, marketing_consent=True)
    assert response.status_code == 200
    drain_jobs(EMAIL)

    [confirmation] = _confirmations(sendgrid)
    assert confirmation.to_email == email.lower()
    assert confirmation.subject == "絆ティー のメール配信登録の確認"  # the shop's language
    assert confirmation.kizuna_message_id is not None
    assert email.lower() not in confirmation.kizuna_message_id
    path = _link_path(confirmation)
    assert _customer(db, shop, str(first)).email_marketing_state is None

    # Opening the link (or a mail scanner following it) changes nothing; the button confirms.
    page = requests.get(base_url + path, timeout=30)
    assert page.status_code == 200
    assert 'method="post"' in page.text
    assert _customer(db, shop, str(first)).email_marketing_state is None
    clicked = datetime.now(UTC)
    done = requests.post(base_url + path, timeout=30)
    assert done.status_code == 200
    assert "登録しました" in done.text

    state, level, at = _consent(db, shop, str(first))
    assert (state, level) == ("SUBSCRIBED", "CONFIRMED_OPT_IN")
    assert at is not None
    assert at >= clicked.replace(microsecond=0)
    request_row = db.scalars(select(OptInRequest)).one()
    assert request_row.confirmed_at == at
    assert request_row.nonce is None
    event = db.scalars(select(TimelineEvent).where(TimelineEvent.kind == "consent_changed")).one()
    assert event.detail == {"state": "SUBSCRIBED", "source": "storefront_double_opt_in"}
    assert event.occurred_at == at

    # The link works once; a tampered one never.
    assert requests.post(base_url + path, timeout=30).status_code == 404
    assert requests.post(base_url + path[:-2] + "xx", timeout=30).status_code == 404
    assert requests.get(base_url + path[:-2] + "xx", timeout=30).status_code == 404

    # The cart the shopper left is followed up now that they consent.
    [run] = db.scalars(select(FlowRun)).all()
    assert (run.trigger_key, run.status) == ("capture:cart0123456789", "running")
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [cart_email] = [m for m in sendgrid.outbox if "flow-cart" in m.categories]
    assert cart_email.to_email == email
    assert "Sencha" in (cart_email.text or "")


def test_a_confirmation_link_expires_and_names_no_address(runtime: Any) -> None:
    token = opt_in.make_token(runtime.config.secret_key, 1, 2, "nonce")
    assert opt_in.read_token(runtime.config.secret_key, token) == opt_in.OptInToken(1, 2, "nonce")
    assert opt_in.read_token(runtime.config.secret_key, token, max_age=timedelta(-1)) is None
    assert opt_in.read_token("another-secret-key-0123456789", token) is None
    assert opt_in.read_token(runtime.config.secret_key, token + "x" * 300) is None


def test_one_confirmation_a_day_and_none_when_there_is_nothing_to_confirm(
    client: Any,
    db: Session,
    runtime: Any,
    woo: SandboxWooCommerce,
    shop: Shop,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    consenting = sorted(woo.store(STORE).customers)[0]
    woo.set_meta(STORE, "customers", consenting, KIZUNA_KEY, "subscribed")
    run_sync(runtime, shop.id, incremental=False)

    ticks = [
        ("twice@example.jp", "cart0000000001"),
        ("TWICE@example.jp", "cart0000000002"),
        (woo.store(STORE).customers[consenting]["email"], "cart0000000003"),
        ("bounced@example.jp", "cart0000000004"),
    ]
    suppress_address(db, shop.id, "bounced@example.jp", "bounce")
    db.commit()
    for email, cart in ticks:
        response = _capture(client, runtime, shop, email, cart_token=cart, marketing_consent=True)
        assert response.status_code == 200
    drain_jobs(EMAIL)
    assert [m.to_email for m in _confirmations(sendgrid)] == ["twice@example.jp"]

    # The consenting customer's cart is captured and followed up as before.
    db.expire_all()
    [run] = db.scalars(select(FlowRun)).all()
    assert run.trigger_key == "capture:cart0000000003"
    assert _customer(db, shop, str(consenting)).email_marketing_opt_in_level == "SINGLE_OPT_IN"


def test_confirmations_a_shop_sends_are_capped_per_hour(
    client: Any,
    runtime: Any,
    shop: Shop,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(opt_in, "MAX_CONFIRMATIONS_PER_HOUR", 2)
    for n in range(3):
        email, cart = f"flood{n}@example.jp", f"cartflood{n}"
        response = _capture(client, runtime, shop, email, cart_token=cart, marketing_consent=True)
        assert response.status_code == 200  # the cart itself is still captured
    drain_jobs(EMAIL)
    assert sorted(m.to_email for m in _confirmations(sendgrid)) == [
        "flood0@example.jp",
        "flood1@example.jp",
    ]


def test_only_a_confirmed_opt_in_applies_when_the_customer_arrives(
    client: Any,
    db: Session,
    runtime: Any,
    woo: SandboxWooCommerce,
    shop: Shop,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    for email, cart in (("New.Buyer@example.jp", "cart0000000001"), ("other@example.jp", "cart2")):
        response = _capture(
            client, runtime, shop, email, cart_token=cart.ljust(8, "0"), marketing_consent=True
        )
        assert response.status_code == 200
    drain_jobs(EMAIL)
    confirmation = next(m for m in _confirmations(sendgrid) if m.to_email == "new.buyer@example.jp")
    assert client.post(_link_path(confirmation)).status_code == 200
    db.expire_all()
    assert db.scalars(select(Customer).where(Customer.shop_id == shop.id)).all() == []
    confirmed_at = db.scalars(
        select(OptInRequest.confirmed_at).where(OptInRequest.confirmed_at.is_not(None))
    ).one()
    ticked = db.scalars(select(Checkout).where(Checkout.external_id == "capture:cart2000")).one()
    assert ticked.marketing_opt_in_at is not None  # the tick is on record, and is not consent

    # Both pay as guests: the orders (no consent meta) bring the customers.
    woo.create_order(STORE, guest_email="new.buyer@example.jp")
    woo.create_order(STORE, guest_email="other@example.jp")
    run_sync(runtime, shop.id, incremental=False)
    assert _consent(db, shop, "guest:new.buyer@example.jp") == (
        "SUBSCRIBED",
        "CONFIRMED_OPT_IN",
        confirmed_at,
    )
    assert _consent(db, shop, "guest:other@example.jp") == (None, None, None)


def test_a_confirmation_never_overrides_a_later_unsubscribe(
    client: Any, db: Session, runtime: Any, shop: Shop, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    response = _capture(client, runtime, shop, "late@example.jp", marketing_consent=True)
    assert response.status_code == 200
    drain_jobs(EMAIL)
    assert client.post(_link_path(_confirmations(sendgrid)[0])).status_code == 200
    db.expire_all()
    confirmed_at = db.scalars(select(OptInRequest.confirmed_at)).one()
    assert confirmed_at is not None
    # The customer arrives saying they unsubscribed after confirming: that stands.
    record = CustomerRecord(
        external_id="77",
        updated_at=confirmed_at + timedelta(minutes=5),
        email="late@example.jp",
        email_marketing_state="UNSUBSCRIBED",
    )
    upsert.upsert_customers(db, shop.id, [record])
    db.commit()
    assert _customer(db, shop, "77").email_marketing_state == "UNSUBSCRIBED"
    # Nor does a confirmation older than a stored unsubscribe, on the immediate path.
    row = _customer(db, shop, "77")
    assert not upsert.apply_confirmed_opt_in(row, confirmed_at)
    assert row.email_marketing_state == "UNSUBSCRIBED"


def test_signed_order_data_carrying_the_opt_in_subscribes_and_forged_data_does_not(
    client: Any,
    db: Session,
    runtime: Any,
    woo: SandboxWooCommerce,
    shop: Shop,
    drain_jobs: Any,
) -> None:
    """The other trustworthy source: the store's own order webhook, signed with our secret,
    carrying the checkout's opt-in meta (a store plugin saves the box with the order)."""
    secret = "webhook-secret-0123456789"
    wc = db.get_one(WooCommerceShop, shop.id)
    wc.webhook_secret_encrypted = runtime.cipher.encrypt(secret)
    db.commit()
    signed = woo.create_order(STORE, guest_email="signed@example.jp", meta={KIZUNA_KEY: "yes"})
    forged = woo.create_order(STORE, guest_email="forged@example.jp", meta={KIZUNA_KEY: "yes"})

    def deliver(order: dict[str, Any], key: str) -> Any:
        body = json.dumps(woo.render(STORE, "orders", order["id"])).encode()
        return client.post(
            f"/webhooks/woocommerce?shop={shop.id}",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-WC-Webhook-Topic": "order.created",
                "X-WC-Webhook-Signature": sign(body, key),
            },
        )

    assert deliver(signed, secret).status_code == 200
    assert deliver(forged, "a-guessed-secret").status_code == 401
    drain_jobs(WEBHOOKS)
    assert _customer(db, shop, "guest:signed@example.jp").email_marketing_state == "SUBSCRIBED"
    assert (
        db.scalars(
            select(Customer).where(Customer.external_id == "guest:forged@example.jp")
        ).one_or_none()
        is None
    )


def test_an_unticked_box_never_unsubscribes_anyone(
    client: Any, db: Session, runtime: Any, woo: SandboxWooCommerce, shop: Shop
) -> None:
    first = sorted(woo.store(STORE).customers)[0]
    woo.set_meta(STORE, "customers", first, KIZUNA_KEY, "subscribed")
    run_sync(runtime, shop.id, incremental=False)
    email = woo.store(STORE).customers[first]["email"]
    before = _consent(db, shop, str(first))
    assert _capture(client, runtime, shop, email, marketing_consent=False).status_code == 200
    assert _consent(db, shop, str(first)) == before

    refused = _capture(client, runtime, shop, email, marketing_consent="yes")
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_marketing_consent"


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
    app: Any, client: Any, runtime: Any, db: Session, woo: SandboxWooCommerce, shop: Shop
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
    refused = db.get_one(Shop, shop.id)
    assert refused.last_error_code == "shop_error.consent_write_back_refused"
    assert "999999" not in f"{refused.last_error} {json.dumps(refused.last_error_params)}"
    pages = pages_in_both_languages(client, runtime, db, shop.id)
    assert (
        "WooCommerce did not record a customer's unsubscribe: The customer no longer exists in "
        "the store. The customer stays unsubscribed in Kizuna."
    ) in pages["en"]
    assert (
        "WooCommerce に顧客の配信停止を記録できませんでした: この顧客はストアにもう存在しません。"
        "この顧客は Kizuna では配信停止のままです。"
    ) in pages["ja"]

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
