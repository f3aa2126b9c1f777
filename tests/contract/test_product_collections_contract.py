"""The connector contract for product collections: every connector's products stream lists each
product's collections (Shopify collections, WooCommerce categories) exactly as its platform holds
them, read over real HTTP from the sandbox. Harnesses live in `conftest.py`."""

from __future__ import annotations

from typing import Any

from tests.contract.conftest import SHOPIFY_DOMAIN, WOO_STORE, Harness

MAX_PAGES = 50

Memberships = dict[str, set[tuple[str, str, str | None]]]


def platform_collections(harness: Harness) -> Memberships:
    """product id → its collections, from the sandbox's own records."""
    if harness.name == "shopify":
        store = harness.sandbox.shop(SHOPIFY_DOMAIN)
        with store.lock:
            return {
                str(p.id): {(str(c.id), c.title, c.handle) for c in p.collections}
                for p in store.products
            }
    store = harness.sandbox.store(WOO_STORE)
    with store.lock:
        return {
            str(number): {(str(c["id"]), c["name"], c["slug"]) for c in product["categories"]}
            for number, product in store.products.items()
        }


def test_the_products_stream_carries_each_products_collections(harness: Harness) -> None:
    records: list[Any] = []
    for number, page in enumerate(harness.read_pages("products", None, None), start=1):
        assert number < MAX_PAGES, "the stream never ends"
        records.extend(page)

    assert all(record.collections is not None for record in records)
    read = {
        r.external_id: {(c.external_id, c.title, c.handle) for c in r.collections} for r in records
    }
    expected = platform_collections(harness)
    assert read == expected
    assert any(len(members) > 1 for members in expected.values())
