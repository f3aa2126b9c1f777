"""Frequency caps, quiet hours (Asia/Tokyo, America/New_York across DST), holdout, priority."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.orchestration import (
    CART,
    DEFAULT_CART,
    WINBACK,
    Cap,
    FlowConfig,
    apply_quiet_hours,
    check_frequency_cap,
    holdout_bucket,
    in_holdout,
    next_send_time,
    shop_zone,
)

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NIGHT, MORNING = time(21), time(9)


def test_defaults_match_the_product_brief() -> None:
    assert DEFAULT_CART.step_delays == (
        timedelta(hours=1),
        timedelta(hours=24),
        timedelta(hours=72),
    )
    assert DEFAULT_CART.holdout_percent == 10
    assert DEFAULT_CART.caps == (Cap(1, timedelta(hours=16)), Cap(5, timedelta(days=7)))
    assert (DEFAULT_CART.quiet_start, DEFAULT_CART.quiet_end) == (NIGHT, MORNING)


def test_overrides_merge_over_defaults() -> None:
    config = FlowConfig.from_overrides({"holdout_percent": 0, "quiet_hours": None})
    assert config.holdout_percent == 0
    assert config.quiet_start == config.quiet_end
    assert config.step_delays == DEFAULT_CART.step_delays


def test_no_recent_sends_is_allowed_now() -> None:
    decision = check_frequency_cap([], NOW, DEFAULT_CART.caps)
    assert decision.allowed
    assert decision.next_allowed_at == NOW


def test_a_send_within_16_hours_waits_until_it_is_16_hours_old() -> None:
    sent = NOW - timedelta(hours=10)
    decision = check_frequency_cap([sent], NOW, DEFAULT_CART.caps)
    assert not decision.allowed
    assert decision.next_allowed_at == sent + timedelta(hours=16)


def test_five_sends_in_a_week_wait_for_the_oldest_of_them_to_age_out() -> None:
    sends = [NOW - timedelta(days=d, hours=1) for d in (1, 2, 3, 4, 5)]
    decision = check_frequency_cap(sends, NOW, DEFAULT_CART.caps)
    assert not decision.allowed
    assert decision.next_allowed_at == NOW - timedelta(days=5, hours=1) + timedelta(days=7)


def test_sends_outside_every_window_do_not_count() -> None:
    sends = [NOW - timedelta(days=8 + d) for d in range(10)]
    assert check_frequency_cap(sends, NOW, DEFAULT_CART.caps).allowed


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (
            datetime(2026, 11, 25, 20, 59, tzinfo=TOKYO),
            datetime(2026, 11, 25, 20, 59, tzinfo=TOKYO),
        ),
        (datetime(2026, 11, 25, 21, 0, tzinfo=TOKYO), datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO)),
        (datetime(2026, 11, 25, 23, 30, tzinfo=TOKYO), datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO)),
        (datetime(2026, 11, 26, 3, 0, tzinfo=TOKYO), datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO)),
        (datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO), datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO)),
    ],
)
def test_quiet_hours_in_tokyo(local: datetime, expected: datetime) -> None:
    due = local.astimezone(UTC)
    moved = apply_quiet_hours(due, TOKYO, NIGHT, MORNING)
    assert moved == expected
    assert moved.tzinfo is UTC  # the caller's zone is kept


def test_quiet_hours_move_across_the_spring_forward_night_in_new_york() -> None:
    # 2026-03-08: clocks jump 02:00 → 03:00; 09:00 the next morning is EDT (UTC-4).
    due = datetime(2026, 3, 7, 22, 0, tzinfo=NEW_YORK).astimezone(UTC)
    moved = apply_quiet_hours(due, NEW_YORK, NIGHT, MORNING)
    assert moved == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert moved.astimezone(NEW_YORK).hour == 9


def test_quiet_hours_move_across_the_fall_back_night_in_new_york() -> None:
    # 2026-11-01: 01:00–02:00 happens twice; 09:00 that morning is EST (UTC-5).
    due = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first pass
    moved = apply_quiet_hours(due, NEW_YORK, NIGHT, MORNING)
    assert moved == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


def test_the_same_utc_moment_is_quiet_in_one_shop_and_not_another() -> None:
    moment = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # 22:00 Tokyo, 08:00 New York
    assert apply_quiet_hours(moment, TOKYO, NIGHT, MORNING) == datetime(
        2026, 11, 26, 0, 0, tzinfo=UTC
    )
    assert apply_quiet_hours(moment, NEW_YORK, NIGHT, MORNING) == datetime(
        2026, 11, 25, 14, 0, tzinfo=UTC
    )


def test_an_unknown_timezone_falls_back_to_utc() -> None:
    assert shop_zone("Mars/Olympus") == ZoneInfo("UTC")
    assert shop_zone(None) == ZoneInfo("UTC")


def test_next_send_time_applies_the_cap_then_quiet_hours() -> None:
    # Last send 14:00 Tokyo; the cap frees 06:00 next day, which is quiet: 09:00.
    sent = datetime(2026, 11, 25, 14, 0, tzinfo=TOKYO).astimezone(UTC)
    due = datetime(2026, 11, 25, 15, 0, tzinfo=TOKYO).astimezone(UTC)
    assert next_send_time(due, [sent], TOKYO, DEFAULT_CART) == datetime(
        2026, 11, 26, 9, 0, tzinfo=TOKYO
    )


def test_next_send_time_is_due_when_nothing_holds_it() -> None:
    due = datetime(2026, 11, 25, 12, 0, tzinfo=TOKYO)
    assert next_send_time(due, [], TOKYO, DEFAULT_CART) == due


def test_holdout_is_deterministic_and_close_to_its_share() -> None:
    assert holdout_bucket(1, CART, 42) == holdout_bucket(1, CART, 42)
    held = sum(in_holdout(1, CART, customer, 10) for customer in range(5000))
    assert 400 < held < 600
    assert not any(in_holdout(1, CART, customer, 0) for customer in range(200))
    assert all(in_holdout(1, CART, customer, 100) for customer in range(200))


def test_holdout_differs_between_flows_and_shops() -> None:
    buckets = {(holdout_bucket(s, f, 7)) for s in (1, 2, 3) for f in (CART, WINBACK)}
    assert len(buckets) > 1
