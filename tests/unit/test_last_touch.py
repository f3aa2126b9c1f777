"""Last-touch attribution: the latest touch within the window wins; one message per order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.attribution import AttributionSettings, OrderPlaced, Touch, last_touches

T = datetime(2026, 11, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def test_the_latest_touch_before_the_order_wins() -> None:
    touches = [
        Touch(1, T, 10, "cart"),
        Touch(1, T + DAY, 11, "winback"),
        Touch(1, T + 3 * DAY, 12, "cart"),  # after the order: not a cause
        Touch(2, T, 20, "cart"),
    ]
    orders = [OrderPlaced(100, 1, T + 2 * DAY), OrderPlaced(200, 2, T + 6 * DAY)]
    credited = last_touches(orders, touches, timedelta(days=5))
    assert {order: touch.message_id for order, touch in credited.items()} == {100: 11}


def test_the_window_edge_counts_and_a_touch_at_the_order_time_counts() -> None:
    touches = [Touch(1, T, 10, "cart")]
    at_edge = OrderPlaced(1, 1, T + timedelta(days=5))
    past_edge = OrderPlaced(2, 1, T + timedelta(days=5, seconds=1))
    same_moment = OrderPlaced(3, 1, T)
    credited = last_touches([at_edge, past_edge, same_moment], touches, timedelta(days=5))
    assert sorted(credited) == [1, 3]


def test_customers_never_borrow_each_others_touches() -> None:
    assert last_touches([OrderPlaced(1, 2, T + DAY)], [Touch(1, T, 10, "cart")], DAY * 5) == {}


def test_settings_fall_back_to_last_click_within_five_days() -> None:
    assert AttributionSettings.from_json(None) == AttributionSettings("click", 5)
    assert AttributionSettings.from_json({"model": "bogus", "window_days": "x"}).model == "click"
    assert AttributionSettings.from_json({"window_days": 400}).window_days == 30
    assert AttributionSettings("click_or_open", 3).touch_events == ("click", "open")
    assert AttributionSettings("send", 3).touch_events == ()
    roundtrip = AttributionSettings("send", 7)
    assert AttributionSettings.from_json(roundtrip.to_json()) == roundtrip
