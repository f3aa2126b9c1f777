"""RFM scoring and segmentation: recency, frequency and monetary scores 1–5 and named groups.

Layer: domain (pure logic; no Flask, no database, no I/O). Input is one `CustomerActivity` per
customer plus the snapshot time; the output does not depend on input order. Customers without
orders are not scored. Money stays `Decimal`; datetimes must be timezone-aware.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

SCORES = (1, 2, 3, 4, 5)

# Four ascending score boundaries per dimension. For frequency and monetary they are the least
# value that earns scores 2, 3, 4 and 5; for recency they are the most days since the last order
# that still earns scores 5, 4, 3 and 2. A boundary beyond every observed value means nobody in
# the snapshot reaches that score.
Edges = tuple[Decimal, Decimal, Decimal, Decimal]
ThresholdSource = Literal["custom", "quintiles", "standard"]
ThresholdDimension = Literal["recency_days", "frequency_orders", "monetary"]
THRESHOLD_DIMENSIONS: tuple[ThresholdDimension, ...] = (
    "recency_days",
    "frequency_orders",
    "monetary",
)
GridAxis = Literal["fm", "f"]

# Shop-relative quintiles say little with a handful of customers or a few weeks of orders (the
# oldest fifth of a one-month-old shop would be called "lost"), so small or young shops are
# scored on standard boundaries instead. 180 days is the history Klaviyo asks for before its
# predictions, long enough that a seasonal lull is not read as lapsing; 20 customers gives each
# quintile at least four people.
MIN_CUSTOMERS_FOR_QUINTILES = 20
MIN_HISTORY_DAYS_FOR_RECENCY_QUINTILES = 180
STANDARD_RECENCY_DAYS: Edges = (Decimal(30), Decimal(90), Decimal(180), Decimal(365))
STANDARD_FREQUENCY_ORDERS: Edges = (Decimal(2), Decimal(3), Decimal(5), Decimal(8))
# Spend has no currency-free standard, so small shops compare each customer with their median.
STANDARD_MONETARY_MEDIAN_MULTIPLES: Edges = (
    Decimal("0.5"),
    Decimal("0.8"),
    Decimal("1.25"),
    Decimal(2),
)

# The named groups; their display names are in the catalogue (`app.i18n`, `rfm_group.<key>`).
GROUP_KEYS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalists",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose_them",
    "hibernating",
    "lost",
)

# The widely used 11-segment RFM grid, drawn on recency (columns) against the average of the
# frequency and monetary scores (rows). Frequency and monetary move together for most customers,
# so folding them into one axis keeps a two-dimensional map a merchant can read as a heat map,
# while still letting one large order lift a one-time buyer. Merchants may reassign any cell.
_DEFAULT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    # FM score: the groups for R = 1, 2, 3, 4, 5
    5: ("cant_lose_them", "cant_lose_them", "loyal", "loyal", "champions"),
    4: ("at_risk", "at_risk", "loyal", "loyal", "champions"),
    3: ("at_risk", "at_risk", "need_attention", "potential_loyalists", "potential_loyalists"),
    2: ("lost", "hibernating", "about_to_sleep", "potential_loyalists", "potential_loyalists"),
    1: ("lost", "hibernating", "about_to_sleep", "promising", "new"),
}
DEFAULT_SEGMENT_MAP: Mapping[tuple[int, int], str] = {
    (recency, fm): row[recency - 1] for fm, row in _DEFAULT_GRID.items() for recency in SCORES
}


@dataclass(frozen=True)
class CustomerActivity:
    """What RFM needs to know about one customer's orders up to the snapshot."""

    customer_id: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    orders: int
    monetary: Decimal

    def __post_init__(self) -> None:
        if self.orders < 0:
            raise ValueError(f"customer {self.customer_id}: orders must not be negative")
        if self.orders == 0:
            return
        if self.first_order_at is None or self.last_order_at is None:
            raise ValueError(f"customer {self.customer_id}: orders need first and last order times")
        _require_aware(self.first_order_at, "first_order_at")
        _require_aware(self.last_order_at, "last_order_at")
        if self.first_order_at > self.last_order_at:
            raise ValueError(f"customer {self.customer_id}: first order is after the last order")


@dataclass(frozen=True)
class RfmThresholds:
    """Merchant-chosen score boundaries; a dimension left as None is computed from the shop."""

    recency_days: Edges | None = None
    frequency_orders: Edges | None = None
    monetary: Edges | None = None

    def __post_init__(self) -> None:
        for name in ("recency_days", "frequency_orders", "monetary"):
            edges = getattr(self, name)
            if edges is not None:
                _validate_edges(name, edges)


