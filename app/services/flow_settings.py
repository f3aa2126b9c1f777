"""A flow's settings form: the current values, validation with field errors, and saving.

Layer: services, inside the caller's transaction (the admin view commits). Saved values go to
`flow_settings.config` in exactly the keys the flow reads: `FlowConfig.from_overrides`
(`step_delay_hours`, `holdout_percent`, `caps` [[limit, hours]..], `quiet_hours` ["HH:MM",
"HH:MM"] or null) and `jobs.send_email.discount_for_step` (`discount_percent`, `discount_days`);
subject lines are kept under `subjects` {"ja"|"en": {"1": ..}} (blank = the built-in subject);
the audience under `audience_segment_id` (a saved segment of the same shop, or null for everyone;
a form without the field keeps the saved audience). Other keys already in the row are kept.
Invalid input saves nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.orchestration import CART, FlowConfig
from app.models.flow import FlowSetting
from app.models.segment import SavedSegment

STEPS = 3  # the cart flow has three email templates (templates/email/cart/step1..3)
LANGUAGES = ("ja", "en")
CAP_SHORT_HOURS = 16
CAP_WEEK_HOURS = 7 * 24
MAX_DELAY_HOURS = 30 * 24
MIN_DELAY_HOURS = 0.25
MAX_HOLDOUT = 50
MAX_CAP_SHORT = 10
MAX_CAP_WEEK = 50
MAX_DISCOUNT = 90
MAX_DISCOUNT_DAYS = 60
MAX_SUBJECT = 150
DEFAULT_DISCOUNT_PERCENT = 10
DEFAULT_DISCOUNT_DAYS = 7
FLOW_KEYS = (CART,)
AUDIENCE_KEY = "audience_segment_id"
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class FieldError:
    """An i18n key (`flows.error.*`) and its values, shown next to the field."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Validated:
    enabled: bool
    config: dict[str, Any]
    errors: dict[str, FieldError]

    @property
    def ok(self) -> bool:
        return not self.errors


def load(session: Session, shop_id: int, flow_key: str) -> FlowSetting | None:
    return session.scalars(
        select(FlowSetting).where(FlowSetting.shop_id == shop_id, FlowSetting.flow_key == flow_key)
    ).one_or_none()


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g}"


def form_values(row: FlowSetting | None) -> dict[str, str]:
    """The form's fields from the saved row, defaults filled in (all strings, as posted)."""
    raw: Mapping[str, Any] = (row.config if row is not None else None) or {}
    config = FlowConfig.from_overrides(raw)
    values: dict[str, str] = {"enabled": "1" if row is None or row.enabled else ""}
    for step in range(1, STEPS + 1):
        delay = config.step_delays[step - 1] if step <= config.steps else timedelta(0)
        values[f"delay_{step}"] = _hours(delay)
    values["holdout_percent"] = str(config.holdout_percent)
    caps = {round(cap.window.total_seconds() / 3600): cap.limit for cap in config.caps}
    values["cap_short"] = str(caps.get(CAP_SHORT_HOURS, 0))
    values["cap_week"] = str(caps.get(CAP_WEEK_HOURS, 0))
    quiet_on = config.quiet_start != config.quiet_end
    values["quiet_enabled"] = "1" if quiet_on else ""
    values["quiet_start"] = config.quiet_start.strftime("%H:%M") if quiet_on else "21:00"
    values["quiet_end"] = config.quiet_end.strftime("%H:%M") if quiet_on else "09:00"
    values["discount_percent"] = str(raw.get("discount_percent", DEFAULT_DISCOUNT_PERCENT))
    values["discount_days"] = str(raw.get("discount_days", DEFAULT_DISCOUNT_DAYS))
    subjects = raw.get("subjects")
    if not isinstance(subjects, dict):
        subjects = {}
    for lang in LANGUAGES:
        given = subjects.get(lang)
        if not isinstance(given, dict):
            given = {}
        for step in range(1, STEPS + 1):
            values[f"subject_{lang}_{step}"] = str(given.get(str(step)) or "")
    audience = raw.get(AUDIENCE_KEY)
    values["audience_segment_id"] = str(audience) if audience is not None else ""
    return values


def shop_segment_ids(session: Session, shop_id: int) -> set[int]:
    """Ids of the shop's saved segments: the audiences a flow may use."""
    return set(session.scalars(select(SavedSegment.id).where(SavedSegment.shop_id == shop_id)))


def _number(
    form: Mapping[str, str],
    name: str,
    errors: dict[str, FieldError],
    low: float,
    high: float,
    *,
    integer: bool = True,
) -> float | None:
    text = (form.get(name) or "").strip()
    if not text:
        errors[name] = FieldError("flows.error.required")
        return None
    try:
        value = float(text) if not integer else float(int(text))
    except ValueError:
        errors[name] = FieldError("flows.error.integer" if integer else "flows.error.number")
        return None
    if not math.isfinite(value) or not low <= value <= high:
        errors[name] = FieldError("flows.error.range", {"low": f"{low:g}", "high": f"{high:g}"})
        return None
    return value


