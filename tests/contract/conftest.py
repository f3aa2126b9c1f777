"""Harnesses for the connector contract suite: each platform's production readers and webhook
parsers against its simulated platform.

A `Harness` wires the functions the sync jobs and the webhook routes call — the stream readers
of `connectors.<platform>.reading`, the record mappers, the signature check with the routes'
header parsing, the webhook handler table — to a client talking over real HTTP (the `serve`
fixture) to a fresh sandbox, and knows what the suite needs from the platform side: the sandbox's
own ids per stream, how to make it answer 429 + Retry-After, and how it signs webhooks. Adding
a platform means adding one harness factory to `HARNESSES`; the tests do not change.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from werkzeug.datastructures import Headers

from app.services.process_webhook import HANDLERS as SHOPIFY_HANDLERS
from app.services.woocommerce_events import HANDLERS as WOOCOMMERCE_HANDLERS
from connectors.base import CheckoutRecord, CustomerRecord, OrderRecord, ProductRecord
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify import sign as shopify_sign
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.sandbox.woocommerce import sign as woo_sign
from connectors.shopify import reading as shopify_reading
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.http import shopify_http_client
from connectors.shopify.streams import STREAMS as SHOPIFY_STREAMS
from connectors.shopify.webhooks import WebhookHeaders, customer_from_payload, verify_webhook_hmac
from connectors.woocommerce import mapping as woo_mapping
from connectors.woocommerce import reading as woo_reading
from connectors.woocommerce.client import MAX_PER_PAGE as WOO_MAX_PER_PAGE
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.webhooks import SIGNATURE_HEADER as WOO_SIGNATURE_HEADER
from connectors.woocommerce.webhooks import verify_webhook_signature
from tests.conftest import (
    SHOPIFY_API_KEY,
    SHOPIFY_API_SECRET,
    SHOPIFY_API_SECRET_PREVIOUS,
    SIMULATOR_OUTBOUND,
)

CUSTOMERS = 23  # not a multiple of the test page size: the last page is partial
SHOPIFY_DOMAIN = "contract-store.myshopify.com"
WOO_STORE = "contract-store"
WOO_SECRET = "wc-webhook-secret-current"
WOO_SECRET_PREVIOUS = "wc-webhook-secret-previous"
CURRENCY = "JPY"

Record = CustomerRecord | OrderRecord | ProductRecord | CheckoutRecord
# (stream name, since, page size or None for production's own) → pages of mapped records.
ReadPages = Callable[[str, datetime | None, int | None], Iterator[list[Record]]]


class FaultInjector:
    """WSGI middleware: the next `count` requests answer `status` with `Retry-After`.

    Only for a sandbox without its own fault switch (Shopify's throttling is GraphQL
    THROTTLED, not HTTP 429; `test_shopify_throttle_is_waited_out` covers that one).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pending: list[tuple[int, float]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.pending:
            status, retry_after = self.pending.pop(0)
            start_response(
                f"{status} Too Many Requests",
                [("Content-Type", "application/json"), ("Retry-After", str(retry_after))],
            )
            return [b'{"errors":"Exceeded API rate limit"}']
        return self.app(environ, start_response)


@dataclass
class Harness:
    name: str
    client: Any  # the platform's API client, talking to the sandbox
    streams: dict[str, int]  # the streams the sync reads → production's page size
    read_pages: ReadPages
    verify_webhook: Callable[[bytes, Mapping[str, str]], Any]  # → ok, reason
    customer_from_webhook: Callable[[dict[str, Any]], Record]
    webhook_handlers: Mapping[str, Any]  # the topics production handles
    sandbox_ids: Callable[[str], list[str]]  # stream name → the sandbox's own ids
    inject_429: Callable[[int, float], None]  # count, Retry-After seconds
    sign: Callable[[bytes, str], str]
    signature_header: str
    secret: str
    previous_secret: str
    customer_payload: Callable[[], tuple[str, dict[str, Any]]]  # (topic, payload)
    sleeps: list[float] = field(default_factory=list)
    sandbox: Any = None


class _StaticTokens:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def refresh(self) -> str:
        return self.token


def shopify_harness(serve: Any, *, real_sleep: bool = False) -> Harness:
    """`real_sleep`: the client's waits really pass (a cost bucket refills with time)."""
    sandbox = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=5, plan="plus")
    store = sandbox.add_shop(SHOPIFY_DOMAIN, customers=CUSTOMERS, years=1)
    token = sandbox.install_app(SHOPIFY_DOMAIN)["access_token"]
    faults = FaultInjector(sandbox.wsgi_app)
    server = serve(faults)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if real_sleep:
            time.sleep(seconds)

    client = ShopifyAdminClient(
        SHOPIFY_DOMAIN,
        "2026-07",
        shopify_http_client(server.url),
        _StaticTokens(token),
        backoff_base=0.01,
        sleep=sleep,
    )
    specs = {spec.name: spec for spec in SHOPIFY_STREAMS}

    def read_pages(
        name: str, since: datetime | None, page_size: int | None
    ) -> Iterator[list[Record]]:
        spec = specs[name]
        if page_size is not None:
            spec = dataclasses.replace(spec, page_size=page_size)
        for nodes in shopify_reading.read_pages(client, spec, since):
            yield [spec.to_record(node, CURRENCY) for node in nodes]

    def verify(body: bytes, headers: Mapping[str, str]) -> Any:
        # As the route reads a delivery: its headers, parsed by `WebhookHeaders`.
        signature = WebhookHeaders.from_headers(Headers(dict(headers))).signature
        return verify_webhook_hmac(
            body, signature, (SHOPIFY_API_SECRET, SHOPIFY_API_SECRET_PREVIOUS)
        )

    def sandbox_ids(stream: str) -> list[str]:
        with store.lock:
            rows = {"customers": store.customers, "orders": store.orders}[stream]
            return [str(row.id) for row in rows]

    def inject(count: int, retry_after: float) -> None:
        faults.pending.extend([(429, retry_after)] * count)

    def customer_payload() -> tuple[str, dict[str, Any]]:
        first = store.customers[0]
        return "customers/update", store.update_customer(first.id, first_name="Contract")

    return Harness(
        name="shopify",
        client=client,
        streams={spec.name: spec.page_size for spec in SHOPIFY_STREAMS},
        read_pages=read_pages,
        verify_webhook=verify,
        customer_from_webhook=customer_from_payload,
        webhook_handlers=SHOPIFY_HANDLERS,
        sandbox_ids=sandbox_ids,
        inject_429=inject,
        sign=shopify_sign,
        signature_header="X-Shopify-Hmac-Sha256",
        secret=SHOPIFY_API_SECRET,
        previous_secret=SHOPIFY_API_SECRET_PREVIOUS,
        customer_payload=customer_payload,
        sleeps=sleeps,
        sandbox=sandbox,
    )