@dataclass(frozen=True)
class AppliedThresholds:
    """The boundaries a snapshot was scored with, and where each dimension's came from."""

    recency_days: Edges
    frequency_orders: Edges
    monetary: Edges
    recency_source: ThresholdSource
    frequency_source: ThresholdSource
    monetary_source: ThresholdSource


@dataclass(frozen=True)
class CustomerRfm:
    """One customer's scores and group; `fm` is the floor of the mean of `f` and `m`."""

    customer_id: int
    recency_days: int
    orders: int
    monetary: Decimal
    r: int
    f: int
    m: int
    fm: int
    group: str


@dataclass(frozen=True)
class RfmSnapshot:
    """Every scored customer of a shop at `as_of`, ordered by customer id."""

    as_of: datetime
    thresholds: AppliedThresholds
    segment_map: Mapping[tuple[int, int], str]
    customers: tuple[CustomerRfm, ...]


@dataclass(frozen=True)
class GridCell:
    """One cell of the heat map: R score × column score (FM or F)."""

    r: int
    column: int
    customers: int
    revenue: Decimal
    group: str | None


@dataclass(frozen=True)
class GroupMove:
    """How many customers went from one group to another between two snapshots.

    `from_group` is None for customers scored only in the later snapshot (first order since);
    `to_group` is None for customers no longer scored (for example erased on request).
    """

    from_group: str | None
    to_group: str | None
    customers: int


@dataclass(frozen=True)
class _Scored:
    activity: CustomerActivity
    recency_days: int


def thresholds_to_json(thresholds: RfmThresholds) -> dict[str, list[str] | None] | None:
    """The stored form of a merchant's boundaries (decimal strings); None when all automatic."""
    stored: dict[str, list[str] | None] = {}
    for name in THRESHOLD_DIMENSIONS:
        edges = getattr(thresholds, name)
        stored[name] = [str(edge) for edge in edges] if edges is not None else None
    return stored if any(value is not None for value in stored.values()) else None


def thresholds_from_json(stored: Mapping[str, object] | None) -> RfmThresholds:
    """The inverse of `thresholds_to_json`; ValueError on anything it would not have written."""
    if not stored:
        return RfmThresholds()
    if not isinstance(stored, Mapping) or set(stored) - set(THRESHOLD_DIMENSIONS):
        raise ValueError(f"unexpected RFM thresholds {stored!r}")
    parsed: dict[str, Edges | None] = {}
    for name in THRESHOLD_DIMENSIONS:
        raw = stored.get(name)
        if raw is None:
            parsed[name] = None
            continue
        if not isinstance(raw, list) or not all(isinstance(v, str | int) for v in raw):
            raise ValueError(f"{name} boundaries must be a list of decimal strings")
        try:
            values = [Decimal(str(v)) for v in raw]
        except ArithmeticError as error:
            raise ValueError(f"{name} boundaries must be decimals") from error
        _validate_edges(name, values)
        parsed[name] = _as_edges(values)
    return RfmThresholds(
        recency_days=parsed["recency_days"],
        frequency_orders=parsed["frequency_orders"],
        monetary=parsed["monetary"],
    )


def validate_segment_map(segment_map: Mapping[tuple[int, int], str]) -> None:
    """Raise ValueError unless every (R, FM) cell from 1–5 × 1–5 names a known group."""
    expected = {(recency, fm) for recency in SCORES for fm in SCORES}
    missing = expected - set(segment_map)
    extra = set(segment_map) - expected
    if missing or extra:
        raise ValueError(f"segment map cells missing {sorted(missing)}, unexpected {sorted(extra)}")
    unknown = sorted({group for group in segment_map.values() if group not in GROUP_KEYS})
    if unknown:
        raise ValueError(f"segment map names unknown groups {unknown}")


def days_between(earlier: datetime, later: datetime) -> int:
    """Whole days from `earlier` to `later`, never negative (orders stamped after `as_of` count
    as today rather than in the future)."""
    return max(0, (later - earlier).days)


