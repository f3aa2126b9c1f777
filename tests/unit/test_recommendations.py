"""Recommendation rules on small, hand-computable histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.recommendations import (
    ConsumableRule,
    Purchase,
    best_sellers,
    co_purchased,
    expected_reorder,
    may_recommend,
    median_gap,
    rebuy_intervals,
    recommend,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def orders(*baskets: tuple[int, int, float, str]) -> list[Purchase]:
    """(customer, order, day, "A B C") → one purchase per product."""
    return [
        Purchase(customer, order, product, day(when))
        for customer, order, when, products in baskets
        for product in products.split()
    ]


def test_co_purchase_ranks_by_orders_together_then_lift() -> None:
    history = orders(
        (1, 1, 0, "mug beans"),
        (2, 2, 0, "mug beans"),
        (3, 3, 0, "mug filter"),
        (4, 4, 0, "mug filter beans"),
        (5, 5, 0, "filter"),
        (6, 6, 0, "kettle"),
    )
    # With mug: beans in 3 orders, filter in 2. 6 orders, 4 with mug.
    assert co_purchased({"mug"}, history) == ["beans", "filter"]


def test_co_purchase_ties_are_broken_by_lift() -> None:
    history = orders(
        (1, 1, 0, "mug beans"),
        (2, 2, 0, "mug filter"),
        (3, 3, 0, "beans"),
        (4, 4, 0, "beans"),
    )
    # Both once with mug (2 of 4 orders); beans is in 3 orders, filter in 1:
    # lift(beans) = 1·4/(2·3) ≈ 0.67, lift(filter) = 1·4/(2·1) = 2.
    assert co_purchased({"mug"}, history) == ["filter", "beans"]
    assert co_purchased({"teapot"}, history) == []


def test_best_sellers_count_orders_not_lines() -> None:
    history = [*orders((1, 1, 0, "a"), (2, 2, 0, "b"), (3, 3, 0, "b"))]
    history += [Purchase(1, 1, "a", day(0))] * 5  # five lines of one order
    assert best_sellers(history) == ["b", "a"]


def test_a_product_re_bought_by_enough_buyers_is_consumable_with_its_median_gap() -> None:
    history = orders(
        (1, 1, 0, "beans"),
        (1, 2, 30, "beans"),
        (1, 3, 60, "beans"),  # gaps 30, 30
        (2, 4, 0, "beans"),
        (2, 5, 20, "beans"),  # gap 20
        (3, 6, 0, "beans"),
        (3, 7, 40, "beans"),  # gap 40
        (4, 8, 0, "beans"),  # bought once
        (5, 9, 0, "mug"),
        (6, 10, 0, "mug"),
        (5, 11, 90, "mug"),  # one repeat buyer of 2: not enough buyers
    )
    # beans: 3 repeat buyers of 4; gaps 20, 30, 30, 40 → median 30 days.
    assert rebuy_intervals(history) == {"beans": timedelta(days=30)}
    assert rebuy_intervals(history, ConsumableRule(min_repeat_share=0.8)) == {}
    assert rebuy_intervals(history, ConsumableRule(min_repeat_buyers=1)) == {
        "beans": timedelta(days=30),
        "mug": timedelta(days=90),
    }


def test_purchases_within_a_day_are_one_occasion() -> None:
    assert median_gap([day(0), day(0.5), day(10)]) == timedelta(days=10)
    assert median_gap([day(0), day(0.2)]) is None


def test_guests_do_not_make_a_product_consumable() -> None:
    history = [Purchase(None, n, "beans", day(n * 10)) for n in range(10)]
    assert rebuy_intervals(history, ConsumableRule(min_repeat_buyers=1)) == {}


def test_owned_products_only_come_back_when_consumable_and_due() -> None:
    owned = {"mug": day(0), "beans": day(0)}
    intervals = {"beans": timedelta(days=30)}
    assert may_recommend("filter", owned, intervals, day(1))
    assert not may_recommend("mug", owned, intervals, day(400))
    assert not may_recommend("beans", owned, intervals, day(29))
    assert may_recommend("beans", owned, intervals, day(30))


def test_recommend_skips_owned_and_fills_from_best_sellers() -> None:
    history = orders(
        (1, 1, 0, "mug beans filter"),
        (2, 2, 0, "mug beans"),
        (3, 3, 0, "mug spoon"),
        (4, 4, 0, "kettle"),
        (5, 5, 0, "kettle"),
        (6, 6, 0, "tray"),
    )
    # Co-purchased with mug: beans (2), filter (1, lift 2), spoon (1, lift 2).
    owned = {"mug": day(100), "filter": day(10), "beans": day(50)}
    intervals = {"beans": timedelta(days=30)}
    # filter owned and not consumable; beans consumable and due (50 + 30 ≤ 100).
    assert recommend({"mug"}, history, owned, day(100), intervals=intervals) == [
        "beans",
        "spoon",
        "kettle",
    ]
    # beans not yet due at day 70; the list fills up with best sellers.
    assert recommend({"mug"}, history, owned, day(70), intervals=intervals) == [
        "spoon",
        "kettle",
        "tray",
    ]
    assert recommend({"mug"}, history, {}, day(0), intervals={}, available={"spoon"}) == ["spoon"]


def test_without_co_purchases_the_best_sellers_are_recommended() -> None:
    history = orders((1, 1, 0, "kettle"), (2, 2, 0, "kettle tray"), (3, 3, 0, "new"))
    assert recommend({"new"}, history, {"new": day(0)}, day(0), intervals={}) == [
        "kettle",
        "tray",
    ]


def test_expected_reorder_uses_the_customers_own_rhythm_first() -> None:
    # Own gaps 20 and 40 → median 30; last purchase day 60.
    assert expected_reorder([day(0), day(20), day(60)], timedelta(days=90)) == day(90)
    assert expected_reorder([day(5)], timedelta(days=30)) == day(35)
    assert expected_reorder([day(5)], None) is None
    assert expected_reorder([], timedelta(days=30)) is None
