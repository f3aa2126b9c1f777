"""Shopify's calculated query cost as the simulated Shopify computes it, and its leaky bucket."""

from __future__ import annotations

import pytest

from connectors.sandbox.shopify.cost import MAX_QUERY_COST, LeakyBucket, RateLimit
from connectors.shopify import queries
from tests.factories.sandbox_cost import PAGE_VARIABLES, cost_of

# Bulk query bodies run inside a bulk operation, where the single-query cost limit does not apply.
BULK_BODIES = {"BULK_CUSTOMERS", "BULK_ORDERS", "BULK_PRODUCTS"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ shop { name currencyCode } }", 1),
        ("{ shop { name primaryDomain { host } } }", 2),
        ("{ products(first: 250) { nodes { id title } } }", 252),
        ("{ customers(first: 10) { edges { cursor node { id } } pageInfo { hasNextPage } } }", 12),
        (
            "{ orders(first: 5) { nodes { id customer { id } lineItems(first: 3) "
            "{ nodes { id variant { id } } } } } }",
            # order 1 + customer 1 + lineItems (2 + 3 × (line 1 + variant 1))
            2 + 5 * (1 + 1 + 2 + 3 * 2),
        ),
        ("{ shop { id } products(first: 2) { nodes { id } } }", 1 + 4),
    ],
)
def test_requested_cost(query: str, expected: int) -> None:
    assert cost_of(query).requested() == expected


def test_fragments_and_variables_count_like_inline_fields() -> None:
    query = """
    query Q($n: Int!) { customers(first: $n) { nodes { ...C } } }
    fragment C on Customer { id defaultEmailAddress { emailAddress } defaultAddress { city } }
    """
    assert cost_of(query, {"n": 20}).requested() == 2 + 20 * 3


def test_an_abstract_selection_costs_its_dearest_alternative() -> None:
    query = """
    { products(first: 1) { nodes { featuredMedia {
        ... on MediaImage { image { url } preview { image { url } } }
        ... on Video { preview { status } }
    } } } }
    """
    # product 1 + featuredMedia 1 + max(MediaImage: 1 + 2, Video: 1)
    assert cost_of(query).requested() == 2 + 1 * (1 + 1 + 3)


def test_skipped_fields_cost_nothing() -> None:
    query = (
        "query Q($x: Boolean!) { shop { id } products(first: 9) @skip(if: $x) { nodes { id } } }"
    )
    assert cost_of(query, {"x": True}).requested() == 1
    assert cost_of(query, {"x": False}).requested() == 1 + 11


def test_mutations_cost_ten() -> None:
    cost = cost_of(
        queries.WEBHOOK_SUBSCRIPTION_CREATE, PAGE_VARIABLES["WEBHOOK_SUBSCRIPTION_CREATE"]
    )
    assert cost.requested() == 10


@pytest.mark.parametrize("name", sorted(set(queries.ALL_DOCUMENTS) - BULK_BODIES))
def test_every_kizuna_document_stays_under_the_single_query_limit(name: str) -> None:
    requested = cost_of(queries.ALL_DOCUMENTS[name], PAGE_VARIABLES[name]).requested()
    assert 0 < requested <= MAX_QUERY_COST, f"{name} costs {requested}"


def test_actual_cost_counts_the_nodes_returned() -> None:
    query = (
        "{ orders(first: 15) { nodes { id customer { id } "
        "lineItems(first: 10) { nodes { id } } } } }"
    )
    cost = cost_of(query)
    data = {
        "orders": {
            "nodes": [
                {"id": "1", "customer": {"id": "c"}, "lineItems": {"nodes": [{"id": "l1"}]}},
                {"id": "2", "customer": None, "lineItems": {"nodes": [{"id": "l2"}, {"id": "l3"}]}},
            ]
        }
    }
    # orders 2 + (order 1 + customer 1 + lines 2 + 1) + (order 1 + lines 2 + 2)
    assert cost.actual(data) == 2 + (1 + 1 + 3) + (1 + 4)
    assert cost.requested() == 2 + 15 * (1 + 1 + 2 + 10)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_charges_refunds_and_refills() -> None:
    clock = FakeClock()
    bucket = LeakyBucket(RateLimit(restore_rate=100.0, maximum=2000.0), clock=clock)
    assert bucket.try_take(1500)
    assert not bucket.try_take(600)  # 500 left: refused whole, nothing spent
    assert bucket.throttle_status()["currentlyAvailable"] == 500
    bucket.give_back(1400)
    assert bucket.throttle_status()["currentlyAvailable"] == 1900
    clock.now += 5
    assert bucket.throttle_status() == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 2000,
        "restoreRate": 100.0,
    }
    assert bucket.try_take(2000)
    clock.now += 0.5
    assert bucket.throttle_status()["currentlyAvailable"] == 50
