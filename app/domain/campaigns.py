"""Pure campaign arithmetic: the deterministic holdout share, and the lift a holdout measures.

Layer: domain (no I/O). `holdout_bucket` has a twin in SQL (`app/campaigns/audience.py`
`holdout_bucket_sql`), integer arithmetic both, so the snapshot taken in one statement and this
function agree (tests/unit/test_campaign_domain.py holds them together on SQLite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A multiplicative hash (Knuth's constant) over campaign and customer: consecutive customer ids
# spread evenly over the 100 buckets, and a different campaign shifts which bucket is held out.
HASH_CUSTOMER = 2_654_435_761
HASH_CAMPAIGN = 40_503
HASH_MODULUS = 1_000_003  # prime, below 2**31 so the product stays in a 64-bit integer
MAX_HOLDOUT_PERCENT = 50
Z_95 = 1.959963984540054


def holdout_bucket(campaign_id: int, customer_id: int) -> int:
    """A stable bucket 0–99 for this customer in this campaign."""
    mixed = (customer_id % HASH_MODULUS) * HASH_CUSTOMER + campaign_id * HASH_CAMPAIGN
    return (mixed % HASH_MODULUS) % 100


def in_holdout(campaign_id: int, customer_id: int, percent: int) -> bool:
    return holdout_bucket(campaign_id, customer_id) < percent


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0, 0 when there are no trials)."""
    if trials <= 0:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


@dataclass(frozen=True)
class Lift:
    """Conversion of the emailed group against the holdout: the difference of proportions and
    its 95 % interval (Newcombe's hybrid score method, from the two Wilson intervals)."""

    treated_rate: float
    holdout_rate: float
    difference: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def lift(
    treated_conversions: int, treated: int, holdout_conversions: int, holdout: int
) -> Lift | None:
    """None when either group is empty."""
    if treated <= 0 or holdout <= 0:
        return None
    p1, p2 = treated_conversions / treated, holdout_conversions / holdout
    l1, u1 = wilson_interval(treated_conversions, treated)
    l2, u2 = wilson_interval(holdout_conversions, holdout)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Lift(p1, p2, difference, low, high)
