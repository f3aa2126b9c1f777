"""RFM scoring: quintiles and ties, the group map, thresholds, grid, movement, tiny shops."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.rfm import (
    DEFAULT_SEGMENT_MAP,
    GROUP_KEYS,
    MIN_CUSTOMERS_FOR_QUINTILES,
    SCORES,
    CustomerActivity,
    GroupMove,
    RfmThresholds,
    compute_thresholds,
    group_counts,
    group_movement,
    quintile_lower_bounds,
    quintile_recency_bounds,
    rfm_grid,
    score_at_least,
    score_at_most,
    score_customers,
    validate_segment_map,
)

AS_OF = datetime(2025, 6, 1, 12, tzinfo=UTC)
# Old enough for recency quintiles.
SHOP_OPENED = AS_OF - timedelta(days=3 * 365)


def activity(
    customer_id: int,
    *,
    days_ago: int = 10,
    orders: int = 1,
    monetary: str = "100",
    first_days_ago: int | None = None,
    as_of: datetime = AS_OF,
) -> CustomerActivity:
    last = as_of - timedelta(days=days_ago)
    first = SHOP_OPENED if first_days_ago is None else as_of - timedelta(days=first_days_ago)
    return CustomerActivity(
        customer_id=customer_id,
        first_order_at=min(first, last),
        last_order_at=last,
        orders=orders,
        monetary=Decimal(monetary),
    )


def by_id(snapshot_customers: tuple) -> dict:
    return {customer.customer_id: customer for customer in snapshot_customers}


# --- quintiles ---------------------------------------------------------------------------------


def test_distinct_values_fill_each_quintile_equally() -> None:
    customers = [
        activity(i, days_ago=i, orders=i, monetary=str(i * 10))
        for i in range(1, 5 * MIN_CUSTOMERS_FOR_QUINTILES + 1)
    ]

    snapshot = score_customers(customers, AS_OF)

    per_score = 5 * MIN_CUSTOMERS_FOR_QUINTILES // 5
    for dimension in ("r", "f", "m"):
        counts = [sum(getattr(c, dimension) == s for c in snapshot.customers) for s in SCORES]
        assert counts == [per_score] * 5, dimension
    scored = by_id(snapshot.customers)
    # Most recent, most orders, most spend → 5; the opposite end → 1.
    most_recent, least_recent = scored[1], scored[5 * MIN_CUSTOMERS_FOR_QUINTILES]
    assert (most_recent.r, most_recent.f, most_recent.m) == (5, 1, 1)
    assert (least_recent.r, least_recent.f, least_recent.m) == (1, 5, 5)
    assert snapshot.thresholds.recency_source == "quintiles"


def brute_force_score(value: Decimal, values: list[Decimal]) -> int:
    below = sum(other < value for other in values)
    return 1 + (5 * below) // len(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=60))
def test_scores_follow_the_share_of_customers_strictly_below(raw: list[int]) -> None:
    values = [Decimal(v) for v in raw]

    bounds = quintile_lower_bounds(values)

    assert list(bounds) == sorted(bounds)
    for value in values:
        assert score_at_least(value, bounds) == brute_force_score(value, values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=60))
def test_recency_scores_follow_the_share_of_customers_with_older_orders(days: list[int]) -> None:
    bounds = quintile_recency_bounds(days)

    assert list(bounds) == sorted(bounds)
    for value in days:
        older = sum(other > value for other in days)
        assert score_at_most(value, bounds) == 1 + (5 * older) // len(days)


def test_ties_share_a_score_and_one_time_buyers_stay_at_the_bottom() -> None:
    # 60 % one-time buyers, as in many shops.
    orders = [1] * 60 + [2] * 20 + [3] * 10 + [4] * 5 + [9] * 5
    customers = [activity(i, orders=n, days_ago=i) for i, n in enumerate(orders, start=1)]

    snapshot = score_customers(customers, AS_OF)

    f_by_orders: dict[int, set[int]] = {}
    for customer in snapshot.customers:
        f_by_orders.setdefault(customer.orders, set()).add(customer.f)
    assert f_by_orders == {1: {1}, 2: {4}, 3: {5}, 4: {5}, 9: {5}}


def test_everyone_alike_falls_back_to_standard_boundaries() -> None:
    customers = [activity(i, days_ago=30, orders=2, monetary="50") for i in range(1, 41)]

    snapshot = score_customers(customers, AS_OF)

    thresholds = snapshot.thresholds
    assert (thresholds.recency_source, thresholds.frequency_source) == ("standard", "standard")
    assert thresholds.monetary_source == "standard"
    # Ordered 30 days ago, twice, at the shop's median spend: recent, not lost.
    assert {(c.r, c.f, c.m, c.group) for c in snapshot.customers} == {
        (5, 2, 3, "potential_loyalists")
    }


def test_scores_do_not_depend_on_input_order() -> None:
    rng = random.Random(4)
    customers = [
        activity(i, days_ago=rng.randint(0, 700), orders=rng.randint(1, 6), monetary=str(i))
        for i in range(1, 80)
    ]
    shuffled = customers[:]
    rng.shuffle(shuffled)

    assert score_customers(customers, AS_OF) == score_customers(shuffled, AS_OF)


# --- groups ------------------------------------------------------------------------------------


def test_default_map_covers_every_cell_and_every_group() -> None:
    validate_segment_map(DEFAULT_SEGMENT_MAP)

    assert set(DEFAULT_SEGMENT_MAP.values()) == set(GROUP_KEYS)
    assert len(GROUP_KEYS) == 11


@pytest.mark.parametrize(
    ("r", "fm", "group"),
    [
        (5, 5, "champions"),
        (5, 4, "champions"),
        (4, 4, "loyal"),
        (3, 5, "loyal"),
        (5, 1, "new"),
        (4, 1, "promising"),
        (4, 2, "potential_loyalists"),
        (3, 3, "need_attention"),
        (3, 1, "about_to_sleep"),
        (2, 4, "at_risk"),
        (1, 5, "cant_lose_them"),
        (2, 2, "hibernating"),
        (1, 1, "lost"),
    ],
)
def test_known_cells_map_to_their_groups(r: int, fm: int, group: str) -> None:
    # Boundaries chosen so that days, orders and spend land exactly on the wanted scores.
    thresholds = RfmThresholds(
        recency_days=(Decimal(10), Decimal(20), Decimal(30), Decimal(40)),
        frequency_orders=(Decimal(2), Decimal(3), Decimal(4), Decimal(5)),
        monetary=(Decimal(200), Decimal(300), Decimal(400), Decimal(500)),
    )
    days_for_r = {5: 5, 4: 15, 3: 25, 2: 35, 1: 45}
    customer = activity(1, days_ago=days_for_r[r], orders=fm, monetary=str(fm * 100))

    (scored,) = score_customers([customer], AS_OF, thresholds).customers

    assert (scored.r, scored.f, scored.m, scored.fm) == (r, fm, fm, fm)
    assert scored.group == group


def test_fm_is_the_floor_of_the_average_of_f_and_m() -> None:
    thresholds = RfmThresholds(
        frequency_orders=(Decimal(2), Decimal(3), Decimal(4), Decimal(5)),
        monetary=(Decimal(200), Decimal(300), Decimal(400), Decimal(500)),
    )

    (scored,) = score_customers(
        [activity(1, days_ago=1, orders=1, monetary="500")], AS_OF, thresholds
    ).customers

    assert (scored.f, scored.m, scored.fm) == (1, 5, 3)


def test_merchant_can_reassign_a_cell() -> None:
    custom_map = {**DEFAULT_SEGMENT_MAP, (5, 1): "promising"}
    customer = activity(1, days_ago=1, orders=1, monetary="1")
    low_spend = RfmThresholds(monetary=(Decimal(200), Decimal(300), Decimal(400), Decimal(500)))

    default = score_customers([customer], AS_OF, low_spend)
    custom = score_customers([customer], AS_OF, low_spend, segment_map=custom_map)

    assert default.customers[0].group == "new"
    assert custom.customers[0].group == "promising"


def test_incomplete_or_unknown_maps_are_rejected() -> None:
    incomplete = dict(DEFAULT_SEGMENT_MAP)
    del incomplete[(3, 3)]

    with pytest.raises(ValueError, match="missing"):
        score_customers([activity(1)], AS_OF, segment_map=incomplete)
    with pytest.raises(ValueError, match="unknown groups"):
        validate_segment_map({**DEFAULT_SEGMENT_MAP, (3, 3): "vip"})


# --- thresholds --------------------------------------------------------------------------------


def test_custom_boundaries_override_one_dimension_only() -> None:
    customers = [activity(i, days_ago=i * 7, orders=i % 4 + 1) for i in range(1, 51)]
    custom_recency = (Decimal(7), Decimal(14), Decimal(60), Decimal(120))

    computed = score_customers(customers, AS_OF)
    custom = score_customers(customers, AS_OF, RfmThresholds(recency_days=custom_recency))

    assert custom.thresholds.recency_days == custom_recency
    assert custom.thresholds.recency_source == "custom"
    assert custom.thresholds.frequency_orders == computed.thresholds.frequency_orders
    assert custom.thresholds.frequency_source == "quintiles"
    scored = by_id(custom.customers)
    assert [scored[i].r for i in (1, 2, 5, 10, 30)] == [5, 4, 3, 2, 1]
    assert [c.f for c in custom.customers] == [c.f for c in computed.customers]


def test_compute_thresholds_matches_what_scoring_used() -> None:
    customers = [activity(i, days_ago=i * 3, orders=i % 5 + 1, monetary=str(i)) for i in range(60)]

    assert compute_thresholds(customers, AS_OF) == score_customers(customers, AS_OF).thresholds


@pytest.mark.parametrize(
    "bad",
    [
        {"recency_days": (Decimal(30), Decimal(10), Decimal(60), Decimal(90))},
        {"monetary": (Decimal(1), Decimal(2), Decimal(3))},
        {"frequency_orders": (Decimal(1), Decimal(2), Decimal(3), Decimal("Infinity"))},
    ],
)
def test_invalid_boundaries_are_rejected(bad: dict) -> None:
    with pytest.raises(ValueError, match="boundaries"):
        RfmThresholds(**bad)


# --- grid and movement -------------------------------------------------------------------------


def test_grid_totals_equal_the_scored_customers() -> None:
    rng = random.Random(11)
    customers = [
        activity(
            i,
            days_ago=rng.randint(0, 900),
            orders=rng.randint(1, 8),
            monetary=f"{rng.uniform(5, 900):.2f}",
        )
        for i in range(1, 200)
    ]
    never_ordered = replace(activity(999), orders=0, first_order_at=None, last_order_at=None)
    snapshot = score_customers([*customers, never_ordered], AS_OF)

    for axis in ("fm", "f"):
        grid = rfm_grid(snapshot, axis=axis)
        assert len(grid) == 25
        assert {(cell.r, cell.column) for cell in grid} == {(r, c) for r in SCORES for c in SCORES}
        assert sum(cell.customers for cell in grid) == 199
        assert sum(cell.revenue for cell in grid) == sum(c.monetary for c in customers)
    fm_grid = rfm_grid(snapshot)
    assert all(cell.group == DEFAULT_SEGMENT_MAP[(cell.r, cell.column)] for cell in fm_grid)
    per_group = group_counts(snapshot)
    for group, count in per_group.items():
        assert count == sum(cell.customers for cell in fm_grid if cell.group == group)


def test_movement_counts_between_snapshots() -> None:
    thresholds = RfmThresholds(
        recency_days=(Decimal(30), Decimal(90), Decimal(180), Decimal(365)),
        frequency_orders=(Decimal(2), Decimal(3), Decimal(4), Decimal(5)),
        monetary=(Decimal(200), Decimal(300), Decimal(400), Decimal(500)),
    )
    before = score_customers(
        [
            activity(1, days_ago=5, orders=5, monetary="500"),  # champions
            activity(2, days_ago=5, orders=5, monetary="500"),  # champions
            activity(3, days_ago=5, orders=1, monetary="50"),  # new
            activity(4, days_ago=5, orders=1, monetary="50"),  # new, then erased
        ],
        AS_OF,
        thresholds,
    )
    later = AS_OF + timedelta(days=120)
    after = score_customers(
        [
            activity(1, days_ago=5, orders=6, monetary="600", as_of=later),  # still champions
            activity(2, days_ago=125, orders=5, monetary="500", as_of=later),  # R3 FM5: loyal
            activity(3, days_ago=125, orders=1, monetary="50", as_of=later),  # about to sleep
            activity(5, days_ago=5, orders=1, monetary="50", as_of=later),  # first order: new
        ],
        later,
        thresholds,
    )

    moves = group_movement(before, after)

    assert moves == (
        GroupMove("champions", "champions", 1),
        GroupMove("champions", "loyal", 1),
        GroupMove("new", "about_to_sleep", 1),
        GroupMove("new", None, 1),
        GroupMove(None, "new", 1),
    )
    assert sum(move.customers for move in moves) == 5


# --- small, young and unusual shops ------------------------------------------------------------


def test_single_recent_customer_is_not_called_lost() -> None:
    (scored,) = score_customers(
        [activity(1, days_ago=1, monetary="80", first_days_ago=1)], AS_OF
    ).customers

    assert scored.r == 5
    assert scored.m == 3  # the shop's own median spend is the middle
    assert scored.group in {"new", "potential_loyalists"}


def test_tiny_shop_uses_standard_boundaries() -> None:
    customers = [
        activity(1, days_ago=3, orders=4, monetary="300"),
        activity(2, days_ago=100, orders=1, monetary="100"),
        activity(3, days_ago=400, orders=2, monetary="40"),
    ]

    snapshot = score_customers(customers, AS_OF)

    assert snapshot.thresholds.recency_source == "standard"
    assert snapshot.thresholds.monetary_source == "standard"
    scored = by_id(snapshot.customers)
    assert [scored[i].r for i in (1, 2, 3)] == [5, 3, 1]
    assert [scored[i].f for i in (1, 2, 3)] == [3, 1, 2]
    assert [scored[i].m for i in (1, 2, 3)] == [5, 3, 1]


def test_young_shop_does_not_rank_recency_relatively() -> None:
    # 60 customers all within the shop's first month: nobody has had time to lapse.
    customers = [
        activity(i, days_ago=i % 28, orders=i % 3 + 1, first_days_ago=28) for i in range(1, 61)
    ]

    snapshot = score_customers(customers, AS_OF)

    assert snapshot.thresholds.recency_source == "standard"
    assert snapshot.thresholds.frequency_source == "quintiles"
    assert {c.r for c in snapshot.customers} == {5}
    assert not {"lost", "hibernating", "at_risk"} & {c.group for c in snapshot.customers}


def test_customers_without_orders_are_left_out() -> None:
    never = CustomerActivity(7, None, None, 0, Decimal(0))

    snapshot = score_customers([never, activity(1)], AS_OF)

    assert [c.customer_id for c in snapshot.customers] == [1]
    assert score_customers([never], AS_OF).customers == ()


def test_orders_stamped_after_the_snapshot_count_as_today() -> None:
    customer = activity(1, days_ago=-2, first_days_ago=10)

    (scored,) = score_customers([customer], AS_OF).customers

    assert scored.recency_days == 0
    assert scored.r == 5


def test_bad_input_is_rejected() -> None:
    naive = datetime(2025, 1, 1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        CustomerActivity(1, naive, naive, 1, Decimal(1))
    with pytest.raises(ValueError, match="timezone-aware"):
        score_customers([activity(1)], naive)
    with pytest.raises(ValueError, match="more than once"):
        score_customers([activity(1), activity(1)], AS_OF)
    with pytest.raises(ValueError, match="first order is after"):
        CustomerActivity(1, AS_OF, AS_OF - timedelta(days=1), 2, Decimal(1))
