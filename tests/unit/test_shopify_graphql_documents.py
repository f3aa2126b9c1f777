"""Every GraphQL document the Shopify connector sends is valid against the official Admin schema
of the pinned API version (shared/specs/shopify/admin_graphql)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from app.config import DEFAULT_SHOPIFY_API_VERSION
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
