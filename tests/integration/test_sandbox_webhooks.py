"""Webhook delivery of the simulated Shopify to a real local receiver: Shopify's headers, a body
signature over the exact bytes, retries that keep the webhook id, who receives what while the app
is (un)installed, and the control endpoints that make the store act."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.store import SandboxStore
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET

SHOP = "hook-shop.myshopify.com"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint that records every request and can fail the first few."""

    fail_first: int = 0
    status_when_failing: int = 500
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.received.append(Received(dict(request.headers), request.get_data()))
            failing = len(self.received) <= self.fail_first
        status = self.status_when_failing if failing else 200
        return Response("ok", status)(environ, start_response)

    def topics(self) -> list[str]:
        with self.lock:
            return [item.headers["X-Shopify-Topic"] for item in self.received]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def sandbox(serve: Any) -> Iterator[SandboxShopify]:
    sandbox = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=13)
    sandbox.webhook_retry_delays = (0.05, 0.1, 0.2)
    sandbox.add_shop(SHOP, customers=15)
    yield sandbox
    sandbox.close()


@pytest.fixture
def store(sandbox: SandboxShopify) -> SandboxStore:
    return sandbox.shop(SHOP)


@pytest.fixture
def hook_url(receiver: Receiver, serve: Any) -> str:
    return f"{serve(receiver).url}/webhooks"


