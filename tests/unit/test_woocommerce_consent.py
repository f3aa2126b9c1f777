"""WooCommerce marketing consent read from `meta_data` (customers and guest orders)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.woocommerce import mapping
from connectors.woocommerce.consent import (
    KIZUNA_KEY,
    MAILCHIMP_KEY,
    Consent,
    consent_from_meta,
    consent_meta_update,
    is_registered,
)


def _meta(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"id": 900 + i, "key": key, "value": value} for i, (key, value) in enumerate(pairs)]


SUBSCRIBED = Consent("SUBSCRIBED", "SINGLE_OPT_IN")
UNSUBSCRIBED = Consent("UNSUBSCRIBED", None)
NOT_SUBSCRIBED = Consent("NOT_SUBSCRIBED", None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("subscribed", SUBSCRIBED),
        (" Subscribed ", SUBSCRIBED),
        ("yes", SUBSCRIBED),
        ("1", SUBSCRIBED),
        (True, SUBSCRIBED),
        (1, SUBSCRIBED),
        ("unsubscribed", UNSUBSCRIBED),
        ("no", NOT_SUBSCRIBED),
        ("0", NOT_SUBSCRIBED),
        (False, NOT_SUBSCRIBED),
        ("not_subscribed", NOT_SUBSCRIBED),
        ("maybe", None),
        (None, None),
        ({"nested": 1}, None),
    ],
)
def test_kizunas_key(value: Any, expected: Consent | None) -> None:
    assert consent_from_meta(_meta((KIZUNA_KEY, value))) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", SUBSCRIBED),
        ("unsubscribed", UNSUBSCRIBED),
        ("0", NOT_SUBSCRIBED),
        ("", NOT_SUBSCRIBED),
        ("pending", None),
    ],
)
def test_mailchimps_key(value: Any, expected: Consent | None) -> None:
    assert consent_from_meta(_meta((MAILCHIMP_KEY, value))) == expected


def test_kizunas_key_wins_over_mailchimps_and_an_unreadable_one_falls_back() -> None:
    assert consent_from_meta(_meta((MAILCHIMP_KEY, "1"), (KIZUNA_KEY, "unsubscribed"))) == (
        UNSUBSCRIBED
    )
    assert consent_from_meta(_meta((KIZUNA_KEY, "subscribed"), (MAILCHIMP_KEY, "0"))) == SUBSCRIBED
    assert consent_from_meta(_meta((KIZUNA_KEY, "???"), (MAILCHIMP_KEY, "1"))) == SUBSCRIBED


def test_nothing_said_is_none_and_the_last_repeated_key_wins() -> None:
    assert consent_from_meta([]) is None
    assert consent_from_meta(None) is None
    assert consent_from_meta("not a list") is None
    assert consent_from_meta(_meta(("_billing_vat", "x"), ("other", "1"))) is None
    assert consent_from_meta(_meta((KIZUNA_KEY, "subscribed"), (KIZUNA_KEY, "no"))) == (
        NOT_SUBSCRIBED
    )


def _customer(meta: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": 25,
        "date_created_gmt": "2026-11-01T09:00:00",
        "date_modified_gmt": "2026-11-20T09:00:00",
        "email": "Yui@Example.jp",
        "first_name": "Yui",
        "last_name": "Sato",
        "billing": {"email": "Yui@Example.jp", "country": "JP"},
        "meta_data": meta,
    }


def test_a_customer_resource_carries_its_consent() -> None:
    record = mapping.customer_from_resource(_customer(_meta((KIZUNA_KEY, "subscribed"))))
    assert record.email_marketing_state == "SUBSCRIBED"
    assert record.email_marketing_opt_in_level == "SINGLE_OPT_IN"
    # No consent time of its own: the upsert times it by the customer's modification.
    assert record.email_marketing_updated_at is None
    unknown = mapping.customer_from_resource(_customer([]))
    assert (unknown.email_marketing_state, unknown.email_marketing_opt_in_level) == (None, None)


def _order(customer_id: int, meta: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": 727,
        "status": "processing",
        "currency": "JPY",
        "total": "1800",
        "customer_id": customer_id,
        "date_created_gmt": "2026-11-21T09:00:00",
        "date_modified_gmt": "2026-11-21T09:05:00",
        "billing": {"email": "guest@example.jp", "first_name": "Aoi"},
        "meta_data": meta,
        "line_items": [],
    }


def test_a_guest_orders_meta_is_the_guests_consent() -> None:
    order = _order(0, _meta((MAILCHIMP_KEY, "1")))
    guest = mapping.order_customer(order)
    assert guest is not None
    assert guest.external_id == "guest:guest@example.jp"
    assert (guest.email_marketing_state, guest.email_marketing_opt_in_level) == (
        "SUBSCRIBED",
        "SINGLE_OPT_IN",
    )
    record = mapping.order_from_resource(order)
    assert record.customer is not None
    assert record.customer.email_marketing_state == "SUBSCRIBED"
    checkout = mapping.checkout_from_resource({**order, "status": "pending"})
    assert checkout.customer is not None
    assert checkout.customer.email_marketing_state == "SUBSCRIBED"


def test_a_registered_buyers_consent_comes_from_the_customer_not_the_order() -> None:
    embedded = mapping.order_customer(_order(25, _meta((KIZUNA_KEY, "subscribed"))))
    assert embedded is not None
    assert embedded.external_id == "25"
    assert embedded.email_marketing_state is None


def test_what_a_write_back_sends() -> None:
    assert consent_meta_update("UNSUBSCRIBED", []) == [{"key": KIZUNA_KEY, "value": "unsubscribed"}]
    assert consent_meta_update("UNSUBSCRIBED", _meta((MAILCHIMP_KEY, "1"))) == [
        {"key": KIZUNA_KEY, "value": "unsubscribed"},
        {"key": MAILCHIMP_KEY, "value": "unsubscribed"},
    ]
    assert consent_meta_update("SUBSCRIBED", _meta((MAILCHIMP_KEY, "0"))) == [
        {"key": KIZUNA_KEY, "value": "subscribed"}
    ]
    with pytest.raises(ValueError, match="cannot write"):
        consent_meta_update("NOT_SUBSCRIBED", [])
    assert is_registered("25")
    assert not is_registered("guest:a@example.jp")
    assert not is_registered("２５")
