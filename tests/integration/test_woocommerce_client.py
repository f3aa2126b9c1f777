"""The WooCommerce client against the simulated store over real HTTP (no database needed).

Auth (OAuth 1.0a over http, Basic), pagination headers, `per_page` limit, `modified_after`
with GMT dates, retries on 429/5xx, webhook creation with ping, no retries, auto-disable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.sandbox.woocommerce import SandboxWooCommerce, sign
from connectors.woocommerce.client import WooCommerceClient
from tests.conftest import SIMULATOR_OUTBOUND

STORE = "shop-a"


@pytest.fixture
def sandbox() -> Iterator[SandboxWooCommerce]:
    platform = SandboxWooCommerce(seed=7)
    platform.add_store(url_path=STORE, customers=30, years=1, currency="JPY")
    yield platform
    platform.close()


@pytest.fixture
def store_url(sandbox: SandboxWooCommerce, serve: Any) -> str:
    return f"{serve(sandbox.wsgi_app).url}/{STORE}"


def _client(sandbox: SandboxWooCommerce, store_url: str, **options: Any) -> WooCommerceClient:
    key, secret = sandbox.issue_key(STORE)
    return WooCommerceClient(
        store_url, key, secret, sleep=lambda _s: None, outbound=SIMULATOR_OUTBOUND, **options
    )


@pytest.mark.parametrize("basic", [False, True])
def test_paginates_all_customers_with_oauth_or_basic(
    sandbox: SandboxWooCommerce, store_url: str, basic: bool
) -> None:
    with _client(sandbox, store_url, basic_auth_over_http=basic) as client:
        first = client.request("GET", "customers", params={"per_page": 7, "page": 2})
        assert first.headers["X-WP-Total"] == "30"
        assert first.headers["X-WP-TotalPages"] == "5"
        assert 'rel="next"' in first.headers["Link"]
        assert 'rel="prev"' in first.headers["Link"]
        pages = list(client.paginate("customers", {"orderby": "id", "order": "asc"}, per_page=7))
    ids = [c["id"] for page in pages for c in page]
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    assert ids == sorted(ids)
    assert len(set(ids)) == 30


def test_wrong_key_is_an_authentication_error(sandbox: SandboxWooCommerce, store_url: str) -> None:
    key, _ = sandbox.issue_key(STORE)
    for basic in (False, True):
        with (
            WooCommerceClient(
                store_url, key, "cs_wrong", basic_auth_over_http=basic, outbound=SIMULATOR_OUTBOUND
            ) as client,
            pytest.raises(AuthenticationError),
        ):
            client.get("orders")


def test_per_page_over_100_is_refused_not_retried(
    sandbox: SandboxWooCommerce, store_url: str
) -> None:
    with _client(sandbox, store_url) as client, pytest.raises(ConnectorError) as caught:
        client.request("GET", "orders", params={"per_page": 101})
    assert caught.value.status == 400
    assert caught.value.code == "rest_invalid_param"


def test_429_and_5xx_are_retried_with_retry_after(
    sandbox: SandboxWooCommerce, store_url: str
) -> None:
    slept: list[float] = []
    key, secret = sandbox.issue_key(STORE)
    client = WooCommerceClient(
        store_url, key, secret, sleep=slept.append, max_attempts=3, outbound=SIMULATOR_OUTBOUND
    )
    sandbox.fail_next(STORE, 429, count=1, retry_after=2)
    sandbox.fail_next(STORE, 503, count=1)
    with client:
        assert isinstance(client.get("orders", per_page=1), list)
        assert slept[0] == 2.0
        assert len(slept) == 2
        sandbox.fail_next(STORE, 502, count=3)
        with pytest.raises(RetryableError):
            client.get("orders")


def test_orders_modified_after_in_gmt_include_open_checkouts(
    sandbox: SandboxWooCommerce, store_url: str
) -> None:
    since = datetime.now(UTC) - timedelta(hours=4)
    params = {
        "modified_after": since.strftime("%Y-%m-%dT%H:%M:%S"),
        "dates_are_gmt": True,
        "orderby": "modified",
        "order": "asc",
    }
    with _client(sandbox, store_url) as client:
        recent = [o for page in client.paginate("orders", params) for o in page]
        everything = [o for page in client.paginate("orders") for o in page]
    statuses = {o["status"] for o in recent}
    assert {"pending", "failed", "checkout-draft"} <= statuses
    assert all(o["date_modified_gmt"] > params["modified_after"] for o in recent)
    assert len(everything) > len(recent)
    assert any(o["customer_id"] == 0 for o in everything)  # guests exist only on orders
    assert all(o["currency"] == "JPY" for o in everything)


class Receiver:
    """A webhook endpoint answering a settable status, recording what it got."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.received.append((dict(request.headers), request.get_data()))
        return Response("", self.status)(environ, start_response)


def test_webhooks_signed_ping_first_never_retried_then_disabled(
    sandbox: SandboxWooCommerce, store_url: str, serve: Any
) -> None:
    receiver = Receiver()
    url = serve(receiver).url + "/hook"
    with _client(sandbox, store_url) as client:
        hook = client.create_webhook("order.created", url, "s3cret")
        assert hook["status"] == "active"
        sandbox.wait_for_deliveries()
        assert receiver.received[0][1] == f"webhook_id={hook['id']}".encode()
        order = sandbox.create_order(STORE, guest_email="new.guest@example.jp")
        sandbox.wait_for_deliveries()
        headers, body = receiver.received[1]
        assert headers["X-Wc-Webhook-Signature"] == sign(body, "s3cret")
        assert headers["X-Wc-Webhook-Topic"] == "order.created"
        assert json.loads(body)["id"] == order["id"]

        receiver.status = 500
        for _ in range(5):
            sandbox.create_order(STORE, guest_email="x@example.jp")
        sandbox.wait_for_deliveries()
        assert len(receiver.received) == 7  # each failure delivered once: no retries
        assert client.get(f"webhooks/{hook['id']}")["status"] == "disabled"
        sandbox.create_order(STORE, guest_email="y@example.jp")
        sandbox.wait_for_deliveries()
        assert len(receiver.received) == 7  # disabled: nothing delivered
        assert client.update_webhook(hook["id"], status="active")["status"] == "active"


def test_paginates_by_link_header_when_total_pages_is_missing(serve: Any) -> None:
    """Some proxies strip X-WP-* headers: the `Link: rel="next"` header is enough."""

    def pages(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        page = int(request.args.get("page", "1"))
        headers = {"Content-Type": "application/json"}
        if page < 3:
            headers["Link"] = f'<{request.base_url}?page={page + 1}>; rel="next"'
        body = json.dumps([{"id": page * 10 + i} for i in range(2)])
        return Response(body, 200, headers=headers)(environ, start_response)

    url = serve(pages).url
    with WooCommerceClient(
        url, "ck_x", "cs_y", basic_auth_over_http=True, outbound=SIMULATOR_OUTBOUND
    ) as client:
        ids = [item["id"] for page in client.paginate("orders", per_page=2) for item in page]
    assert ids == [10, 11, 20, 21, 30, 31]
