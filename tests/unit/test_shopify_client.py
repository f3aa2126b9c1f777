"""ShopifyAdminClient against a scripted GraphQL server over real HTTP (through the sandbox
rewrite): cost-based waits, THROTTLED, backoff with Retry-After, 401 → one refresh, pagination."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.http import shopify_http_client
from tests.conftest import LiveServer

SHOP = "demo-store.myshopify.com"
GRAPHQL_PATH = f"/{SHOP}/admin/api/2026-07/graphql.json"
QUERY = "query { shop { name } }"


def _cost(requested: int, available: int, restore: int = 100, maximum: int = 2000) -> dict:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": restore,
            },
        }
    }


def ok(data: dict[str, Any] | None = None, **cost: int) -> Response:
    body: dict[str, Any] = {"data": data if data is not None else {"shop": {"name": "Demo"}}}
    if cost:
        body["extensions"] = _cost(**cost)
    return Response(json.dumps(body), content_type="application/json")


def throttled(requested: int, available: int, restore: int = 100, maximum: int = 2000) -> Response:
    body = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": _cost(requested, available, restore, maximum),
    }
    return Response(json.dumps(body), content_type="application/json")


def status(code: int, headers: dict[str, str] | None = None) -> Response:
    return Response("{}", status=code, headers=headers or {}, content_type="application/json")


@dataclass
class ScriptedShopify:
    """Answers each request with the next scripted response (or a callable making one)."""

    script: list[Response | Callable[[], Response]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(
            {
                "path": request.path,
                "token": request.headers.get("X-Shopify-Access-Token"),
                "json": request.get_json(silent=True),
            }
        )
        step = self.script.pop(0) if self.script else status(500)
        response = step if isinstance(step, Response) else step()
        return response(environ, start_response)


class FakeTime:
    """A clock that moves only when the client sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Tokens:
    def __init__(self) -> None:
        self.token = "token-1"
        self.refreshes = 0

    def access_token(self) -> str:
        return self.token

    def refresh(self) -> str:
        self.refreshes += 1
        self.token = f"token-{self.refreshes + 1}"
        return self.token


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(scope="module")
def shopify() -> Iterator[ScriptedShopify]:
    """One server for the module (starting and stopping one per test costs half a second)."""
    scripted = ScriptedShopify([])
    server = LiveServer(scripted)
    scripted.url = server.url
    yield scripted
    server.stop()


@pytest.fixture
def make_client(shopify: ScriptedShopify, fake_time: FakeTime) -> Iterator[Any]:
    clients: list[ShopifyAdminClient] = []

    def _make(
        script: list[Any], tokens: Tokens | None = None, timeout: float = 5.0, **options: Any
    ) -> tuple[ShopifyAdminClient, ScriptedShopify]:
        shopify.script = list(script)
        shopify.requests = []
        client = ShopifyAdminClient(
            SHOP,
            "2026-07",
            shopify_http_client(shopify.url, timeout=timeout),
            tokens or Tokens(),
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            **options,
        )
        clients.append(client)
        return client, shopify

    yield _make
    for client in clients:
        client.close()


def test_execute_posts_the_document_through_the_sandbox_rewrite(make_client: Any) -> None:
    client, shopify = make_client([ok({"shop": {"name": "Demo"}})])
    assert client.execute(QUERY, {"x": 1}) == {"shop": {"name": "Demo"}}
    (request,) = shopify.requests
    assert request["path"] == GRAPHQL_PATH
    assert request["token"] == "token-1"
    assert request["json"] == {"query": QUERY, "variables": {"x": 1}}


def test_throttled_waits_for_the_missing_points_then_retries(
    make_client: Any, fake_time: FakeTime
) -> None:
    client, shopify = make_client([throttled(requested=500, available=100), ok()])
    assert client.execute(QUERY) == {"shop": {"name": "Demo"}}
    assert len(shopify.requests) == 2
    assert fake_time.sleeps == [pytest.approx(4.0)]


def test_a_cost_above_the_buckets_maximum_waits_for_a_full_bucket_then_backs_off(
    make_client: Any, fake_time: FakeTime
) -> None:
    # A bucket of 60 points refilling 5 a second never holds the 502 a page asks for: the
    # request is asked again when the bucket is full (not after (502 - 30) / 5 = 94 s), then
    # with doubling waits, until the limit is raised.
    client, shopify = make_client(
        [
            throttled(requested=502, available=30, restore=5, maximum=60),
            throttled(requested=502, available=60, restore=5, maximum=60),
            throttled(requested=502, available=60, restore=5, maximum=60),
            ok(),
        ]
    )
    assert client.execute(QUERY) == {"shop": {"name": "Demo"}}
    assert len(shopify.requests) == 4
    assert fake_time.sleeps == [pytest.approx(6.0), 2.0, 4.0]


def test_a_request_waits_when_its_known_cost_exceeds_the_bucket(
    make_client: Any, fake_time: FakeTime
) -> None:
    client, _ = make_client([ok(requested=300, available=100), ok(requested=300, available=0)])
    client.execute(QUERY)
    assert fake_time.sleeps == []
    client.execute(QUERY)
    assert fake_time.sleeps == [pytest.approx(2.0)]


