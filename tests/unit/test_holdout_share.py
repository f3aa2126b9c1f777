"""Holdout: `orchestration.in_holdout` is deterministic and holds back close to the configured
share of customers (10 % ± 1 % over 10,000), independently per flow; the win-back lapse rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.orchestration import CART, WINBACK, WinbackConfig, in_holdout

CUSTOMERS = range(1, 10_001)


@pytest.mark.parametrize("percent", [10, 25])
def test_the_share_held_out_is_close_to_the_configured_percent(percent: int) -> None:
    held = sum(in_holdout(42, CART, customer, percent) for customer in CUSTOMERS)
    assert abs(held - percent * 100) <= 100  # ± 1 % of 10,000


def test_holdout_is_deterministic_and_nested_across_percentages() -> None:
    first = [in_holdout(42, CART, customer, 10) for customer in CUSTOMERS]
    assert first == [in_holdout(42, CART, customer, 10) for customer in CUSTOMERS]
    # Raising the share only adds customers: nobody held out at 10 % is treated at 20 %.
    assert all(
        in_holdout(42, CART, c, 20) for c, held in zip(CUSTOMERS, first, strict=True) if held
    )
    assert not any(in_holdout(42, CART, customer, 0) for customer in CUSTOMERS)
    assert all(in_holdout(42, CART, customer, 100) for customer in CUSTOMERS)


def test_flows_and_shops_draw_independent_holdouts() -> None:
    cart = {c for c in CUSTOMERS if in_holdout(42, CART, c, 10)}
    winback = {c for c in CUSTOMERS if in_holdout(42, WINBACK, c, 10)}
    other_shop = {c for c in CUSTOMERS if in_holdout(43, CART, c, 10)}
    # Independent 10 % draws overlap in about 1 % of customers, not in the whole 10 %.
    assert len(cart & winback) < 250
    assert len(cart & other_shop) < 250


NOW = datetime(2026, 6, 1, tzinfo=UTC)


def days_ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


def test_lapse_threshold_is_the_larger_of_the_minimum_and_twice_the_median_gap() -> None:
    rule = WinbackConfig()
    # Orders every 10 days: 2 × 10 < 60, so the minimum applies.
    assert not rule.is_lapsing(days_ago(80, 70, 60, 50), NOW)
    assert rule.is_lapsing(days_ago(91, 81, 71, 61), NOW)
    # Orders every 50 days: the threshold is 100 days.
    assert not rule.is_lapsing(days_ago(190, 140, 90), NOW)
    assert not rule.is_lapsing(days_ago(208, 158, 108, 99), NOW)  # gaps 50, 50, 9 → 100 days
    assert rule.is_lapsing(days_ago(250, 200, 150, 101), NOW)
    # A one-time buyer: the shop default of 90 days.
    assert not rule.is_lapsing(days_ago(89), NOW)
    assert rule.is_lapsing(days_ago(91), NOW)
    assert not rule.is_lapsing([], NOW)
    custom = WinbackConfig.from_overrides({"lapse_min_days": 30, "one_time_days": 45})
    assert custom.is_lapsing(days_ago(60, 50, 40, 31), NOW)
    assert custom.is_lapsing(days_ago(46), NOW)
