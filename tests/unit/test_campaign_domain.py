"""Campaign arithmetic: the holdout share is deterministic and close to the chosen percentage;
the Wilson and Newcombe intervals match published values."""

from __future__ import annotations

import pytest

from app.domain.campaigns import holdout_bucket, in_holdout, lift, wilson_interval


def test_the_holdout_is_stable_and_takes_the_chosen_share() -> None:
    assert holdout_bucket(7, 12345) == holdout_bucket(7, 12345)
    held = sum(in_holdout(7, customer, 10) for customer in range(1, 10_001))
    assert 980 <= held <= 1020  # consecutive ids spread evenly over the buckets
    other = {c for c in range(1, 1001) if in_holdout(8, c, 10)}
    assert other != {c for c in range(1, 1001) if in_holdout(7, c, 10)}
    assert not any(in_holdout(7, c, 0) for c in range(1, 1000))
    assert all(0 <= holdout_bucket(c, c * 31) < 100 for c in range(1, 2000))


def test_wilson_interval_matches_newcombes_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17, table I: 81/263 → 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    assert wilson_interval(0, 0) == (0.0, 0.0)
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=1e-4)


def test_the_lift_interval_is_newcombes_hybrid_score() -> None:
    # Newcombe (1998), table II, example (a): 56/70 − 48/80 → 0.0524 to 0.3339.
    measured = lift(56, 70, 48, 80)
    assert measured is not None
    assert measured.difference == pytest.approx(0.2)
    assert (round(measured.low, 4), round(measured.high, 4)) == (0.0524, 0.3339)
    assert measured.significant
    assert lift(1, 10, 0, 0) is None
    assert not (lift(5, 100, 5, 100) or measured).significant