def woocommerce_harness(serve: Any) -> Harness:
    sandbox = SandboxWooCommerce(seed=5)
    store = sandbox.add_store(WOO_STORE, customers=CUSTOMERS, years=1, currency="JPY")
    key, secret = sandbox.issue_key(WOO_STORE, "read")
    server = serve(sandbox.wsgi_app)
    sleeps: list[float] = []
    client = WooCommerceClient(
        f"{server.url}/{WOO_STORE}",
        key,
        secret,
        basic_auth_over_http=True,
        backoff=0.01,
        sleep=sleeps.append,
        outbound=SIMULATOR_OUTBOUND,
    )
    readers: dict[str, Callable[..., Iterator[list[dict[str, Any]]]]] = {
        "customers": woo_reading.customer_pages,
        "products": woo_reading.product_pages,
        "orders": woo_reading.order_pages,
    }

    def to_record(name: str, item: dict[str, Any]) -> Record:
        # As the sync maps each stream (open orders are checkouts).
        if name == "customers":
            return woo_mapping.customer_from_resource(item)
        if name == "products":
            return woo_mapping.product_from_resource(item, CURRENCY)
        if woo_mapping.is_open_checkout(item):
            return woo_mapping.checkout_from_resource(item)
        return woo_mapping.order_from_resource(item)

    def read_pages(
        name: str, since: datetime | None, page_size: int | None
    ) -> Iterator[list[Record]]:
        per_page = WOO_MAX_PER_PAGE if page_size is None else page_size
        for items in readers[name](client, since, per_page=per_page):
            yield [to_record(name, item) for item in items]

    def verify(body: bytes, headers: Mapping[str, str]) -> Any:
        # As the route reads a delivery: the signature header of the request's headers.
        signature = Headers(dict(headers)).get(WOO_SIGNATURE_HEADER)
        return verify_webhook_signature(body, signature, (WOO_SECRET, WOO_SECRET_PREVIOUS))

    def sandbox_ids(stream: str) -> list[str]:
        with store.lock:
            rows = {"customers": store.customers, "orders": store.orders}[stream]
            return [str(number) for number in rows]

    def inject(count: int, retry_after: float) -> None:
        sandbox.fail_next(WOO_STORE, 429, count=count, retry_after=retry_after)

    def customer_payload() -> tuple[str, dict[str, Any]]:
        first = min(store.customers)
        return "customer.updated", sandbox.render(WOO_STORE, "customers", first)

    return Harness(
        name="woocommerce",
        client=client,
        streams=dict.fromkeys(readers, WOO_MAX_PER_PAGE),
        read_pages=read_pages,
        verify_webhook=verify,
        customer_from_webhook=woo_mapping.customer_from_resource,
        webhook_handlers=WOOCOMMERCE_HANDLERS,
        sandbox_ids=sandbox_ids,
        inject_429=inject,
        sign=woo_sign,
        signature_header="X-WC-Webhook-Signature",
        secret=WOO_SECRET,
        previous_secret=WOO_SECRET_PREVIOUS,
        customer_payload=customer_payload,
        sleeps=sleeps,
        sandbox=sandbox,
    )


HARNESSES: dict[str, Callable[[Any], Harness]] = {
    "shopify": shopify_harness,
    "woocommerce": woocommerce_harness,
}


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, serve: Any) -> Iterator[Harness]:
    built = HARNESSES[request.param](serve)
    yield built
    built.sandbox.close()
