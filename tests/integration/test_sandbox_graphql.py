"""The simulated GraphQL Admin API over real HTTP: every document Kizuna sends runs without
errors and pages to the end; filters, lookups, cost, THROTTLED and MAX_COST_EXCEEDED behave as
Shopify's do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.store import SandboxStore
from connectors.shopify import queries
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET

SHOP = "graph-shop.myshopify.com"
ENDPOINT = "/admin/api/2026-07/graphql.json"
EXCHANGE = {
    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
    "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
}
# (connection field, variables) of each paginated document, at the connector's page sizes
PAGED: dict[str, tuple[str, dict[str, Any]]] = {
    "CUSTOMERS": ("customers", {"first": queries.CUSTOMERS_PAGE_SIZE}),
    "ORDERS": (
        "orders",
        {"first": queries.ORDERS_PAGE_SIZE, "lines": queries.ORDER_LINES_PAGE_SIZE},
    ),
    "PRODUCTS": (
        "products",
        {"first": queries.PRODUCTS_PAGE_SIZE, "variants": queries.VARIANTS_PAGE_SIZE},
    ),
    "ABANDONED_CHECKOUTS": (
        "abandonedCheckouts",
        {"first": queries.CHECKOUTS_PAGE_SIZE, "lines": queries.CHECKOUT_LINES_PAGE_SIZE},
    ),
    "WEBHOOK_SUBSCRIPTIONS": ("webhookSubscriptions", {"first": 2}),
}


class Admin:
    """A tiny Admin API client for the tests."""

    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.token = token

    def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.http.post(
            ENDPOINT,
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": self.token},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert set(body["extensions"]["cost"]) == {
            "requestedQueryCost",
            "actualQueryCost",
            "throttleStatus",
        }
        return body

    def pages(self, name: str) -> list[dict[str, Any]]:
        field, variables = PAGED[name]
        nodes: list[dict[str, Any]] = []
        after = None
        for _ in range(1000):
            body = self.post(queries.ALL_DOCUMENTS[name], {**variables, "after": after})
            assert "errors" not in body, body["errors"]
            connection = body["data"][field]
            nodes.extend(connection["nodes"])
            if not connection["pageInfo"]["hasNextPage"]:
                return nodes
            after = connection["pageInfo"]["endCursor"]
        raise AssertionError("pagination never ended")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxShopify]:
    sandbox = SandboxShopify(
        SHOPIFY_API_KEY, SHOPIFY_API_SECRET, app_url="http://kizuna.test", seed=5, plan="plus"
    )
    sandbox.add_shop(SHOP, customers=120, abandoned_checkouts=23)
    yield sandbox
    sandbox.close()


@pytest.fixture
def store(sandbox: SandboxShopify) -> SandboxStore:
    return sandbox.shop(SHOP)


@pytest.fixture
def http(sandbox: SandboxShopify, serve: Any) -> Iterator[httpx.Client]:
    server = serve(sandbox.wsgi_app)
    with httpx.Client(base_url=f"{server.url}/{SHOP}", timeout=60) as client:
        yield client


@pytest.fixture
def admin(sandbox: SandboxShopify, http: httpx.Client) -> Admin:
    session_token = sandbox.mint_session_token(SHOP)
    granted = http.post(
        "/admin/oauth/access_token",
        json={
            "client_id": SHOPIFY_API_KEY,
            "client_secret": SHOPIFY_API_SECRET,
            "subject_token": session_token,
            **EXCHANGE,
        },
    )
    return Admin(http, granted.json()["access_token"])


def test_shop_document(admin: Admin, store: SandboxStore) -> None:
    body = admin.post(queries.SHOP)
    assert "errors" not in body
    assert body["data"]["shop"] == {
        "id": f"gid://shopify/Shop/{store.info.id}",
        "name": store.info.name,
        "myshopifyDomain": SHOP,
        "currencyCode": "JPY",
        "ianaTimezone": "Asia/Tokyo",
        "email": store.info.email,
    }
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1


def test_customers_document_pages_through_every_customer(admin: Admin, store: SandboxStore) -> None:
    nodes = admin.pages("CUSTOMERS")
    assert len(nodes) == len(store.customers) > queries.CUSTOMERS_PAGE_SIZE
    assert len({node["id"] for node in nodes}) == len(nodes)
    stamps = [node["updatedAt"] for node in nodes]
    assert stamps == sorted(stamps)
    emails = [node["defaultEmailAddress"] for node in nodes if node["defaultEmailAddress"]]
    assert {email["marketingState"] for email in emails} >= {"SUBSCRIBED", "NOT_SUBSCRIBED"}
    assert all(node["id"].startswith("gid://shopify/Customer/") for node in nodes)


def test_orders_document_pages_through_every_order(admin: Admin, store: SandboxStore) -> None:
    nodes = admin.pages("ORDERS")
    assert len(nodes) == len(store.orders)
    order = next(node for node in nodes if node["customer"] and node["lineItems"]["nodes"])
    line = order["lineItems"]["nodes"][0]
    assert line["originalUnitPriceSet"]["shopMoney"]["currencyCode"] == "JPY"
    assert line["variant"]["id"].startswith("gid://shopify/ProductVariant/")
    assert order["totalPriceSet"]["shopMoney"]["amount"].isdigit()
    assert any(node["customer"] is None for node in nodes), "guest orders"
    assert any(node["checkoutToken"] for node in nodes)


def test_products_and_checkouts_documents_page_to_the_end(
    admin: Admin, store: SandboxStore
) -> None:
    products = admin.pages("PRODUCTS")
    assert len(products) == len(store.products)
    assert products[0]["featuredMedia"]["preview"]["image"]["url"].startswith("https://")
    assert products[0]["variants"]["nodes"][0]["price"]
    checkouts = admin.pages("ABANDONED_CHECKOUTS")
    assert len(checkouts) == len(store.checkouts) == 23
    for node in checkouts:
        token = node["abandonedCheckoutUrl"].split("/checkouts/ac/")[1].split("/")[0]
        assert store.checkout_by_token(token) is not None


def test_webhook_subscription_documents(admin: Admin, store: SandboxStore) -> None:
    created = []
    for topic in ("ORDERS_CREATE", "CUSTOMERS_UPDATE", "CHECKOUTS_CREATE"):
        body = admin.post(
            queries.WEBHOOK_SUBSCRIPTION_CREATE,
            {"topic": topic, "webhookSubscription": {"uri": "https://kizuna.test/webhooks"}},
        )
        assert "errors" not in body
        payload = body["data"]["webhookSubscriptionCreate"]
        assert payload["userErrors"] == []
        created.append(payload["webhookSubscription"]["id"])
    duplicate = admin.post(
        queries.WEBHOOK_SUBSCRIPTION_CREATE,
        {"topic": "ORDERS_CREATE", "webhookSubscription": {"uri": "https://kizuna.test/webhooks"}},
    )
    assert duplicate["data"]["webhookSubscriptionCreate"]["userErrors"]
    listed = admin.pages("WEBHOOK_SUBSCRIPTIONS")
    assert [node["id"] for node in listed] == created
    assert {node["topic"] for node in listed} == {
        "ORDERS_CREATE",
        "CUSTOMERS_UPDATE",
        "CHECKOUTS_CREATE",
    }
    assert {subscription.topic for subscription in store.subscriptions.values()} == {
        "orders/create",
        "customers/update",
        "checkouts/create",
    }
    store.subscriptions.clear()


def test_updated_at_filter_returns_only_newer_records(admin: Admin, store: SandboxStore) -> None:
    stamps = sorted(customer.updated_at for customer in store.customers)
    cutoff = stamps[len(stamps) // 2]
    query = f"updated_at:>'{cutoff.astimezone(UTC).isoformat().replace('+00:00', 'Z')}'"
    # 199 customers (5 points each with their birth-date metafield) + 2: under the 1,000 limit
    body = admin.post(queries.CUSTOMERS, {"first": 199, "query": query})
    assert "errors" not in body
    got = {node["id"] for node in body["data"]["customers"]["nodes"]}
    expected = {customer.gid for customer in store.customers if customer.updated_at > cutoff}
    assert got == expected
    assert 0 < len(got) < len(store.customers)


def test_a_change_shows_up_with_a_newer_updated_at(admin: Admin, store: SandboxStore) -> None:
    customer = store.customers[0]
    before = customer.updated_at
    store.update_customer(customer.id, note="Prefers gift wrapping")
    body = admin.post(
        "query($id: ID!) { customer(id: $id) { note updatedAt } }", {"id": customer.gid}
    )
    node = body["data"]["customer"]
    assert node["note"] == "Prefers gift wrapping"
    assert datetime.fromisoformat(node["updatedAt"]) > before


def test_lookups_and_counts(admin: Admin, store: SandboxStore) -> None:
    order = store.orders[-1]
    body = admin.post(
        """query($id: ID!) {
          order(id: $id) { name lineItems(first: 5) { edges { cursor node { title } } } }
          customersCount { count precision }
          missing: customer(id: "gid://shopify/Customer/1") { id }
        }""",
        {"id": order.gid},
    )
    assert "errors" not in body
    assert body["data"]["order"]["name"] == order.name
    assert len(body["data"]["order"]["lineItems"]["edges"]) == len(order.lines)
    assert body["data"]["customersCount"] == {"count": len(store.customers), "precision": "EXACT"}
    assert body["data"]["missing"] is None


def test_invalid_documents_come_back_as_errors_with_http_200(admin: Admin) -> None:
    body = admin.post("{ shop { nameTypo } }")
    assert body["errors"][0]["message"].startswith("Cannot query field 'nameTypo'")
    assert "data" not in body
    response = admin.http.post(
        "/admin/api/2026-07/graphql.json",
        json={"query": "{ shop {"},
        headers={"X-Shopify-Access-Token": admin.token},
    )
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"].startswith("Syntax Error")


def test_only_the_pinned_version_is_served(admin: Admin) -> None:
    response = admin.http.post(
        "/admin/api/2025-01/graphql.json",
        json={"query": queries.SHOP},
        headers={"X-Shopify-Access-Token": admin.token},
    )
    assert response.status_code == 404
    assert response.json() == {"errors": "Not Found"}


def test_a_query_over_the_single_query_limit_is_refused(admin: Admin) -> None:
    body = admin.post(queries.ORDERS, {"first": 250, "lines": 50})
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "data" not in body


def test_throttled_when_the_bucket_is_drained(sandbox: SandboxShopify, admin: Admin) -> None:
    sandbox.set_rate_limit(SHOP, restore_rate=1, maximum=500)
    try:
        first = admin.post(queries.CUSTOMERS, {"first": 80})
        assert "errors" not in first
        status = first["extensions"]["cost"]["throttleStatus"]
        assert status["maximumAvailable"] == 500.0
        assert status["restoreRate"] == 1.0
        # the unused part of the requested 402 points came back
        assert (
            status["currentlyAvailable"] > 500 - first["extensions"]["cost"]["requestedQueryCost"]
        )
        throttled = admin.post(queries.ORDERS, {"first": 15, "lines": 10})
        assert throttled["errors"] == [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ]
        assert "data" not in throttled
        assert throttled["extensions"]["cost"]["requestedQueryCost"] == 887
        assert admin.post(queries.SHOP)["data"]["shop"]["name"]
    finally:
        sandbox.set_rate_limit(SHOP, restore_rate=1000, maximum=20000)