def expected_signature(body: bytes) -> str:
    digest = hmac.new(SHOPIFY_API_SECRET.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_order_webhooks_carry_shopify_headers_and_a_valid_signature(
    sandbox: SandboxShopify, store: SandboxStore, receiver: Receiver, hook_url: str
) -> None:
    sandbox.declare_app_subscriptions(["orders/create", "orders/paid"], hook_url)
    store.installed = True
    order = store.create_order()
    sandbox.wait_for_deliveries()
    assert sorted(receiver.topics()) == ["orders/create", "orders/paid"]
    ids = set()
    events = set()
    for item in receiver.received:
        headers = item.headers
        assert headers["X-Shopify-Hmac-Sha256"] == expected_signature(item.body)
        assert headers["X-Shopify-Shop-Domain"] == SHOP
        assert headers["X-Shopify-Api-Version"] == "2026-07"
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Shopify-Triggered-At"].endswith("Z")
        ids.add(headers["X-Shopify-Webhook-Id"])
        events.add(headers["X-Shopify-Event-Id"])
        assert json.loads(item.body)["id"] == order["id"]
        assert b"\\/" in item.body  # Shopify's serializer escapes slashes
    assert len(ids) == 2, "each delivery has its own webhook id"
    assert len(events) == 2, "orders/create and orders/paid are separate events"
    assert {delivery.status for delivery in sandbox.deliveries} == {"delivered"}


def test_customer_webhooks_carry_the_metafields_of_the_namespaces_a_subscription_names(
    sandbox: SandboxShopify, store: SandboxStore, receiver: Receiver, serve: Any
) -> None:
    base = serve(receiver).url
    sandbox.declare_app_subscriptions(
        ["customers/update"], f"{base}/with", metafield_namespaces=["facts"]
    )
    sandbox.declare_app_subscriptions(["customers/update"], f"{base}/without")
    store.add_subscription("customers/update", f"{base}/other", metafield_namespaces=["custom"])
    store.installed = True
    customer = store.customers[0]
    store.update_customer(customer.id, birth_date=date(1991, 3, 9))
    sandbox.wait_for_deliveries()
    bodies = {delivery.uri.rsplit("/", 1)[1]: delivery.payload for delivery in sandbox.deliveries}
    assert set(bodies) == {"with", "without", "other"}
    [birth_date] = bodies["with"]["metafields"]
    assert {key: birth_date[key] for key in ("namespace", "key", "value", "type")} == {
        "namespace": "facts",
        "key": "birth_date",
        "value": "1991-03-09",
        "type": "date",
    }
    assert birth_date["owner_id"] == customer.id
    assert birth_date["owner_resource"] == "customer"
    assert "metafields" not in bodies["without"]
    assert bodies["other"]["metafields"] == []  # no metafield in that namespace
    for item in receiver.received:  # each body is signed as sent
        assert item.headers["X-Shopify-Hmac-Sha256"] == expected_signature(item.body)


def test_a_failing_endpoint_is_retried_with_the_same_webhook_id(
    sandbox: SandboxShopify, store: SandboxStore, receiver: Receiver, hook_url: str
) -> None:
    receiver.fail_first = 2
    sandbox.declare_app_subscriptions(["customers/create"], hook_url)
    store.installed = True
    store.create_customer(first_name="花子", last_name="山田", email="hanako@example.jp")
    sandbox.wait_for_deliveries()
    assert len(receiver.received) == 3
    assert len({item.headers["X-Shopify-Webhook-Id"] for item in receiver.received}) == 1
    assert len({item.body for item in receiver.received}) == 1
    (delivery,) = sandbox.deliveries
    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    assert delivery.response_status == 200
    assert delivery.payload["first_name"] == "花子"


def test_an_endpoint_that_keeps_failing_is_given_up_on(
    sandbox: SandboxShopify, store: SandboxStore, receiver: Receiver, hook_url: str
) -> None:
    receiver.fail_first = 100
    receiver.status_when_failing = 302  # a redirect is a failure too
    sandbox.declare_app_subscriptions(["checkouts/create"], hook_url)
    store.installed = True
    store.create_checkout()
    sandbox.wait_for_deliveries()
    (delivery,) = sandbox.deliveries
    assert delivery.status == "failed"
    assert delivery.attempts == 1 + len(sandbox.webhook_retry_delays)
    assert delivery.response_status == 302


def test_app_subscriptions_need_an_installed_app_except_privacy_and_uninstall(
    sandbox: SandboxShopify, store: SandboxStore, receiver: Receiver, hook_url: str
) -> None:
    topics = ["orders/create", "customers/redact", "shop/redact", "app/uninstalled"]
    sandbox.declare_app_subscriptions(topics, hook_url)
    store.create_order()
    customer = store.customers[0]
    store.redact_customer(customer.id)
    sandbox.wait_for_deliveries()
    assert receiver.topics() == ["customers/redact"]

    store.installed = True
    store.create_order()
    store.uninstall_app()
    store.create_order()
    store.redact_shop()
    sandbox.wait_for_deliveries()
    assert sorted(receiver.topics()) == sorted(
        ["customers/redact", "orders/create", "app/uninstalled", "shop/redact"]
    )
    uninstalled = next(
        i for i in receiver.received if i.headers["X-Shopify-Topic"] == "app/uninstalled"
    )
    assert json.loads(uninstalled.body)["myshopify_domain"] == SHOP
    redact = next(
        i for i in receiver.received if i.headers["X-Shopify-Topic"] == "customers/redact"
    )
    assert json.loads(redact.body)["customer"]["id"] == customer.id


def test_shop_subscriptions_and_checkout_completion(
    sandbox: SandboxShopify, store: SandboxStore, receiver: Receiver, hook_url: str
) -> None:
    store.installed = True
    for topic in ("checkouts/create", "checkouts/update", "orders/create", "orders/paid"):
        store.add_subscription(topic, hook_url)
    checkout = store.create_checkout()
    assert "id" not in checkout
    order = store.complete_checkout(checkout["token"])
    sandbox.wait_for_deliveries()
    # Shopify does not promise delivery order; consumers compare updated_at instead.
    assert sorted(receiver.topics()) == [
        "checkouts/create",
        "checkouts/update",
        "orders/create",
        "orders/paid",
    ]
    assert order["checkout_token"] == checkout["token"]
    update = next(
        i for i in receiver.received if i.headers["X-Shopify-Topic"] == "checkouts/update"
    )
    assert json.loads(update.body)["completed_at"] is not None
    with pytest.raises(ValueError, match="already completed"):
        store.complete_checkout(checkout["token"])


def test_consent_update_uses_the_consent_topic_and_shape(
    sandbox: SandboxShopify, store: SandboxStore, receiver: Receiver, hook_url: str
) -> None:
    store.installed = True
    sandbox.declare_app_subscriptions(["customers_email_marketing_consent/update"], hook_url)
    customer = store.customers[1]
    store.set_email_marketing(customer.id, "unsubscribed")
    sandbox.wait_for_deliveries()
    (item,) = receiver.received
    body = json.loads(item.body)
    assert body["customer_id"] == customer.id
    assert body["email_marketing_consent"]["state"] == "unsubscribed"


def test_replaying_a_delivery_keeps_its_webhook_id(
    sandbox: SandboxShopify, store: SandboxStore, receiver: Receiver, hook_url: str
) -> None:
    grant = sandbox.install_app(SHOP)
    assert grant["access_token"].startswith("shpat_")
    assert sandbox.is_installed(SHOP)
    sandbox.declare_app_subscriptions(["orders/create"], hook_url)
    payload = store.shapes.order(store.orders[0], None)
    sandbox.deliver(SHOP, "orders/create", payload, webhook_id="fixed-id")
    sandbox.deliver(SHOP, "orders/create", payload, webhook_id="fixed-id")
    sandbox.wait_for_deliveries()
    assert [item.headers["X-Shopify-Webhook-Id"] for item in receiver.received] == [
        "fixed-id",
        "fixed-id",
    ]


def test_control_endpoints(
    sandbox: SandboxShopify, store: SandboxStore, receiver: Receiver, hook_url: str, serve: Any
) -> None:
    base = serve(sandbox.wsgi_app).url
    store.installed = True
    sandbox.declare_app_subscriptions(["orders/create", "checkouts/create"], hook_url)
    shops = httpx.get(f"{base}/_sandbox/shops").json()["shops"]
    assert [shop["domain"] for shop in shops] == [SHOP]
    assert shops[0]["installed"] is True
    customer_id = store.customers[2].id
    made = httpx.post(f"{base}/_sandbox/{SHOP}/orders", json={"customer_id": str(customer_id)})
    assert made.status_code == 201
    assert made.json()["order"]["customer"]["id"] == customer_id
    checkout = httpx.post(f"{base}/_sandbox/{SHOP}/checkouts").json()["checkout"]
    recover = httpx.get(checkout["abandoned_checkout_url"].replace("https://", f"{base}/"))
    assert recover.status_code == 200
    assert "Complete purchase" in recover.text
    token = httpx.get(f"{base}/_sandbox/{SHOP}/session-token").json()["session_token"]
    assert token.count(".") == 2
    assert httpx.post(f"{base}/_sandbox/nowhere.myshopify.com/orders").status_code == 404
    sandbox.wait_for_deliveries()
    assert sorted(receiver.topics()) == ["checkouts/create", "orders/create"]


def test_delivering_to_nobody_says_so(
    sandbox: SandboxShopify, store: SandboxStore, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.deliver(SHOP, "orders/create", {"id": 1})
    assert sandbox.deliveries == []
    assert any(record.getMessage() == "webhook has no subscriber" for record in caplog.records)
