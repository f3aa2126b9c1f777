"""A campaign recipient's coupon on the platforms: a percentage or an amount off, the variables
valid against the pinned Admin GraphQL schema, a WooCommerce fixed-cart coupon, and the code the
same on every attempt for the same campaign and customer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from graphql import parse
from graphql.execution.values import get_variable_values

from app.campaigns.coupons import recipient_code
from connectors.sandbox.shopify.graphql_api import admin_schema
from connectors.shopify import queries
from connectors.shopify.discounts import create_single_use_discount
from connectors.woocommerce.coupons import create_coupon

ENDS = datetime(2026, 12, 20, 0, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((document, dict(variables or {})))
        node = {"id": "gid://shopify/DiscountCodeNode/1"}
        return {"discountCodeBasicCreate": {"codeDiscountNode": node, "userErrors": []}}


def _coerced(document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The variables as the pinned schema coerces them (errors if they do not fit)."""
    operation = parse(document).definitions[0]
    found = get_variable_values(
        admin_schema(),
        operation.variable_definitions,  # type: ignore[attr-defined]
        variables,
    )
    assert isinstance(found, dict), found
    return found


@pytest.mark.parametrize(
    ("options", "value"),
    [
        ({"percent": 15}, {"percentage": 0.15}),
        (
            {"amount_off": Decimal(500)},
            {"discountAmount": {"amount": "500", "appliesOnEachItem": False}},
        ),
    ],
)
def test_shopify_codes_fit_the_pinned_schema(options: dict[str, Any], value: Any) -> None:
    shopify = Recorder()
    create_single_use_discount(
        shopify,
        customer_gid="gid://shopify/Customer/1",
        ends_at=ENDS,
        code="KZ-ABCDEFGH",
        title="Kizuna campaign 1 KZ-ABCDEFGH",
        **options,
    )
    [(document, variables)] = shopify.calls
    assert document == queries.DISCOUNT_CODE_BASIC_CREATE
    assert variables["basicCodeDiscount"]["customerGets"]["value"] == value
    coerced = _coerced(document, variables)
    assert coerced["basicCodeDiscount"]["usageLimit"] == 1


def test_a_discount_needs_exactly_one_of_percent_and_amount() -> None:
    with pytest.raises(ValueError, match="either"):
        create_single_use_discount(Recorder(), customer_gid="g", ends_at=ENDS, code="c", title="t")
    with pytest.raises(ValueError, match="either"):
        create_single_use_discount(
            Recorder(),
            customer_gid="g",
            ends_at=ENDS,
            code="c",
            title="t",
            percent=10,
            amount_off=5,
        )


class FakeWoo:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, path: str, data: dict[str, Any]) -> Any:
        self.sent.append(data)

        class Answer:
            @staticmethod
            def json() -> dict[str, Any]:
                return {"id": 7}

        return Answer()


def test_a_woocommerce_amount_off_is_a_fixed_cart_coupon() -> None:
    woo = FakeWoo()
    create_coupon(woo, email="a@example.jp", amount_off=500, expires_at=ENDS, code="KZ-X")  # type: ignore[arg-type]
    [data] = woo.sent
    assert (data["discount_type"], data["amount"], data["usage_limit"]) == ("fixed_cart", "500", 1)


def test_a_recipients_code_is_the_same_on_every_attempt() -> None:
    first = recipient_code("secret", 1, 7, 42)
    assert first == recipient_code("secret", 1, 7, 42)
    assert first != recipient_code("secret", 1, 7, 43)
    assert first != recipient_code("secret", 1, 8, 42)
    assert first.startswith("KZ-")
