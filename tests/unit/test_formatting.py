"""Admin presentation helpers: money per currency, dates in the shop's zone, durations, language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app import formatting
from app.formatting import (
    format_compact_money,
    format_date,
    format_datetime,
    format_duration,
    format_money,
    format_month,
    format_number,
    minor_units,
    parse_timestamp,
    zone,
)
from app.services.shop_status import missing_scopes, parse_scopes, sync_report


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (Decimal("12800"), "JPY", "ja", "¥12,800"),
        (Decimal("12800.0000"), "JPY", "en", "¥12,800"),
        (Decimal("1234.5"), "USD", "en", "$1,234.50"),
        (Decimal("1234.5"), "USD", "ja", "$1,234.50"),
        (Decimal("0"), "USD", "en", "$0.00"),
        (Decimal("999999999.999"), "USD", "en", "$1,000,000,000.00"),
        (Decimal("-5"), "USD", "en", "-$5.00"),
        (Decimal("-1500"), "JPY", "ja", "-¥1,500"),
        (Decimal("19.99"), "EUR", "en", "€19.99"),
        (Decimal("10.5"), "GBP", "en", "£10.50"),
        (Decimal("1.2345"), "KWD", "en", "KWD 1.235"),
        (Decimal("100"), "CAD", "en", "CA$100.00"),
        (Decimal("3"), "XYZ", "en", "XYZ 3.00"),
        ("42.1", "usd", "en", "$42.10"),
        (1000, "JPY", "en", "¥1,000"),
    ],
)
def test_format_money(amount: Decimal, currency: str, locale: str, expected: str) -> None:
    assert format_money(amount, currency, locale) == expected


def test_money_rounds_half_up_to_the_minor_unit() -> None:
    assert format_money(Decimal("1299.5"), "JPY", "ja") == "¥1,300"
    assert format_money(Decimal("1299.4999"), "JPY", "ja") == "¥1,299"
    assert format_money(Decimal("0.005"), "USD", "en") == "$0.01"
    assert format_money(Decimal("2.675"), "USD", "en") == "$2.68"  # Decimal, not float


def test_unknown_money_is_a_dash_not_zero() -> None:
    assert format_money(None, "USD", "en") == "—"
    assert format_money("not a number", "USD", "en") == "—"
    assert format_money(Decimal("NaN"), "USD", "en") == "—"


def test_minor_units() -> None:
    assert minor_units("JPY") == 0
    assert minor_units("jpy") == 0
    assert minor_units("USD") == 2
    assert minor_units("BHD") == 3
    assert minor_units("") == 2


def test_format_number() -> None:
    assert format_number(1234567) == "1,234,567"
    assert format_number(0, "ja") == "0"
    assert format_number(None) == "—"


def test_dates_are_shown_in_the_shops_timezone() -> None:
    # 2026-11-25 16:30 UTC is already the 26th in Tokyo (+09:00).
    moment = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
    assert format_date(moment, "Asia/Tokyo", "ja") == "2026年11月26日"
    assert format_date(moment, "Asia/Tokyo", "en") == "Nov 26, 2026"
    assert format_date(moment, "America/New_York", "en") == "Nov 25, 2026"
    assert format_datetime(moment, "Asia/Tokyo", "ja") == "2026年11月26日 01:30"
    assert format_datetime(moment, "America/New_York", "en") == "Nov 25, 2026 11:30"


def test_dates_follow_daylight_saving_time() -> None:
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    winter = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert format_datetime(summer, "America/New_York", "en").endswith("08:00")
    assert format_datetime(winter, "America/New_York", "en").endswith("07:00")


def test_unknown_timezone_falls_back_to_utc_and_none_is_a_dash() -> None:
    moment = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    assert format_datetime(moment, "Mars/Olympus_Mons", "en") == "Mar 1, 2026 23:59"
    assert format_datetime(moment, "", "en") == "Mar 1, 2026 23:59"
    assert zone("../../etc/passwd").key == "UTC"
    assert format_date(None, "Asia/Tokyo", "ja") == "—"
    assert format_datetime(None, "Asia/Tokyo", "en") == "—"


def test_other_offsets_are_converted_too() -> None:
    moment = datetime(2026, 5, 5, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    assert format_datetime(moment, "UTC", "en") == "May 5, 2026 00:00"


@pytest.mark.parametrize(
    ("seconds", "locale", "expected"),
    [
        (0, "en", "0s"),
        (12.7, "en", "12s"),
        (245, "en", "4m 05s"),
        (3723, "en", "1h 02m 03s"),
        (3723, "ja", "1時間2分3秒"),
        (65, "ja", "1分5秒"),
        (9, "ja", "9秒"),
        (-3, "en", "0s"),
        (None, "en", "—"),
    ],
)
def test_format_duration(seconds: float | None, locale: str, expected: str) -> None:
    assert format_duration(seconds, locale) == expected


def test_parse_timestamp() -> None:
    expected = datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC)
    assert parse_timestamp("2026-11-25T01:02:03+00:00") == expected
    assert parse_timestamp("2026-11-25T01:02:03Z") == expected
    assert parse_timestamp("2026-11-25T10:02:03+09:00") == expected
    assert parse_timestamp("2026-11-25T01:02:03") == expected  # naive: taken as UTC
    assert parse_timestamp(expected) == expected
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None
    assert parse_timestamp(12) is None


# Status page numbers (app/services/shop_status.py): pure functions of the shop's sync_state and
# scopes.


def test_missing_scopes_counts_write_as_read() -> None:
    granted = parse_scopes("write_customers, read_orders,read_products")
    assert granted == ["read_orders", "read_products", "write_customers"]
    wanted = parse_scopes("read_customers,read_orders,read_all_orders,write_discounts")
    assert missing_scopes(granted, wanted) == ["read_all_orders", "write_discounts"]
    assert parse_scopes(None) == []


def test_sync_report_of_a_running_sync() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    report = sync_report(
        {
            "status": "running",
            "stream": "orders",
            "done": {"customers": 120, "orders": 300, "bogus": "x"},
            "started_at": "2026-11-25T11:58:00+00:00",
            "finished_at": "2026-11-24T00:00:00+00:00",  # the previous run's
        },
        now,
    )
    assert report["status"] == "running"
    assert [s["name"] for s in report["streams"]] == ["customers", "orders"]
    assert report["done_total"] == 420
    assert report["percent"] is None  # unknown: the bar is indeterminate
    assert report["elapsed_seconds"] == 120
    assert report["finished_at"] is None
    assert report["records_per_second"] == 3.5  # 420 records in 120 s
    assert report["eta_seconds"] is None  # no estimated totals: no ETA


def test_sync_report_rate_and_eta_from_the_estimated_totals() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    state = {
        "status": "running",
        "done": {"customers": 300, "orders": 100},
        "totals": {"customers": 300, "orders": 900},
        "started_at": "2026-11-25T11:59:00+00:00",
    }
    report = sync_report(state, now)
    assert report["records_per_second"] == round(400 / 60, 1)
    assert report["eta_seconds"] == round(800 / (400 / 60))  # 800 left at 6.7 records/s
    finished = sync_report({**state, "status": "done"}, now)
    assert finished["records_per_second"] is None
    assert finished["eta_seconds"] is None


def test_sync_report_percentages() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with_totals = {"status": "running", "done": {"customers": 50}, "totals": {"customers": 200}}
    assert sync_report(with_totals, now)["percent"] == 25.0
    planned = {"status": "running", "streams": ["customers", "products", "orders", "checkouts"]}
    assert sync_report({**planned, "stream": "orders"}, now)["percent"] == 50.0
    assert sync_report({"status": "done", "done": {"orders": 3}}, now)["percent"] == 100.0
    assert sync_report({}, now) | {"streams": None} == {
        "status": "not_started",
        "stream": None,
        "streams": None,
        "done_total": 0,
        "percent": 0.0,
        "started_at": None,
        "finished_at": None,
        "elapsed_seconds": None,
        "records_per_second": None,
        "eta_seconds": None,
        "error": None,
        "notice": None,
    }
    failed = sync_report(
        {
            "status": "failed",
            "error": "Backfill failed: 401",
            "started_at": "2026-11-25T11:00:00+00:00",
            "finished_at": "2026-11-25T11:00:30+00:00",
        },
        now,
    )
    assert (failed["status"], failed["error"], failed["elapsed_seconds"]) == (
        "failed",
        "Backfill failed: 401",
        30,
    )
    assert sync_report({"status": "weird"}, now)["status"] == "not_started"


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (Decimal("1234.5"), "EUR", "ja", "€1,234.50"),
        (Decimal("1234.5"), "KRW", "en", "₩1,235"),  # no minor unit
        (Decimal("1.2345"), "BHD", "en", "BHD 1.235"),  # three
        (Decimal("5"), "CHF", "en", "CHF 5.00"),
        (Decimal("5"), "CNY", "ja", "元5.00"),
        (Decimal("5"), "CNY", "en", "CN¥5.00"),
    ],
)
def test_every_currency_has_its_cldr_digits_and_symbol(
    amount: Decimal, currency: str, locale: str, expected: str
) -> None:
    assert format_money(amount, currency, locale) == expected


def test_chart_labels() -> None:
    assert format_compact_money(1_234_567, "USD", "en") == "$1.2M"
    assert format_compact_money(1_234_567, "JPY", "ja") == "¥123.5万"
    assert format_month(2026, 11, "en") == "Nov 2026"
    assert format_month(2026, 11, "ja") == "2026年11月"


@pytest.mark.parametrize(
    ("given", "family", "language", "expected"),
    [
        ("Hanako", "Tanaka", "en", "Hanako Tanaka"),
        ("Hanako", "Tanaka", "ja", "Tanaka Hanako"),
        ("陽葵", "森", "ja", "森 陽葵"),
        ("陽葵", "森", "en", "森 陽葵"),  # written in kanji: family name first in any page
        ("ひまり", None, "en", "ひまり"),
        (None, "Tanaka", "en", "Tanaka"),
        ("  Hanako ", "", "ja-JP", "Hanako"),
    ],
)
def test_person_name_puts_the_family_name_first_in_japanese(
    given: str | None, family: str | None, language: str, expected: str
) -> None:
    assert formatting.person_name(given, family, language) == expected


def test_person_name_falls_back_when_there_is_no_name() -> None:
    assert formatting.person_name(None, " ", "ja", fallback="a@example.jp") == "a@example.jp"


@pytest.mark.parametrize(
    ("given", "family", "language", "expected"),
    [
        ("陽葵", "森", "ja", "森 陽葵"),  # full name, family first: greeted 森 陽葵 様
        (None, "森", "ja", "森"),  # family name alone with 様 is how Japanese stores write
        ("花子", None, "ja", "花子"),
        ("Hanako", "Tanaka", "en", "Hanako"),  # English greets the given name
        (None, "Tanaka", "en", ""),  # no "Hi Tanaka,": the greeting is left out
        ("陽葵", "森", "en", "森 陽葵"),
        (None, None, "ja", ""),
    ],
)
def test_greeting_name(given: str | None, family: str | None, language: str, expected: str) -> None:
    assert formatting.greeting_name(given, family, language) == expected


def test_currency_symbol() -> None:
    assert formatting.currency_symbol("JPY", "ja") == "¥"
    assert formatting.currency_symbol("USD", "en") == "$"
