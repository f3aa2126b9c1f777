"""The local hour of each shop's daily jobs (scoring, win-back scan): defaults, reading, saving.

Layer: services. `Shop.daily_hours` holds only the hours a merchant changed; the scheduler reads
`hours_for` and the shop's IANA time zone. `save_daily_hours` validates every value (an integer
hour 0-23 for a known job) and returns field errors without writing anything; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.models import Shop

SCORING, WINBACK_SCAN = "scoring", "winback-scan"
# 04:00 scores before the merchant's day starts; 10:00 starts win-back runs in business hours.
DEFAULT_HOURS: dict[str, int] = {SCORING: 4, WINBACK_SCAN: 10}


def hours_for(stored: Mapping[str, Any] | None) -> dict[str, int]:
    """Every daily job's local hour: the stored value when valid, else the default."""
    hours = dict(DEFAULT_HOURS)
    for name, value in (stored or {}).items():
        if name in hours and isinstance(value, int) and 0 <= value <= 23:
            hours[name] = value
    return hours


def daily_hour_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """Field errors of a change to the daily hours (empty when every value is acceptable)."""
    errors: dict[str, str] = {}
    for name, value in values.items():
        if name not in DEFAULT_HOURS:
            errors[name] = f"unknown daily job; known: {', '.join(DEFAULT_HOURS)}"
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 23:
            errors[name] = "must be a whole hour from 0 to 23 (the shop's local time)"
    return errors


def save_daily_hours(shop: Shop, values: Mapping[str, Any]) -> dict[str, str]:
    """Apply `values` to the shop's daily hours unless one is invalid; → field errors."""
    errors = daily_hour_errors(values)
    if not errors:
        shop.daily_hours = {**(shop.daily_hours or {}), **{k: int(v) for k, v in values.items()}}
    return errors