def quintile_lower_bounds(values: Sequence[Decimal]) -> Edges:
    """Boundaries for a dimension where more is better, from the shop's own values.

    A value scores 1 + ⌊5 × share of customers with a strictly smaller value⌋, so equal values
    always share a score and the smallest value always scores 1; with distinct values the five
    scores hold a fifth of the customers each. Boundary k is the least observed value reaching
    score k + 1, or one more than the largest value when ties leave that score empty.
    """
    if not values:
        raise ValueError("quintiles need at least one value")
    ordered = sorted(values)
    count = len(ordered)
    bounds: list[Decimal] = []
    distinct = sorted(set(ordered))
    for level in range(1, 5):
        reaching = (v for v in distinct if 5 * bisect.bisect_left(ordered, v) >= level * count)
        bounds.append(next(reaching, ordered[-1] + 1))
    return _as_edges(bounds)


def quintile_recency_bounds(days_since_last_order: Sequence[int]) -> Edges:
    """Recency boundaries in days from the shop's own values (fewer days is better).

    A customer scores 1 + ⌊5 × share of customers whose last order is strictly older⌋, the mirror
    of `quintile_lower_bounds`. The result lists, ascending, the most days still earning R5, R4,
    R3 and R2; one less than the smallest value when ties leave that score empty.
    """
    if not days_since_last_order:
        raise ValueError("quintiles need at least one value")
    ordered = sorted(days_since_last_order)
    count = len(ordered)
    distinct_descending = sorted(set(ordered), reverse=True)
    bounds: list[Decimal] = []
    for level in range(4, 0, -1):
        reaching = (
            d
            for d in distinct_descending
            if 5 * (count - bisect.bisect_right(ordered, d)) >= level * count
        )
        bounds.append(Decimal(next(reaching, ordered[0] - 1)))
    return _as_edges(bounds)


def score_at_least(value: Decimal, lower_bounds: Edges) -> int:
    """Score 1–5 for a dimension where more is better: one point per boundary reached."""
    return 1 + sum(value >= bound for bound in lower_bounds)


def score_at_most(days: int, upper_bounds: Edges) -> int:
    """Recency score 1–5: one point per boundary the days since the last order stay within."""
    return 1 + sum(days <= bound for bound in upper_bounds)


def compute_thresholds(
    activities: Iterable[CustomerActivity],
    as_of: datetime,
    overrides: RfmThresholds | None = None,
) -> AppliedThresholds:
    """The boundaries `score_customers` would use: overrides first, else computed from the shop.

    Frequency and monetary use shop quintiles from `MIN_CUSTOMERS_FOR_QUINTILES` customers;
    recency also needs `MIN_HISTORY_DAYS_FOR_RECENCY_QUINTILES` days since the first order.
    Below that, or when every customer has the same value in a dimension, the standard
    boundaries apply to that dimension (monetary: multiples of the median spend).
    """
    _require_aware(as_of, "as_of")
    scored = _scored_customers(activities, as_of)
    return _applied_thresholds(scored, as_of, overrides or RfmThresholds())


def score_customers(
    activities: Iterable[CustomerActivity],
    as_of: datetime,
    thresholds: RfmThresholds | None = None,
    segment_map: Mapping[tuple[int, int], str] = DEFAULT_SEGMENT_MAP,
) -> RfmSnapshot:
    """Score every customer with at least one order and place them in a group.

    Groups come from the 11-segment map on R × FM, where FM = ⌊(F + M) / 2⌋: a cell is earned
    only when the average of frequency and monetary reaches it. `thresholds` overrides computed
    boundaries dimension by dimension; `segment_map` assigns a group to each of the 25 (R, FM)
    cells (see `DEFAULT_SEGMENT_MAP`).
    """
    _require_aware(as_of, "as_of")
    validate_segment_map(segment_map)
    scored = _scored_customers(activities, as_of)
    applied = _applied_thresholds(scored, as_of, thresholds or RfmThresholds())
    customers = []
    for item in scored:
        activity = item.activity
        r = score_at_most(item.recency_days, applied.recency_days)
        f = score_at_least(Decimal(activity.orders), applied.frequency_orders)
        m = score_at_least(activity.monetary, applied.monetary)
        fm = (f + m) // 2
        customers.append(
            CustomerRfm(
                customer_id=activity.customer_id,
                recency_days=item.recency_days,
                orders=activity.orders,
                monetary=activity.monetary,
                r=r,
                f=f,
                m=m,
                fm=fm,
                group=segment_map[(r, fm)],
            )
        )
    return RfmSnapshot(
        as_of=as_of,
        thresholds=applied,
        segment_map=dict(segment_map),
        customers=tuple(customers),
    )


