"""Discount codes, WooCommerce coupons and the consent mutation, with fake transports: the
variables sent, "code taken" for our own code as success, userErrors as ConnectorError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import ConnectorError
from connectors.sandbox.shopify.cost import MAX_QUERY_COST
from connectors.sandbox.shopify.graphql_api import admin_schema
from connectors.shopify import queries
from connectors.shopify.consent import customer_gid, update_email_marketing_consent
from connectors.shopify.discounts import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CODE_PREFIX,
    DiscountCode,
    create_single_use_discount,
    message_code,
)
from connectors.woocommerce.coupons import CODE_EXISTS, create_coupon

ENDS = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
GID = "gid://shopify/Customer/7001"


class FakeShopify:
    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((document, dict(variables or {})))
        return self.answers.pop(0)


def created(code: str = "KZ-X") -> dict[str, Any]:
    node = {"id": "gid://shopify/DiscountCodeNode/9", "codeDiscount": {"title": "t"}}
    return {"discountCodeBasicCreate": {"codeDiscountNode": node, "userErrors": []}}


def refused(*errors: tuple[list[str], str, str]) -> dict[str, Any]:
    user_errors = [{"field": f, "code": c, "message": m} for f, c, m in errors]
    return {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": user_errors}}


def test_codes_are_readable_unguessable_and_stable_per_message() -> None:
    code = message_code("secret", "discount", 1, 42)
    assert code == message_code("secret", "discount", 1, 42)
    assert code.startswith(CODE_PREFIX)
    assert len(code) == len(CODE_PREFIX) + CODE_LENGTH
    assert set(code.removeprefix(CODE_PREFIX)) <= set(CODE_ALPHABET)
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert message_code("secret", "discount", 1, 43) != code
    assert message_code("other-secret", "discount", 1, 42) != code
    assert len({message_code("s", n) for n in range(500)}) == 500


def test_the_discount_is_single_use_for_one_customer_until_the_end_date() -> None:
    shopify = FakeShopify(created())
    result = create_single_use_discount(
        shopify, customer_gid=GID, percent=10, ends_at=ENDS, code="KZ-ABCDEFGH", title="Cart"
    )
    assert result == DiscountCode("KZ-ABCDEFGH", ENDS, "gid://shopify/DiscountCodeNode/9")
    [(document, variables)] = shopify.calls
    assert document == queries.DISCOUNT_CODE_BASIC_CREATE
    basic = variables["basicCodeDiscount"]
    assert basic["code"] == "KZ-ABCDEFGH"
    assert basic["title"] == "Cart"
    assert basic["context"] == {"customers": {"add": [GID]}}
    assert basic["customerGets"] == {"value": {"percentage": 0.1}, "items": {"all": True}}
    assert (basic["usageLimit"], basic["appliesOncePerCustomer"]) == (1, True)
    assert basic["endsAt"] == "2026-12-01T09:30:15Z"


def test_code_taken_for_our_own_code_counts_as_created() -> None:
    shopify = FakeShopify(refused((["basicCodeDiscount", "code"], "TAKEN", "Code must be unique.")))
    result = create_single_use_discount(
        shopify, customer_gid=GID, percent=10, ends_at=ENDS, code="KZ-ABCDEFGH", title="Cart"
    )
    assert (result.code, result.discount_id) == ("KZ-ABCDEFGH", None)


def test_other_user_errors_raise() -> None:
    shopify = FakeShopify(
        refused(
            (["basicCodeDiscount", "code"], "TAKEN", "Code must be unique."),
            (["basicCodeDiscount", "endsAt"], "END_DATE_BEFORE_START_DATE", "Ends too early"),
        )
    )
    with pytest.raises(ConnectorError, match="Ends too early") as caught:
        create_single_use_discount(
            shopify, customer_gid=GID, percent=10, ends_at=ENDS, code="KZ-A", title="Cart"
        )
    assert caught.value.code == "TAKEN"


@pytest.mark.parametrize("percent", [0, -5, 101])
def test_a_percentage_out_of_range_is_refused_before_calling(percent: int) -> None:
    with pytest.raises(ValueError, match="percent"):
        create_single_use_discount(
            FakeShopify(), customer_gid=GID, percent=percent, ends_at=ENDS, code="K", title="t"
        )


def test_consent_update_sends_unsubscribed_single_opt_in_and_the_time() -> None:
    consent = {"marketingState": "UNSUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN"}
    answer = {
        "customerEmailMarketingConsentUpdate": {
            "customer": {"id": GID, "defaultEmailAddress": consent},
            "userErrors": [],
        }
    }
    shopify = FakeShopify(answer)
    result = update_email_marketing_consent(
        shopify, customer_gid=GID, state="UNSUBSCRIBED", consent_updated_at=ENDS
    )
    assert result == consent
    [(document, variables)] = shopify.calls
    assert document == queries.CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE
    assert variables["input"] == {
        "customerId": GID,
        "emailMarketingConsent": {
            "marketingState": "UNSUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN",
            "consentUpdatedAt": "2026-12-01T09:30:15.123456Z",
        },
    }


def test_consent_user_errors_raise_and_read_only_states_are_refused() -> None:
    answer = {
        "customerEmailMarketingConsentUpdate": {
            "customer": None,
            "userErrors": [{"field": ["input"], "code": "INVALID", "message": "No email"}],
        }
    }
    with pytest.raises(ConnectorError, match="No email"):
        update_email_marketing_consent(
            FakeShopify(answer), customer_gid=GID, state="UNSUBSCRIBED", consent_updated_at=ENDS
        )
    with pytest.raises(ValueError, match="only accepts"):
        update_email_marketing_consent(
            FakeShopify(), customer_gid=GID, state="NOT_SUBSCRIBED", consent_updated_at=ENDS
        )


def test_customer_gid() -> None:
    assert customer_gid("7001") == GID
    assert customer_gid(GID) == GID
    with pytest.raises(ValueError, match="not a Shopify customer id"):
        customer_gid("guest-12")


class FakeResponse:
    def __init__(self, body: Any) -> None:
        self.body = body

    def json(self) -> Any:
        return self.body


class FakeWoo:
    def __init__(self, error: ConnectorError | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str, str, Any]] = []

    def request(self, method: str, endpoint: str, *, data: Any = None, **_: Any) -> FakeResponse:
        self.calls.append((method, endpoint, data))
        if self.error is not None:
            raise self.error
        return FakeResponse({"id": 5001, **data})


def test_woocommerce_coupon_is_percent_single_use_for_one_email() -> None:
    woo = FakeWoo()
    expires = datetime(2026, 12, 1, 9, 0, tzinfo=UTC) + timedelta(hours=9)
    result = create_coupon(
        woo,  # type: ignore[arg-type]
        email="w@example.jp",
        percent=10,
        expires_at=expires,
        code="KZ-ABCDEFGH",
    )
    assert (result.code, result.discount_id) == ("KZ-ABCDEFGH", "5001")
    [(method, endpoint, data)] = woo.calls
    assert (method, endpoint) == ("POST", "coupons")
    assert data["discount_type"] == "percent"
    assert data["amount"] == "10"
    assert (data["usage_limit"], data["usage_limit_per_user"]) == (1, 1)
    assert data["email_restrictions"] == ["w@example.jp"]
    assert data["date_expires_gmt"] == "2026-12-01T18:00:00"


def test_woocommerce_existing_code_counts_as_created_other_errors_raise() -> None:
    exists = ConnectorError("exists", status=400, code=CODE_EXISTS)
    result = create_coupon(
        FakeWoo(exists),  # type: ignore[arg-type]
        email="w@example.jp",
        percent=10,
        expires_at=ENDS,
        code="KZ-A",
    )
    assert result.code == "KZ-A"
    other = ConnectorError("bad", status=400, code="rest_invalid_param")
    with pytest.raises(ConnectorError, match="bad"):
        create_coupon(
            FakeWoo(other),  # type: ignore[arg-type]
            email="w@example.jp",
            percent=10,
            expires_at=ENDS,
            code="KZ-A",
        )


@pytest.mark.parametrize(
    "name", ["DISCOUNT_CODE_BASIC_CREATE", "CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE"]
)
def test_the_new_mutations_cost_ten(name: str) -> None:
    from tests.factories.sandbox_cost import PAGE_VARIABLES, cost_of

    assert admin_schema() is not None
    requested = cost_of(queries.ALL_DOCUMENTS[name], PAGE_VARIABLES[name]).requested()
    assert requested == 10 <= MAX_QUERY_COST
