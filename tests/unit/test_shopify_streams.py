"""Shopify streams: specs, search windows, cursors that never pass the sync's start, progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.shopify import streams
from connectors.shopify.streams import (
    SAFETY_OVERLAP,
    STREAMS,
    STREAMS_BY_NAME,
    advance_cursor,
    count_variables,
    cursor_ceiling,
    finished_cursor,
    has_all_orders,
    parse_cursor,
    progress,
    search_filter,
    totals_from_counts,
)

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_every_stream_has_a_primary_key_cursor_and_page_size_within_shopify_limits() -> None:
    assert [s.name for s in STREAMS] == ["customers", "products", "orders", "checkouts"]
    for stream in STREAMS:
        assert stream.primary_key == "id"
        assert stream.cursor_field == "updated_at"
        assert 0 < stream.page_size <= 250
        assert "$query: String" in stream.document
    assert STREAMS_BY_NAME["checkouts"].sorted_by_cursor is False
    assert STREAMS_BY_NAME["orders"].bulk_children == {"LineItem": "lineItems"}


def test_search_filter_reads_from_the_cursor_and_floors_only_orders() -> None:
    customers, orders = STREAMS_BY_NAME["customers"], STREAMS_BY_NAME["orders"]
    assert search_filter(customers, None) is None
    assert search_filter(customers, START) == "updated_at:>='2026-11-25T12:00:00Z'"
    since = START - timedelta(days=60)
    assert search_filter(customers, None, orders_since=since) is None
    assert search_filter(orders, START, orders_since=since) == (
        "updated_at:>='2026-11-25T12:00:00Z' AND created_at:>='2026-09-26T12:00:00Z'"
    )


def test_cursor_never_passes_the_sync_start_minus_the_overlap() -> None:
    during_sync = START + timedelta(seconds=30)  # a record changed while the sync ran
    moved = advance_cursor(None, [START - timedelta(hours=1), during_sync], START)
    assert moved == cursor_ceiling(START) == START - SAFETY_OVERLAP
    assert moved is not None
    assert moved < during_sync  # so the next run reads that record again


def test_cursor_follows_the_newest_record_written_and_never_goes_back() -> None:
    old, newer = START - timedelta(days=2), START - timedelta(days=1)
    assert advance_cursor(None, [old, None, newer], START) == newer
    assert advance_cursor(newer, [old], START) == newer
    assert advance_cursor(None, [], START) is None
    later_sync_cursor = START + timedelta(hours=1)
    assert advance_cursor(later_sync_cursor, [newer], START) == later_sync_cursor


def test_a_finished_stream_moves_the_cursor_to_the_ceiling() -> None:
    assert finished_cursor(None, START) == START - SAFETY_OVERLAP
    assert finished_cursor(START - timedelta(days=3), START) == START - SAFETY_OVERLAP
    kept = START + timedelta(minutes=10)
    assert finished_cursor(kept, START) == kept


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-25T12:00:00+00:00", START),
        ("2026-11-25T21:00:00+09:00", START),
        ("2026-11-25T12:00:00", START),
        ("not a time", None),
        (None, None),
        (12, None),
    ],
)
def test_parse_cursor(value: object, expected: datetime | None) -> None:
    assert parse_cursor(value) == expected


def test_read_all_orders_scope() -> None:
    assert has_all_orders("read_orders,read_all_orders")
    assert not has_all_orders("read_customers, read_orders")
    assert has_all_orders("")  # unknown (a custom app): Shopify enforces what it grants
    assert has_all_orders(None)


def test_totals_from_counts() -> None:
    data = {
        "customersCount": {"count": 40, "precision": "EXACT"},
        "ordersCount": {"count": 12, "precision": "EXACT"},
        "productsCount": None,
        "abandonedCheckoutsCount": {"count": "x"},
    }
    assert totals_from_counts(data, ["customers", "orders", "products", "checkouts"]) == {
        "customers": 40,
        "orders": 12,
    }
    assert count_variables({"customers": "a", "checkouts": None}) == {
        "customers": "a",
        "checkouts": None,
    }


def test_progress_rate_and_eta() -> None:
    assert progress(0, 100, 10.0) == (None, None)
    assert progress(50, None, 10.0) == (5.0, None)
    assert progress(50, 100, 10.0) == (5.0, 10.0)
    assert progress(120, 100, 10.0) == (12.0, 0.0)
    assert streams.format_time(START) == "2026-11-25T12:00:00Z"