def rfm_grid(snapshot: RfmSnapshot, axis: GridAxis = "fm") -> tuple[GridCell, ...]:
    """All 25 heat-map cells, R rows 5→1 and columns 1→5, with customer count and revenue.

    The default axis is FM, the axis the groups are drawn on, so each cell carries its group;
    on the plain F axis cells have no single group. Revenue is the customers' monetary total.
    """
    counts: Counter[tuple[int, int]] = Counter()
    revenue: dict[tuple[int, int], Decimal] = {}
    for customer in snapshot.customers:
        cell = (customer.r, customer.fm if axis == "fm" else customer.f)
        counts[cell] += 1
        revenue[cell] = revenue.get(cell, Decimal(0)) + customer.monetary
    return tuple(
        GridCell(
            r=r,
            column=column,
            customers=counts[(r, column)],
            revenue=revenue.get((r, column), Decimal(0)),
            group=snapshot.segment_map[(r, column)] if axis == "fm" else None,
        )
        for r in reversed(SCORES)
        for column in SCORES
    )


def group_counts(snapshot: RfmSnapshot) -> dict[str, int]:
    """Customers per group, every group listed (zero when empty), in `GROUP_KEYS` order."""
    counts = Counter(customer.group for customer in snapshot.customers)
    return {group: counts[group] for group in GROUP_KEYS}


def group_movement(before: RfmSnapshot, after: RfmSnapshot) -> tuple[GroupMove, ...]:
    """From-group → to-group customer counts between two snapshots, staying put included.

    Ordered by `GROUP_KEYS` of the from-group then the to-group, None (not scored) last.
    """
    groups_before = {customer.customer_id: customer.group for customer in before.customers}
    groups_after = {customer.customer_id: customer.group for customer in after.customers}
    moves: Counter[tuple[str | None, str | None]] = Counter(
        (groups_before.get(customer_id), groups_after.get(customer_id))
        for customer_id in groups_before.keys() | groups_after.keys()
    )

    def order(group: str | None) -> int:
        return GROUP_KEYS.index(group) if group in GROUP_KEYS else len(GROUP_KEYS)

    return tuple(
        GroupMove(from_group=from_group, to_group=to_group, customers=count)
        for (from_group, to_group), count in sorted(
            moves.items(), key=lambda item: (order(item[0][0]), order(item[0][1]))
        )
    )


# --- whole-shop arrays ---------------------------------------------------------------------------
# The same scoring on numpy arrays, for rescoring a large shop at once after its boundaries
# changed: results identical to `compute_thresholds` and `score_customers` (the unit tests compare
# them), with money as integer minor units, `MONEY_UNITS` per currency unit (the scale of the
# `Money` column), so every comparison stays exact.

MONEY_UNITS = 10_000
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ScoredArrays:
    """Per-customer R, F, M, FM and group (an index into `GROUP_KEYS`), aligned with the input."""

    r: IntArray
    f: IntArray
    m: IntArray
    fm: IntArray
    group: IntArray


def thresholds_for_arrays(
    recency_days: IntArray,
    orders: IntArray,
    monetary_units: IntArray,
    history_days: int,
    overrides: RfmThresholds | None = None,
) -> AppliedThresholds:
    """`compute_thresholds` for customers given as arrays (one element per customer with orders).

    `history_days` is the most days since any of these customers' first order (the recency
    quintiles need `MIN_HISTORY_DAYS_FOR_RECENCY_QUINTILES` of them).
    """
    overrides = overrides or RfmThresholds()
    count = len(recency_days)
    enough_customers = count >= MIN_CUSTOMERS_FOR_QUINTILES
    days = np.sort(np.asarray(recency_days, dtype=np.int64))
    ordered_orders = np.sort(np.asarray(orders, dtype=np.int64))
    spends = np.sort(np.asarray(monetary_units, dtype=np.int64))

    recency_source: ThresholdSource
    if overrides.recency_days is not None:
        recency, recency_source = overrides.recency_days, "custom"
    elif (
        enough_customers
        and history_days >= MIN_HISTORY_DAYS_FOR_RECENCY_QUINTILES
        and (_sorted_spread(days))
    ):
        bounds = _sorted_recency_bounds(days, 1)
        recency, recency_source = _as_edges([Decimal(b) for b in bounds]), "quintiles"
    else:
        recency, recency_source = STANDARD_RECENCY_DAYS, "standard"

    frequency_source: ThresholdSource
    if overrides.frequency_orders is not None:
        frequency, frequency_source = overrides.frequency_orders, "custom"
    elif enough_customers and _sorted_spread(ordered_orders):
        bounds = _sorted_lower_bounds(ordered_orders, 1)
        frequency, frequency_source = _as_edges([Decimal(b) for b in bounds]), "quintiles"
    else:
        frequency, frequency_source = STANDARD_FREQUENCY_ORDERS, "standard"

    monetary_source: ThresholdSource
    if overrides.monetary is not None:
        monetary, monetary_source = overrides.monetary, "custom"
    elif enough_customers and _sorted_spread(spends):
        bounds = _sorted_lower_bounds(spends, MONEY_UNITS)
        monetary, monetary_source = _as_edges([_money(b) for b in bounds]), "quintiles"
    else:
        median = _sorted_median_money(spends)
        if median > 0:
            multiples = STANDARD_MONETARY_MEDIAN_MULTIPLES
            monetary = _as_edges([median * multiple for multiple in multiples])
        elif count:
            bounds = _sorted_lower_bounds(spends, MONEY_UNITS)
            monetary = _as_edges([_money(b) for b in bounds])
        else:
            monetary = _as_edges([Decimal(0)] * 4)
        monetary_source = "standard"

    return AppliedThresholds(
        recency_days=recency,
        frequency_orders=frequency,
        monetary=monetary,
        recency_source=recency_source,
        frequency_source=frequency_source,
        monetary_source=monetary_source,
    )


