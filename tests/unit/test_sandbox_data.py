"""The generated store: deterministic from its seed, fast enough for the demo, and believable
(heavy-tailed repeat buying, seasonality, guests, consent mix, recovered checkouts)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.sandbox.shopify.data import GeneratedStore, generate_store

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
DOMAIN = "demo-store.myshopify.com"


def _store(seed: int = 7, customers: int = 300, **options: object) -> GeneratedStore:
    arguments: dict[str, object] = {
        "seed": seed,
        "customers": customers,
        "years": 2,
        "currency": "JPY",
        "timezone": "Asia/Tokyo",
        "name": "Demo Store",
        "abandoned_checkouts": None,
        "now": NOW,
    }
    arguments.update(options)
    store, _ = generate_store(DOMAIN, **arguments)  # type: ignore[arg-type]
    return store


def _fingerprint(store: GeneratedStore) -> list[object]:
    return [
        [asdict(customer) for customer in store.customers],
        [asdict(order) for order in store.orders],
        [asdict(checkout) for checkout in store.checkouts],
        [asdict(product) for product in store.products],
    ]


def test_same_seed_same_store_and_another_seed_another() -> None:
    assert _fingerprint(_store(seed=7)) == _fingerprint(_store(seed=7))
    assert _fingerprint(_store(seed=7)) != _fingerprint(_store(seed=8))


def test_three_thousand_customers_buy_about_three_orders_each() -> None:
    store = _store(customers=3000)
    assert len(store.customers) == 3000
    assert 8000 <= len(store.orders) <= 12000


@pytest.fixture(scope="module")
def big() -> GeneratedStore:
    return _store(customers=1500)


def test_buying_is_heavy_tailed(big: GeneratedStore) -> None:
    per_customer = Counter(order.customer_id for order in big.orders if order.customer_id)
    one_timers = sum(1 for count in per_customer.values() if count == 1)
    loyal = sum(1 for count in per_customer.values() if count >= 10)
    assert one_timers > len(per_customer) * 0.35
    assert loyal >= 20
    assert len(per_customer) < len(big.customers)  # some customers never bought


def test_year_end_peak_and_summer_bump(big: GeneratedStore) -> None:
    by_month = Counter((order.created_at.year, order.created_at.month) for order in big.orders)
    # The store keeps growing, so compare with the months right after each peak.
    after_peak = (by_month[(2026, 1)] + by_month[(2026, 2)]) / 2
    assert by_month[(2025, 12)] > 1.3 * after_peak
    assert by_month[(2026, 8)] > 1.2 * by_month[(2026, 9)]


def test_guests_checkouts_and_recoveries(big: GeneratedStore) -> None:
    guests = [order for order in big.orders if order.customer_id is None]
    assert guests
    assert all(order.email for order in guests)
    recovered = [checkout for checkout in big.checkouts if checkout.completed_at]
    assert recovered
    orders_by_id = {order.id: order for order in big.orders}
    for checkout in recovered:
        order = orders_by_id[checkout.order_id]  # type: ignore[index]
        assert order.checkout_token == checkout.token
        assert order.created_at == checkout.completed_at
    recent = [c for c in big.checkouts if (NOW - c.created_at).days < 14 and not c.completed_at]
    assert recent, "fresh abandoned carts exist for the recovery flows"


def test_people_look_real_and_consent_is_mixed(big: GeneratedStore) -> None:
    locales = Counter(customer.locale for customer in big.customers)
    assert locales["ja"] > locales["en"] > 0
    assert any(not customer.first_name.isascii() for customer in big.customers)
    assert any(customer.first_name.isascii() for customer in big.customers)
    emails = [customer.email for customer in big.customers if customer.email]
    assert len(emails) == len(set(emails))
    assert all(email.split("@")[1].startswith("example.") for email in emails)
    states = Counter(customer.marketing_state for customer in big.customers)
    assert set(states) == {"SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED", "PENDING"}
    levels = {customer.marketing_opt_in_level for customer in big.customers}
    assert {"SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN"} <= levels


def test_times_are_utc_ordered_and_not_in_the_future(big: GeneratedStore) -> None:
    for customer in big.customers:
        assert customer.created_at.tzinfo is not None
        assert customer.created_at <= customer.updated_at <= NOW
    for order in big.orders:
        assert order.created_at <= order.updated_at <= NOW
        assert order.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    ids = [order.id for order in big.orders]
    assert ids == sorted(ids), "ids grow with creation time, like Shopify's"


def test_prices_fit_the_currency() -> None:
    yen = _store(customers=50)
    for product in yen.products:
        for variant in product.variants:
            assert variant.price == variant.price.to_integral_value()
            assert Decimal(500) <= variant.price <= Decimal(60000)
    dollars = _store(customers=50, currency="USD", timezone="America/New_York")
    prices = [variant.price for product in dollars.products for variant in product.variants]
    assert all(price.as_tuple().exponent == -2 for price in prices)
    assert all(Decimal(1) < price < Decimal(500) for price in prices)
    for order in yen.orders:
        assert order.total == order.line_items_total - order.discount + order.shipping
        assert 1 <= len(order.lines) <= 4