def _audience(
    form: Mapping[str, str],
    existing: Mapping[str, Any],
    segment_ids: set[int],
    errors: dict[str, FieldError],
) -> int | None:
    if AUDIENCE_KEY not in form:
        kept = existing.get(AUDIENCE_KEY)
        return kept if isinstance(kept, int) else None
    text = (form.get(AUDIENCE_KEY) or "").strip()
    if not text:
        return None
    chosen = int(text) if text.isascii() and text.isdigit() and len(text) < 11 else None
    # The saved value is kept even when its segment was deleted (the flow then reaches nobody).
    if chosen is None or (chosen not in segment_ids and chosen != existing.get(AUDIENCE_KEY)):
        errors[AUDIENCE_KEY] = FieldError("flows.error.audience")
        return None
    return chosen


def validate(
    form: Mapping[str, str],
    existing: Mapping[str, Any] | None = None,
    segment_ids: set[int] | None = None,
) -> Validated:
    """The posted form → (enabled, the new config JSON, field errors).

    `segment_ids` are the shop's saved segments, the only audiences accepted.
    """
    errors: dict[str, FieldError] = {}
    config: dict[str, Any] = dict(existing or {})
    delays: list[float] = []
    for step in range(1, STEPS + 1):
        name = f"delay_{step}"
        value = _number(form, name, errors, MIN_DELAY_HOURS, MAX_DELAY_HOURS, integer=False)
        if value is not None:
            if delays and value <= delays[-1] and f"delay_{step - 1}" not in errors:
                errors[name] = FieldError("flows.error.delay_order", {"step": step - 1})
            delays.append(value)
    holdout = _number(form, "holdout_percent", errors, 0, MAX_HOLDOUT)
    cap_short = _number(form, "cap_short", errors, 0, MAX_CAP_SHORT)
    cap_week = _number(form, "cap_week", errors, 0, MAX_CAP_WEEK)
    if cap_short is not None and cap_week is not None and 0 < cap_week < cap_short:
        errors["cap_week"] = FieldError("flows.error.cap_order")
    percent = _number(form, "discount_percent", errors, 0, MAX_DISCOUNT)
    days = _number(form, "discount_days", errors, 1, MAX_DISCOUNT_DAYS)
    quiet: list[str] | None = None
    if form.get("quiet_enabled"):
        times: list[str] = []
        for name in ("quiet_start", "quiet_end"):
            text = (form.get(name) or "").strip()
            if not _TIME.match(text):
                errors[name] = FieldError("flows.error.time")
            times.append(text)
        if "quiet_start" not in errors and "quiet_end" not in errors:
            if times[0] == times[1]:
                errors["quiet_end"] = FieldError("flows.error.quiet_same")
            quiet = times
    subjects: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        for step in range(1, STEPS + 1):
            name = f"subject_{lang}_{step}"
            text = " ".join((form.get(name) or "").split())
            if len(text) > MAX_SUBJECT:
                errors[name] = FieldError("flows.error.too_long", {"max": MAX_SUBJECT})
            elif text:
                subjects.setdefault(lang, {})[str(step)] = text
    audience = _audience(form, existing or {}, segment_ids or set(), errors)
    if not errors:
        if audience is None:
            config.pop(AUDIENCE_KEY, None)  # no key: everyone
        else:
            config[AUDIENCE_KEY] = audience
        config.update(
            step_delay_hours=[float(f"{d:g}") for d in delays],
            holdout_percent=int(holdout or 0),
            caps=[[int(cap_short or 0), CAP_SHORT_HOURS], [int(cap_week or 0), CAP_WEEK_HOURS]],
            quiet_hours=quiet,
            discount_percent=int(percent or 0),
            discount_days=int(days or DEFAULT_DISCOUNT_DAYS),
            subjects=subjects,
        )
        FlowConfig.from_overrides(config)  # the flow must be able to read what is saved
    return Validated(enabled=bool(form.get("enabled")), config=config, errors=errors)


def save(session: Session, shop_id: int, flow_key: str, form: Mapping[str, str]) -> Validated:
    """Validate and, when valid, write the shop's row (created if missing); does not commit."""
    row = load(session, shop_id, flow_key)
    segment_ids = shop_segment_ids(session, shop_id)
    result = validate(form, row.config if row is not None else None, segment_ids)
    if not result.ok:
        return result
    if row is None:
        row = FlowSetting(shop_id=shop_id, flow_key=flow_key)
        session.add(row)
    row.enabled = result.enabled
    row.config = result.config
    row.updated_at = utcnow()
    return result


def subject_override(row: FlowSetting | None, lang: str, step: int) -> str | None:
    """The merchant's subject for `step` in `lang`, or None (the built-in one)."""
    subjects = (row.config or {}).get("subjects") if row is not None else None
    if not isinstance(subjects, dict) or not isinstance(subjects.get(lang), dict):
        return None
    value = subjects[lang].get(str(step))
    return str(value) if value else None