def score_arrays(
    recency_days: IntArray,
    orders: IntArray,
    monetary_units: IntArray,
    applied: AppliedThresholds,
    segment_map: Mapping[tuple[int, int], str] = DEFAULT_SEGMENT_MAP,
) -> ScoredArrays:
    """`score_customers`' scores and groups for customers given as arrays, under `applied`."""
    validate_segment_map(segment_map)
    days = np.asarray(recency_days, dtype=np.int64)
    # Integers compared with a Decimal boundary: days ≤ b ⇔ days ≤ ⌊b⌋, n ≥ b ⇔ n ≥ ⌈b⌉.
    r = 1 + sum((days <= math.floor(bound)).astype(np.int64) for bound in applied.recency_days)
    f = 1 + sum(
        (np.asarray(orders, dtype=np.int64) >= math.ceil(bound)).astype(np.int64)
        for bound in applied.frequency_orders
    )
    spends = np.asarray(monetary_units, dtype=np.int64)
    m = 1 + sum(
        (spends >= math.ceil(bound * MONEY_UNITS)).astype(np.int64) for bound in applied.monetary
    )
    fm = (f + m) // 2
    lookup = np.zeros((6, 6), dtype=np.int64)
    for (cell_r, cell_fm), group in segment_map.items():
        lookup[cell_r, cell_fm] = GROUP_KEYS.index(group)
    return ScoredArrays(
        r=np.asarray(r, dtype=np.int64),
        f=np.asarray(f, dtype=np.int64),
        m=np.asarray(m, dtype=np.int64),
        fm=np.asarray(fm, dtype=np.int64),
        group=lookup[r, fm],
    )


def _sorted_spread(ordered: IntArray) -> bool:
    return len(ordered) > 0 and bool(ordered[0] != ordered[-1])


