"""Every GraphQL document the Shopify connector sends is valid against the official Admin schema
of the pinned API version (shared/specs/shopify/admin_graphql)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    parse,
    validate,
)

from app.config import DEFAULT_SHOPIFY_API_VERSION
from connectors.shopify import queries
from connectors.shopify.queries import ALL_DOCUMENTS

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs" / "shopify" / "admin_graphql"


@cache
def admin_schema(version: str) -> GraphQLSchema:
    return build_schema((SPECS / f"admin_{version}.graphql").read_text())


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_document_is_valid_against_pinned_admin_schema(name: str) -> None:
    errors = validate(admin_schema(DEFAULT_SHOPIFY_API_VERSION), parse(ALL_DOCUMENTS[name]))
    assert errors == [], f"{name}: {[error.message for error in errors]}"


def test_a_broken_document_is_caught() -> None:
    broken = ALL_DOCUMENTS["CUSTOMERS"].replace("firstName", "firstNameTypo")
    assert validate(admin_schema(DEFAULT_SHOPIFY_API_VERSION), parse(broken)) != []


def _selection(node: Any) -> dict[str, Any]:
    """A selection set as nested dicts of field name → sub-selection, with connection wrappers
    (`nodes`, `edges { node }`) unwrapped and paging left out, so paged and bulk documents
    compare."""
    fields: dict[str, Any] = {}
    for field in node.selection_set.selections if node.selection_set else ():
        if isinstance(field, FieldNode) and field.name.value != "pageInfo":
            fields[field.name.value] = _selection(field)
    for wrapper in ("nodes", "edges", "node"):
        if set(fields) == {wrapper}:
            return fields[wrapper]
    return fields


def _orders_selection(document: str) -> dict[str, Any]:
    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    orders: dict[str, Any] = _selection(operation)["orders"]
    return orders


def test_paged_and_bulk_orders_read_the_same_fields() -> None:
    paged, bulk = _orders_selection(queries.ORDERS), _orders_selection(queries.BULK_ORDERS)
    assert paged == bulk
    assert {"checkoutToken", "lineItems"} <= set(paged)
    assert "variant" in paged["lineItems"]
