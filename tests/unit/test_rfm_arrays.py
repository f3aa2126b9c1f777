"""The array scoring gives exactly what `compute_thresholds` and `score_customers` give."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from app.domain import rfm

AS_OF = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _activities(seed: int, count: int, history: int, spread: bool) -> list[rfm.CustomerActivity]:
    rng = random.Random(seed)
    made = []
    for n in range(count):
        first = rng.randint(0, history)
        last = rng.randint(0, first) if spread else 3
        orders = rng.choice([1, 1, 2, 3, 5, 8]) if spread else 2
        # Scale-4 Decimals, as the Money column returns them; ties on purpose.
        spent = Decimal(rng.choice([500, 1200, 1200, 3000, 99999]) * rng.randint(1, 3))
        spent = (spent + Decimal(rng.randint(0, 3)) / 4).quantize(Decimal("0.0001"))
        made.append(
            rfm.CustomerActivity(
                customer_id=n + 1,
                first_order_at=AS_OF - timedelta(days=max(first, last), hours=1),
                last_order_at=AS_OF - timedelta(days=last, hours=1),
                orders=orders,
                monetary=spent if spread else Decimal("0.0000"),
            )
        )
    return made


def _arrays(
    activities: list[rfm.CustomerActivity],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    days = np.array([rfm.days_between(a.last_order_at, AS_OF) for a in activities])  # type: ignore[arg-type]
    orders = np.array([a.orders for a in activities])
    units = np.array([int(a.monetary * rfm.MONEY_UNITS) for a in activities])
    history = max(rfm.days_between(a.first_order_at, AS_OF) for a in activities)  # type: ignore[arg-type]
    return days, orders, units, history


@pytest.mark.parametrize(
    ("seed", "count", "history", "spread"),
    [
        (1, 7, 400, True),  # too few customers: standard boundaries
        (2, 20, 100, True),  # quintiles, but too young a shop for recency quintiles
        (3, 21, 730, True),
        (4, 500, 730, True),
        (5, 997, 365, True),
        (6, 40, 730, False),  # nobody differs: standard boundaries, zero spend
    ],
)
@pytest.mark.parametrize("custom", [False, True])
def test_arrays_match_the_domain(
    seed: int, count: int, history: int, spread: bool, custom: bool
) -> None:
    activities = _activities(seed, count, history, spread)
    overrides = (
        rfm.RfmThresholds(
            recency_days=(Decimal(10), Decimal(30), Decimal("60.5"), Decimal(200)),
            monetary=(Decimal("1200.25"), Decimal(3000), Decimal(5000), Decimal(100000)),
        )
        if custom
        else None
    )
    expected = rfm.score_customers(activities, AS_OF, overrides)
    days, orders, units, history_days = _arrays(activities)
    applied = rfm.thresholds_for_arrays(days, orders, units, history_days, overrides)
    assert applied == expected.thresholds
    for name in ("recency_days", "frequency_orders", "monetary"):
        assert [str(v) for v in getattr(applied, name)] == [
            str(v) for v in getattr(expected.thresholds, name)
        ]
    scored = rfm.score_arrays(days, orders, units, applied)
    got = [
        (int(r), int(f), int(m), int(fm), rfm.GROUP_KEYS[g])
        for r, f, m, fm, g in zip(
            scored.r, scored.f, scored.m, scored.fm, scored.group, strict=True
        )
    ]
    assert got == [(c.r, c.f, c.m, c.fm, c.group) for c in expected.customers]


def test_empty_shop() -> None:
    empty = np.array([], dtype=np.int64)
    applied = rfm.thresholds_for_arrays(empty, empty, empty, 0)
    assert applied == rfm.compute_thresholds([], AS_OF)