def _sorted_lower_bounds(ordered: IntArray, one: int) -> list[int]:
    """`quintile_lower_bounds` on an ascending array; `one` is the unit of "one more"."""
    count = len(ordered)
    bounds = []
    for level in range(1, 5):
        # Boundary k: the least value whose first position i has 5·i ≥ k·count.
        start = -(-level * count // 5)
        if start >= count:
            bounds.append(int(ordered[-1]) + one)
            continue
        value = ordered[start]
        if np.searchsorted(ordered, value, "left") >= start:
            bounds.append(int(value))
            continue
        after = int(np.searchsorted(ordered, value, "right"))
        bounds.append(int(ordered[after]) if after < count else int(ordered[-1]) + one)
    return bounds


def _sorted_recency_bounds(ordered: IntArray, one: int) -> list[int]:
    """`quintile_recency_bounds` on an ascending array of days."""
    count = len(ordered)
    bounds = []
    for level in range(4, 0, -1):
        # The most days d with 5 · (customers with more days than d) ≥ level · count.
        limit = count - -(-level * count // 5)
        if limit <= 0:
            bounds.append(int(ordered[0]) - one)
            continue
        value = ordered[limit - 1]
        if np.searchsorted(ordered, value, "right") <= limit:
            bounds.append(int(value))
            continue
        start = int(np.searchsorted(ordered, value, "left"))
        bounds.append(int(ordered[start - 1]) if start > 0 else int(ordered[0]) - one)
    return bounds


def _sorted_median_money(ordered: IntArray) -> Decimal:
    count = len(ordered)
    if not count:
        return Decimal(0)
    middle = count // 2
    if count % 2:
        return _money(int(ordered[middle]))
    return (Decimal(int(ordered[middle - 1]) + int(ordered[middle])) / 2).scaleb(-4)


def _money(units: int) -> Decimal:
    """Minor units back to the column's Decimal (scale 4, as the database returns it)."""
    return Decimal(units).scaleb(-4)


def _scored_customers(activities: Iterable[CustomerActivity], as_of: datetime) -> list[_Scored]:
    scored: dict[int, _Scored] = {}
    for activity in activities:
        if activity.customer_id in scored:
            raise ValueError(f"customer {activity.customer_id} appears more than once")
        if activity.orders == 0 or activity.last_order_at is None:
            continue
        recency_days = days_between(activity.last_order_at, as_of)
        scored[activity.customer_id] = _Scored(activity, recency_days)
    return [scored[customer_id] for customer_id in sorted(scored)]


def _applied_thresholds(
    scored: Sequence[_Scored], as_of: datetime, overrides: RfmThresholds
) -> AppliedThresholds:
    enough_customers = len(scored) >= MIN_CUSTOMERS_FOR_QUINTILES
    first_orders = [item.activity.first_order_at for item in scored]
    history_days = max((days_between(first, as_of) for first in first_orders if first), default=0)
    enough_history = history_days >= MIN_HISTORY_DAYS_FOR_RECENCY_QUINTILES
    days = [item.recency_days for item in scored]
    orders = [Decimal(item.activity.orders) for item in scored]
    spends = [item.activity.monetary for item in scored]

    recency_source: ThresholdSource
    if overrides.recency_days is not None:
        recency, recency_source = overrides.recency_days, "custom"
    elif enough_customers and enough_history and _has_spread(days):
        recency, recency_source = quintile_recency_bounds(days), "quintiles"
    else:
        recency, recency_source = STANDARD_RECENCY_DAYS, "standard"

    frequency_source: ThresholdSource
    if overrides.frequency_orders is not None:
        frequency, frequency_source = overrides.frequency_orders, "custom"
    elif enough_customers and _has_spread(orders):
        frequency, frequency_source = quintile_lower_bounds(orders), "quintiles"
    else:
        frequency, frequency_source = STANDARD_FREQUENCY_ORDERS, "standard"

    monetary_source: ThresholdSource
    if overrides.monetary is not None:
        monetary, monetary_source = overrides.monetary, "custom"
    elif enough_customers and _has_spread(spends):
        monetary, monetary_source = quintile_lower_bounds(spends), "quintiles"
    else:
        median = statistics.median(spends) if spends else Decimal(0)
        if median > 0:
            multiples = STANDARD_MONETARY_MEDIAN_MULTIPLES
            monetary = _as_edges([median * multiple for multiple in multiples])
        else:
            # Zero or net-negative spend has no meaningful multiples; rank what there is.
            monetary = quintile_lower_bounds(spends) if spends else _as_edges([Decimal(0)] * 4)
        monetary_source = "standard"

    return AppliedThresholds(
        recency_days=recency,
        frequency_orders=frequency,
        monetary=monetary,
        recency_source=recency_source,
        frequency_source=frequency_source,
        monetary_source=monetary_source,
    )


def _has_spread(values: Sequence[Decimal] | Sequence[int]) -> bool:
    # Relative scores need at least two different values: when everyone is alike, quintiles
    # would put all of them at score 1 ("lost" for a shop whose customers all ordered last week).
    return len(set(values)) > 1


def _as_edges(bounds: Sequence[Decimal]) -> Edges:
    first, second, third, fourth = bounds
    return (first, second, third, fourth)


def _validate_edges(name: str, edges: Sequence[Decimal]) -> None:
    if len(edges) != 4:
        raise ValueError(f"{name} needs exactly four boundaries, got {len(edges)}")
    if not all(isinstance(edge, Decimal) and edge.is_finite() for edge in edges):
        raise ValueError(f"{name} boundaries must be finite Decimals")
    if any(later < earlier for earlier, later in itertools.pairwise(edges)):
        raise ValueError(f"{name} boundaries must be in ascending order")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
