"""Display formatting for the admin: money per currency, dates in the shop's timezone, durations.

Layer: web presentation helpers (pure functions, no Flask, no I/O). Money arrives as `Decimal`
and is rounded half-up to the currency's minor unit (JPY none, USD two, KWD three) only here,
at the edge. Times arrive timezone-aware UTC and are shown in the shop's IANA zone; an unknown
zone falls back to UTC rather than failing the page. Only the admin's languages (en, ja).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# ISO 4217 minor units where they differ from 2.
_MINOR_UNITS = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0,
    "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0,
    "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip

# Symbols as CLDR shows them in English; Japanese uses the same except for the local-only ones.
_SYMBOLS = {
    "USD": "$", "JPY": "¥", "EUR": "€", "GBP": "£", "CNY": "CN¥", "KRW": "₩", "INR": "₹",
    "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "HKD": "HK$", "TWD": "NT$",
    "ILS": "₪", "VND": "₫", "MXN": "MX$", "BRL": "R$", "PHP": "₱",
}  # fmt: skip
_SYMBOLS_JA = {"CNY": "元"}


def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (ISO 4217; 2 when unknown)."""
    return _MINOR_UNITS.get((currency or "").upper(), 2)


def currency_symbol(currency: str, locale: str = "en") -> str:
    code = (currency or "").upper()
    if language_of(locale) == "ja" and code in _SYMBOLS_JA:
        return _SYMBOLS_JA[code]
    return _SYMBOLS.get(code, f"{code} " if code else "")


def language_of(locale: str | None) -> str:
    """`ja-JP` → `ja`; anything else than Japanese is shown in English."""
    return "ja" if (locale or "").lower().replace("_", "-").split("-")[0] == "ja" else "en"


def format_number(value: int | Decimal | None, locale: str = "en") -> str:
    """An integer with thousands separators: 12,800 (the same in English and Japanese)."""
    if value is None:
        return "—"
    return f"{int(value):,}"


def format_money(amount: Decimal | int | str | None, currency: str, locale: str = "en") -> str:
    """`Decimal("12800"), "JPY"` → `¥12,800`; `Decimal("1234.5"), "USD"` → `$1,234.50`.

    Rounds half-up to the currency's minor unit; negative amounts get a leading minus sign
    (`-$5.00`). `None` (unknown) shows as a dash, never as zero.
    """
    if amount is None:
        return "—"
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except InvalidOperation:
        return "—"
    if not value.is_finite():
        return "—"
    digits = minor_units(currency)
    quantum = Decimal(1).scaleb(-digits)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    body = f"{abs(rounded):,.{digits}f}"
    return f"{sign}{currency_symbol(currency, locale)}{body}"


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name`, or UTC when it is empty or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def to_local(value: datetime, timezone: str | None) -> datetime:
    if value.tzinfo is None:  # the database always hands out aware UTC; be safe anyway
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone(timezone))


def format_date(value: datetime | None, timezone: str | None, locale: str = "en") -> str:
    """The calendar date in the shop's zone: `Nov 25, 2026` / `2026年11月25日`."""
    if value is None:
        return "—"
    local = to_local(value, timezone)
    if language_of(locale) == "ja":
        return f"{local.year}年{local.month}月{local.day}日"
    return f"{_MONTHS_EN[local.month - 1]} {local.day}, {local.year}"


def format_datetime(value: datetime | None, timezone: str | None, locale: str = "en") -> str:
    """Date and 24-hour time in the shop's zone: `Nov 25, 2026 09:05` / `2026年11月25日 09:05`."""
    if value is None:
        return "—"
    local = to_local(value, timezone)
    return f"{format_date(local, timezone, locale)} {local:%H:%M}"


def format_duration(seconds: float | None, locale: str = "en") -> str:
    """An elapsed time: `1h 02m 03s`, `4m 05s`, `12s` / `1時間2分3秒`."""
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if language_of(locale) == "ja":
        parts = [f"{hours}時間" if hours else "", f"{minutes}分" if hours or minutes else ""]
        return "".join(parts) + f"{secs}秒"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def parse_timestamp(value: object) -> datetime | None:
    """A timestamp from JSON state (ISO 8601 or datetime) as aware UTC; None if absent/bad."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