def test_the_bucket_refills_with_time_so_no_wait_is_needed(
    make_client: Any, fake_time: FakeTime
) -> None:
    client, _ = make_client([ok(requested=300, available=100), ok()])
    client.execute(QUERY)
    fake_time.now += 5  # 500 points restored meanwhile
    client.execute(QUERY)
    assert fake_time.sleeps == []


def test_429_honours_retry_after(make_client: Any, fake_time: FakeTime) -> None:
    client, shopify = make_client([status(429, {"Retry-After": "3"}), ok()])
    client.execute(QUERY)
    assert len(shopify.requests) == 2
    assert fake_time.sleeps == [3.0]


def test_retry_after_as_an_http_date(make_client: Any, fake_time: FakeTime) -> None:
    client, _ = make_client([status(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), ok()])
    client.execute(QUERY)
    assert fake_time.sleeps == [1.0]  # a date in the past: the plain backoff applies


def test_5xx_backs_off_exponentially(make_client: Any, fake_time: FakeTime) -> None:
    client, shopify = make_client([status(502), status(503), status(500), ok()])
    client.execute(QUERY)
    assert len(shopify.requests) == 4
    assert fake_time.sleeps == [1.0, 2.0, 4.0]


def test_5xx_gives_up_after_max_attempts(make_client: Any, fake_time: FakeTime) -> None:
    client, shopify = make_client([status(503)] * 5, max_attempts=3)
    with pytest.raises(RetryableError, match="3 times"):
        client.execute(QUERY)
    assert len(shopify.requests) == 3


@pytest.mark.parametrize("code", [400, 404, 422])
def test_other_4xx_are_not_retried(make_client: Any, code: int) -> None:
    client, shopify = make_client([status(code), ok()])
    with pytest.raises(ConnectorError) as caught:
        client.execute(QUERY)
    assert not isinstance(caught.value, RetryableError)
    assert caught.value.status == code
    assert len(shopify.requests) == 1


def test_403_is_an_authentication_error(make_client: Any) -> None:
    client, _ = make_client([status(403)])
    with pytest.raises(AuthenticationError):
        client.execute(QUERY)


def test_401_refreshes_once_and_retries_with_the_new_token(make_client: Any) -> None:
    tokens = Tokens()
    client, shopify = make_client([status(401), ok()], tokens=tokens)
    client.execute(QUERY)
    assert tokens.refreshes == 1
    assert [r["token"] for r in shopify.requests] == ["token-1", "token-2"]


def test_a_second_401_is_an_authentication_error(make_client: Any) -> None:
    tokens = Tokens()
    client, shopify = make_client([status(401), status(401), ok()], tokens=tokens)
    with pytest.raises(AuthenticationError):
        client.execute(QUERY)
    assert tokens.refreshes == 1
    assert len(shopify.requests) == 2


def test_graphql_errors_raise_with_their_messages(make_client: Any) -> None:
    body = {
        "errors": [
            {"message": "Field 'nope' doesn't exist", "extensions": {"code": "undefinedField"}},
            {"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}},
        ]
    }
    client, shopify = make_client([Response(json.dumps(body), content_type="application/json")])
    with pytest.raises(ConnectorError, match=r"nope.*Access denied") as caught:
        client.execute(QUERY)
    assert caught.value.code == "undefinedField"
    assert len(shopify.requests) == 1


def test_timeouts_are_retried(make_client: Any, fake_time: FakeTime) -> None:
    def slow() -> Response:
        time.sleep(0.5)
        return ok()

    client, _ = make_client([slow, ok()], timeout=0.2)
    assert client.execute(QUERY) == {"shop": {"name": "Demo"}}
    assert fake_time.sleeps == [1.0]


def _page(names: list[str], cursor: str | None) -> Response:
    return ok(
        {
            "customers": {
                "nodes": [{"id": name} for name in names],
                "pageInfo": {"hasNextPage": cursor is not None, "endCursor": cursor},
            }
        }
    )


def test_paginate_follows_end_cursors(make_client: Any) -> None:
    client, shopify = make_client([_page(["a", "b"], "c1"), _page(["c"], "c2"), _page([], None)])
    pages = list(client.paginate(QUERY, "customers", {"query": "x"}, page_size=2))
    assert pages == [[{"id": "a"}, {"id": "b"}], [{"id": "c"}], []]
    sent = [request["json"]["variables"] for request in shopify.requests]
    assert sent == [
        {"query": "x", "first": 2, "after": None},
        {"query": "x", "first": 2, "after": "c1"},
        {"query": "x", "first": 2, "after": "c2"},
    ]


def test_paginate_refuses_a_next_page_without_a_cursor(make_client: Any) -> None:
    broken = ok({"customers": {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": None}}})
    client, _ = make_client([broken])
    with pytest.raises(ConnectorError, match="cursor"):
        list(client.paginate(QUERY, "customers", page_size=2))


def test_sandbox_rewrite_is_configuration_only() -> None:
    from connectors.shopify.http import SandboxRewriteTransport

    with shopify_http_client(None) as client:
        assert not isinstance(client._transport, SandboxRewriteTransport)
