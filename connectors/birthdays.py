"""Birthdays as the platforms and the storefront write them: `YYYY-MM-DD` (Shopify's
`facts.birth_date` metafield, WooCommerce plugins), `YYYY/MM/DD`, `YYYYMMDD`, or a month and day
alone (`MM-DD`, `--MM-DD`, `MM/DD`).

Layer: connectors (pure parsing, no I/O). A value that is no real calendar date is None, never a
guess; 29 February is accepted with a leap year or without a year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

# The WooCommerce customer meta keys birthday plugins use, in the order they are read.
WOOCOMMERCE_META_KEYS = (
    "birthday",
    "billing_birth_date",
    "billing_birthday",
    "birth_date",
    "date_of_birth",
    "dob",
)

_FULL = re.compile(r"^\s*(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})\s*$")
_MONTH_DAY = re.compile(r"^\s*(?:--)?(\d{1,2})[-/.](\d{1,2})\s*$")
EARLIEST_YEAR = 1900


@dataclass(frozen=True)
class Birthday:
    month: int
    day: int
    year: int | None = None

    def iso(self) -> str:
        """`YYYY-MM-DD`, or `--MM-DD` without a year."""
        if self.year is None:
            return f"--{self.month:02d}-{self.day:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def _valid(year: int | None, month: int, day: int, today: date | None) -> Birthday | None:
    try:
        date(year if year is not None else 2000, month, day)  # 2000: a leap year
    except ValueError:
        return None
    if year is not None:
        latest = (today or datetime.now(UTC).date()).year
        if not EARLIEST_YEAR <= year <= latest:
            return None
    return Birthday(month, day, year)


def parse_birthday(value: object, today: date | None = None) -> Birthday | None:
    """The birthday written in `value`, or None (missing, malformed, not a real date, a year
    before 1900 or in the future)."""
    if isinstance(value, date):
        return _valid(value.year, value.month, value.day, today)
    if not isinstance(value, str) or len(value) > 32:
        return None
    text = value.strip()
    if "T" in text:  # a timestamp: its date part
        text = text.split("T", 1)[0]
    found = _FULL.match(text)
    if found is not None:
        year, month, day = (int(part) for part in found.groups())
        return _valid(year, month, day, today)
    found = _MONTH_DAY.match(text)
    if found is not None:
        month, day = (int(part) for part in found.groups())
        return _valid(None, month, day, today)
    return None
