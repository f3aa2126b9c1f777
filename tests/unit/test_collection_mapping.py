"""A product's collections in its record: Shopify `collections` (paged nodes and bulk rows) and
WooCommerce `categories`; a payload silent about them maps to None (the stored ones are kept)."""

from __future__ import annotations

from typing import Any

from graphql import parse

from connectors.base import CollectionRef
from connectors.shopify import queries
from connectors.shopify.bulk import assemble
from connectors.shopify.mapping import product_from_node
from connectors.shopify.streams import PRODUCTS
from connectors.woocommerce.mapping import product_from_resource

NODE: dict[str, Any] = {
    "id": "gid://shopify/Product/8100000000000",
    "title": "Uji Ceremonial Matcha",
    "handle": "uji-ceremonial-matcha",
    "updatedAt": "2026-11-01T09:00:00Z",
    "variants": {"nodes": [{"id": "gid://shopify/ProductVariant/1", "price": "3200"}]},
}


def test_shopify_collections_become_refs() -> None:
    node = {
        **NODE,
        "collections": {
            "nodes": [
                {
                    "id": "gid://shopify/Collection/480000000000",
                    "title": "Green Tea",
                    "handle": "green-tea",
                },
                {
                    "id": "gid://shopify/Collection/480000000037",
                    "title": "Gift Ideas",
                    "handle": "",
                },
            ]
        },
    }
    record = product_from_node(node, "JPY")
    assert record.collections == (
        CollectionRef("480000000000", "Green Tea", "green-tea"),
        CollectionRef("480000000037", "Gift Ideas", None),
    )


def test_a_shopify_product_in_no_collection_and_one_read_without_them_differ() -> None:
    assert product_from_node({**NODE, "collections": {"nodes": []}}, "JPY").collections == ()
    assert product_from_node({**NODE, "collections": None}, "JPY").collections == ()
    # Read without the field (REST-shaped data, older documents): says nothing, keeps the rows.
    assert product_from_node(NODE, "JPY").collections is None


def _selected(selection_set: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for selection in selection_set.selections if selection_set else ():
        here = (*path, selection.name.value)
        found.add(here)
        found |= _selected(selection.selection_set, here)
    return found


def test_both_product_documents_ask_for_collections() -> None:
    paged = _selected(parse(queries.PRODUCTS).definitions[0].selection_set)  # type: ignore[attr-defined]
    bulk = _selected(parse(queries.BULK_PRODUCTS).definitions[0].selection_set)  # type: ignore[attr-defined]
    for leaf in ("id", "title", "handle"):
        assert ("products", "nodes", "collections", "nodes", leaf) in paged
        assert ("products", "edges", "node", "collections", "edges", "node", leaf) in bulk


def test_bulk_rows_of_collections_attach_to_their_product() -> None:
    product = {key: value for key, value in NODE.items() if key != "variants"}
    rows = [
        product,
        {"id": "gid://shopify/ProductVariant/1", "__parentId": NODE["id"], "price": "3200"},
        {
            "id": "gid://shopify/Collection/5",
            "__parentId": NODE["id"],
            "title": "Tea Ceremony",
            "handle": "tea-ceremony",
        },
        {"id": "gid://shopify/Product/2", "title": "Lonely", "updatedAt": "2026-11-01T09:00:00Z"},
    ]
    first, second = assemble(iter(rows), PRODUCTS.bulk_children)
    assert product_from_node(first, "JPY").collections == (
        CollectionRef("5", "Tea Ceremony", "tea-ceremony"),
    )
    assert len(product_from_node(first, "JPY").variants) == 1
    # A bulk product without collection rows is in no collection (not "unknown").
    assert product_from_node(second, "JPY").collections == ()


def _woo(**extra: Any) -> dict[str, Any]:
    return {
        "id": 794,
        "name": "Premium Quality",
        "slug": "premium-quality",
        "type": "simple",
        "status": "publish",
        "price": "21.99",
        "date_modified_gmt": "2017-03-23T17:01:14",
        **extra,
    }


def test_woocommerce_categories_become_refs() -> None:
    record = product_from_resource(
        _woo(
            categories=[
                {"id": 9, "name": "Clothing", "slug": "clothing"},
                {"id": 14, "name": "T-shirts", "slug": "t-shirts"},
                {"name": "no id, skipped"},
            ]
        ),
        "USD",
    )
    assert record.collections == (
        CollectionRef("9", "Clothing", "clothing"),
        CollectionRef("14", "T-shirts", "t-shirts"),
    )


def test_woocommerce_without_categories_says_nothing() -> None:
    assert product_from_resource(_woo(), "USD").collections is None
    assert product_from_resource(_woo(categories=[]), "USD").collections == ()
