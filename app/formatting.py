"""Display formatting: people's names, money per currency, dates in the shop's timezone.

Layer: web presentation (pure). Babel's CLDR data; money is `Decimal`, rounded only here; an
unknown zone falls back to UTC rather than failing the page. `person_name` and `greeting_name`
are the one rule for showing a customer's name (family name first in Japanese, 様 in greetings).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time
from babel.numbers import (
    format_compact_currency,
    format_currency,
    format_decimal,
    get_currency_precision,
    get_currency_symbol,
)
from babel.support import NullTranslations, Translations

from app.resources import TRANSLATIONS

# Where the symbol shoppers see differs from CLDR's: Japanese stores print the half-width yen
# sign (CLDR's ja symbol is the full-width ￥).
_SYMBOL_OVERRIDES = {("ja", "JPY"): ("￥", "¥")}


def _written_in_cjk(text: str) -> bool:
    """True when `text` holds kanji or kana: a name Japanese (or Chinese) writes family first."""
    for char in text:
        name = unicodedata.name(char, "")
        if name.startswith(("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA")):
            return True
    return False


def _family_first(given: str, family: str, language: str | None) -> bool:
    return language_of(language) == "ja" or _written_in_cjk(given + family)


def person_name(
    given: str | None, family: str | None, language: str | None = "en", *, fallback: str = ""
) -> str:
    """A person's full name as the page or email in `language` writes it.

    Japanese (and any name written in kanji or kana) puts the family name first: 森 陽葵;
    English keeps the given name first: Hanako Tanaka. Only the parts present are shown;
    `fallback` (an email address, say) when there are none.
    """
    given, family = (given or "").strip(), (family or "").strip()
    parts = (family, given) if _family_first(given, family, language) else (given, family)
    return " ".join(p for p in parts if p) or fallback


def greeting_name(given: str | None, family: str | None, language: str | None = "en") -> str:
    """The name a greeting addresses, before its honorific: in Japanese the full name, family
    name first (森 陽葵, greeted 森 陽葵 様 — a given name alone with 様 reads over-familiar);
    in English the given name (Hi Hanako), or the full name when it is written in kanji or
    kana. Empty when there is no name to address (English with a family name only)."""
    given, family = (given or "").strip(), (family or "").strip()
    if _family_first(given, family, language):
        return person_name(given, family, language)
    return given


@lru_cache(maxsize=64)
def _locale(locale: str | None) -> Locale:
    """`ja-JP` / `ja_JP` / `ja` → Babel's locale; English when unknown or empty."""
    try:
        return Locale.parse((locale or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse("en")


def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (CLDR; 2 when unknown)."""
    return int(get_currency_precision((currency or "").upper() or "XXX"))


def language_of(locale: str | None) -> str:
    """`ja-JP` → `ja`: the language part of a locale (English when unknown)."""
    return _locale(locale).language


def format_number(value: int | Decimal | None, locale: str = "en") -> str:
    """An integer with the locale's grouping: 12,800."""
    if value is None:
        return "—"
    return format_decimal(int(value), locale=_locale(locale))


def format_money(amount: Decimal | int | str | None, currency: str, locale: str = "en") -> str:
    """`Decimal("12800"), "JPY"` → `¥12,800`; `Decimal("1234.5"), "USD"` → `$1,234.50`.

    Rounds half-up to the currency's minor unit (Babel alone rounds half-even); negative amounts
    get a leading minus sign (`-$5.00`); a code-only symbol is spaced (`KWD 1.235`). `None`
    (unknown) shows as a dash, never as zero.
    """
    if amount is None:
        return "—"
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except InvalidOperation:
        return "—"
    if not value.is_finite():
        return "—"
    code = (currency or "").upper() or "XXX"
    rounded = value.quantize(Decimal(1).scaleb(-minor_units(code)), rounding=ROUND_HALF_UP)
    where = _locale(locale)
    text = format_currency(rounded, code, locale=where)
    override = _SYMBOL_OVERRIDES.get((where.language, code))
    if override is not None:
        text = text.replace(*override)
    # CLDR's currency spacing: an alphabetic symbol (an ISO code) is set apart from the digits.
    body = text.lstrip("-")
    if body.startswith(code) and body[len(code) : len(code) + 1].isdigit():
        text = text.replace(code, f"{code} ", 1)
    return text


def currency_symbol(currency: str, locale: str = "en") -> str:
    """The sign shoppers see for `currency`: ¥, $, €; the code when CLDR has none."""
    code = (currency or "").upper() or "XXX"
    where = _locale(locale)
    symbol = get_currency_symbol(code, locale=where)
    override = _SYMBOL_OVERRIDES.get((where.language, code))
    return symbol.replace(*override) if override is not None else symbol


def format_compact_money(value: float | Decimal, currency: str, locale: str = "en") -> str:
    """A chart axis label: `$1.2M`, `¥123.5万` (CLDR's short compact forms)."""
    code = (currency or "").upper() or "XXX"
    where = _locale(locale)
    text = format_compact_currency(value, code, locale=where, fraction_digits=1)
    override = _SYMBOL_OVERRIDES.get((where.language, code))
    return text.replace(*override) if override is not None else text


def format_month(year: int, month: int, locale: str = "en") -> str:
    """A calendar month: `Nov 2026` / `2026年11月`."""
    return format_skeleton("yMMM", datetime(year, month, 1, tzinfo=UTC), locale=_locale(locale))


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name`, or UTC when it is empty or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def to_local(value: datetime, timezone: str | None) -> datetime:
    if value.tzinfo is None:  # the database always hands out aware UTC; be safe anyway
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone(timezone))


def format_date(value: datetime | None, timezone: str | None, locale: str = "en") -> str:
    """The calendar date in the shop's zone: `Nov 25, 2026` / `2026年11月25日`."""
    if value is None:
        return "—"
    return format_skeleton("yMMMd", to_local(value, timezone), locale=_locale(locale))


def format_datetime(value: datetime | None, timezone: str | None, locale: str = "en") -> str:
    """Date and 24-hour time in the shop's zone: `Nov 25, 2026 09:05` / `2026年11月25日 09:05`."""
    if value is None:
        return "—"
    local = to_local(value, timezone)
    where = _locale(locale)
    day = format_skeleton("yMMMd", local, locale=where)
    return f"{day} {format_time(local, 'HH:mm', locale=where)}"


@lru_cache(maxsize=8)
def _catalogue(language: str) -> NullTranslations:
    """The compiled catalogue of `language` (English: the msgids themselves)."""
    return Translations.load(str(TRANSLATIONS), [language])


def format_duration(seconds: float | None, locale: str = "en") -> str:
    """An elapsed time: `1h 02m 03s`, `4m 05s`, `12s` / `1時間2分3秒`, in the catalogue's words
    for `locale` (no request needed: jobs and the CLI format durations too)."""
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    catalogue = _catalogue(language_of(locale))
    values = {"hours": hours, "minutes": minutes, "seconds": secs}
    if hours:
        pattern = catalogue.pgettext("duration", "%(hours)dh %(minutes)02dm %(seconds)02ds")
    elif minutes:
        pattern = catalogue.pgettext("duration", "%(minutes)dm %(seconds)02ds")
    else:
        pattern = catalogue.pgettext("duration", "%(seconds)ds")
    return str(pattern) % values


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
