"""What a flow's settings form edits (`FlowForm`, its `Number`s), the limits every form shares,
and the merchant's subject lines.

Layer: flows, the bottom (with `definition` and `rules`): data and pure functions over a settings
row; the flow modules declare their forms with these, `settings` validates and saves them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.models.flow import FlowSetting

STEPS = 3  # the cart flow has three email templates (templates/email/cart/step1..3)
LANGUAGES = ("ja", "en")
CAP_SHORT_HOURS = 16
CAP_WEEK_HOURS = 7 * 24
MAX_DELAY_HOURS = 30 * 24
MIN_DELAY_HOURS = 0.25
MAX_THANK_YOU_HOURS = 7 * 24
MAX_HOLDOUT = 50
MAX_CAP_SHORT = 10
MAX_CAP_WEEK = 50
MAX_DISCOUNT = 90
MAX_DISCOUNT_DAYS = 60
MAX_DISCOUNT_MIN_TOTAL = 10_000_000  # in the shop's currency (¥10M, or $10M)
MAX_SUBJECT = 150
DEFAULT_DISCOUNT_PERCENT = 10
DEFAULT_DISCOUNT_DAYS = 7
AUDIENCE_KEY = "audience_segment_id"


@dataclass(frozen=True)
class Number:
    """A flow-specific setting edited as a number, stored under its own name as the config key."""

    name: str
    low: float
    high: float
    default: float
    integer: bool = True
    unit: str = "days"  # flows.unit.*; "%" is shown as it is
    section: str = "steps"  # flows.section.*


@dataclass(frozen=True)
class FlowForm:
    """What the settings form of one flow edits: `steps` emails (one subject per step and
    language), the first `delays` of `step_delay_hours` (each later than the one before, the
    first at least `first_delay_low`), its own numbers, and the common fields."""

    key: str
    steps: int
    delays: int
    first_delay_low: float = MIN_DELAY_HOURS
    delay_high: float = MAX_DELAY_HOURS
    numbers: tuple[Number, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)


def subject_override(row: FlowSetting | None, lang: str, step: int) -> str | None:
    """The merchant's subject for `step` in `lang`, or None (the built-in one)."""
    subjects = (row.config or {}).get("subjects") if row is not None else None
    if not isinstance(subjects, dict) or not isinstance(subjects.get(lang), dict):
        return None
    value = subjects[lang].get(str(step))
    return str(value) if value else None
