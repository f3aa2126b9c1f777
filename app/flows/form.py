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
# The coupon step any flow may turn on (`coupons.py` creates the code when the step is sent).
COUPON_KINDS = ("percentage", "fixed")
MAX_COUPON_FIXED = MAX_DISCOUNT_MIN_TOTAL


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
class Choice:
    """A flow-specific setting chosen from `options` (flows.option.<name>.<option>), stored
    under its own name as the config key."""

    name: str
    options: tuple[str, ...]
    default: str
    section: str = "steps"


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
    options: tuple[Choice, ...] = ()  # its own settings chosen from a list
    # Whether a shop that never saved the form runs the flow (the welcome series and the
    # birthday flow wait for the merchant to turn them on).
    enabled_by_default: bool = True
    # The coupon step (`coupon_step` 0 = none, kind, value, validity); the cart flow has its
    # own discount step instead.
    coupon: bool = True

    @property
    def all_numbers(self) -> tuple[Number, ...]:
        """The flow's numbers, then the coupon step's when the form has one."""
        if not self.coupon:
            return self.numbers
        return (
            *self.numbers,
            Number("coupon_step", 0, self.steps, 0, unit="step", section="coupon"),
            Number("coupon_value", 0, MAX_COUPON_FIXED, 10, integer=False, unit="coupon",
                   section="coupon"),
            Number("coupon_days", 1, MAX_DISCOUNT_DAYS, DEFAULT_DISCOUNT_DAYS, section="coupon"),
        )  # fmt: skip

    @property
    def choices(self) -> tuple[Choice, ...]:
        """The flow's own choices, then the coupon's kind when the form has a coupon step."""
        if not self.coupon:
            return self.options
        return (*self.options, Choice("coupon_kind", COUPON_KINDS, COUPON_KINDS[0], "coupon"))


def subject_override(row: FlowSetting | None, lang: str, step: int) -> str | None:
    """The merchant's subject for `step` in `lang`, or None (the built-in one)."""
    subjects = (row.config or {}).get("subjects") if row is not None else None
    if not isinstance(subjects, dict) or not isinstance(subjects.get(lang), dict):
        return None
    value = subjects[lang].get(str(step))
    return str(value) if value else None
