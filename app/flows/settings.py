"""Each flow's settings form: current values, validation with field errors, saving (the form's
parts and limits are `form`'s, named here too for the admin and API views).

Layer: flows, above the registry (it reads every flow's form from it), inside the caller's
transaction (the admin view commits). Values go to
`flow_settings.config` in exactly the keys the flows read; other keys in the row are kept, and
invalid input saves nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, overload

from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.orchestration import CART, FlowConfig
from app.flows import registry
from app.flows.form import (
    AUDIENCE_KEY,
    CAP_SHORT_HOURS,
    CAP_WEEK_HOURS,
    LANGUAGES,
    MAX_CAP_SHORT,
    MAX_CAP_WEEK,
    MAX_COUPON_FIXED,
    MAX_DISCOUNT,
    MAX_HOLDOUT,
    MAX_SUBJECT,
    FlowForm,
)

# Named here as well for the admin and API views and the flow modules that found them here.
from app.flows.form import MAX_THANK_YOU_HOURS as MAX_THANK_YOU_HOURS
from app.flows.form import Number as Number
from app.flows.form import subject_override as subject_override
from app.models.flow import FlowSetting
from app.models.segment import SavedSegment

# A delay is edited as an amount and a unit, chosen per field; stored in hours.
HOURS_PER_UNIT: Mapping[str, float] = {"minutes": 1 / 60, "hours": 1.0, "days": 24.0}
DEFAULT_UNIT = "hours"  # a form without the unit field (the API, old clients) posts hours
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _RegisteredForms(Mapping[str, FlowForm]):
    """Flow key → its settings form: each flow's `form` in the registry, in the registry's order
    (the order of the flows page and of the API)."""

    def __getitem__(self, key: str) -> FlowForm:
        return registry.get(key).form

    def __iter__(self) -> Iterator[str]:
        return iter(registry.keys())

    def __len__(self) -> int:
        return len(registry.keys())


FORMS: Mapping[str, FlowForm] = _RegisteredForms()


class _RegisteredKeys(Sequence[str]):
    """Every flow key, in the registry's order."""

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return registry.keys()[index]

    def __len__(self) -> int:
        return len(registry.keys())


FLOW_KEYS: Sequence[str] = _RegisteredKeys()


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


def natural_span(hours: float) -> tuple[float, str]:
    """`hours` as the largest whole unit that expresses it: 0.25 → (15, minutes), 24 → (1, days),
    72 → (3, days), 1 → (1, hours); a fraction no unit expresses stays in hours."""
    minutes = round(hours * 60, 2)  # hours are stored to 6 digits: 7 minutes is 0.116667
    if hours >= 24 and minutes % (24 * 60) == 0:
        return minutes / (24 * 60), "days"
    if minutes % 60 == 0:
        return minutes / 60, "hours"
    if minutes == int(minutes):
        return minutes, "minutes"
    return hours, "hours"


def span_text(hours: float) -> str:
    """A delay as a merchant says it: "15 minutes", "1 hour", "3 days" (in the locale in force)."""
    amount, unit = natural_span(hours)
    shown = f"{amount:g}"
    count = int(amount) if amount == int(amount) else 2  # a fraction takes the plural
    if unit == "minutes":
        return ngettext("%(amount)s minute", "%(amount)s minutes", count, amount=shown)
    if unit == "days":
        return ngettext("%(amount)s day", "%(amount)s days", count, amount=shown)
    return ngettext("%(amount)s hour", "%(amount)s hours", count, amount=shown)


def _delay_fields(values: dict[str, str], name: str, hours: float) -> None:
    amount, unit = natural_span(hours)
    values[name], values[f"{name}_unit"] = f"{amount:g}", unit


def is_enabled(row: FlowSetting | None, flow_key: str) -> bool:
    """Whether the flow runs: its saved switch, else its form's default."""
    return row.enabled if row is not None else FORMS[flow_key].enabled_by_default


def saved_config(row: FlowSetting | None, flow_key: str) -> dict[str, Any]:
    """The config the flow runs on: the row's keys over the defaults its first use writes."""
    raw = (row.config if row is not None else None) or {}
    return {**FORMS[flow_key].defaults, **raw}


def form_values(row: FlowSetting | None, flow_key: str = CART) -> dict[str, str]:
    """The form's fields from the saved row, defaults filled in (all strings, as posted)."""
    spec = FORMS[flow_key]
    raw = saved_config(row, flow_key)
    config = FlowConfig.from_overrides(raw)
    values: dict[str, str] = {"enabled": "1" if is_enabled(row, flow_key) else ""}
    for step in range(1, spec.delays + 1):
        delay = config.step_delays[step - 1] if step <= config.steps else timedelta(0)
        _delay_fields(values, f"delay_{step}", delay.total_seconds() / 3600)
    for number in spec.all_numbers:
        given = raw.get(number.name, number.default)
        values[number.name] = f"{float(given):g}" if isinstance(given, int | float) else str(given)
    for choice in spec.choices:
        given = raw.get(choice.name)
        values[choice.name] = given if given in choice.options else choice.default
    values["holdout_percent"] = str(config.holdout_percent)
    caps = {round(cap.window.total_seconds() / 3600): cap.limit for cap in config.caps}
    values["cap_short"] = str(caps.get(CAP_SHORT_HOURS, 0))
    values["cap_week"] = str(caps.get(CAP_WEEK_HOURS, 0))
    quiet_on = config.quiet_start != config.quiet_end
    values["quiet_enabled"] = "1" if quiet_on else ""
    values["quiet_start"] = config.quiet_start.strftime("%H:%M") if quiet_on else "21:00"
    values["quiet_end"] = config.quiet_end.strftime("%H:%M") if quiet_on else "09:00"
    subjects = raw.get("subjects")
    if not isinstance(subjects, dict):
        subjects = {}
    for lang in LANGUAGES:
        given_subjects = subjects.get(lang)
        if not isinstance(given_subjects, dict):
            given_subjects = {}
        for step in range(1, spec.steps + 1):
            values[f"subject_{lang}_{step}"] = str(given_subjects.get(str(step)) or "")
    audience = raw.get(AUDIENCE_KEY)
    values["audience_segment_id"] = str(audience) if audience is not None else ""
    return values


def delay_texts(values: Mapping[str, str]) -> dict[str, str]:
    """`d1`, `d2`, … → each delay of `form_values` as a merchant says it ("1 hour", "3 days")."""
    texts: dict[str, str] = {}
    step = 1
    while f"delay_{step}" in values:
        amount = float(values[f"delay_{step}"])
        factor = HOURS_PER_UNIT.get(values.get(f"delay_{step}_unit", DEFAULT_UNIT), 1.0)
        texts[f"d{step}"] = span_text(amount * factor)
        step += 1
    return texts


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


def _delay_hours(
    form: Mapping[str, str], name: str, errors: dict[str, FieldError], low: float, high: float
) -> float | None:
    """A delay posted as `<name>` in `<name>_unit` (minutes, hours or days) → hours."""
    unit = (form.get(f"{name}_unit") or DEFAULT_UNIT).strip()
    if unit not in HOURS_PER_UNIT:
        errors[name] = FieldError("flows.error.unit")
        return None
    factor = HOURS_PER_UNIT[unit]
    amount = _number(form, name, errors, 0, high / factor, integer=False)
    if amount is None:
        if errors[name].key == "flows.error.range":  # say the range in natural units
            errors[name] = _span_error(low, high)
        return None
    hours = round(amount * factor, 6)
    if not low <= hours <= high:
        errors[name] = _span_error(low, high)
        return None
    return hours


def _span_error(low: float, high: float) -> FieldError:
    return FieldError("flows.error.range", {"low": span_text(low), "high": span_text(high)})


def _delays(form: Mapping[str, str], spec: FlowForm, errors: dict[str, FieldError]) -> list[float]:
    delays: list[float] = []
    for step in range(1, spec.delays + 1):
        name = f"delay_{step}"
        low = spec.first_delay_low if step == 1 else 0
        value = _delay_hours(form, name, errors, low, spec.delay_high)
        if value is not None:
            if delays and value <= delays[-1] and f"delay_{step - 1}" not in errors:
                errors[name] = FieldError("flows.error.delay_order", {"step": step - 1})
            delays.append(value)
    return delays


def _stored(value: float, integer: bool) -> int | float:
    return int(value) if integer else float(f"{value:g}")


def validate(
    form: Mapping[str, str],
    existing: Mapping[str, Any] | None = None,
    segment_ids: set[int] | None = None,
    flow_key: str = CART,
) -> Validated:
    """The posted form of `flow_key` → (enabled, the new config JSON, field errors).

    `existing` is the saved config (None: no row yet, the flow's defaults are the base); keys
    the form does not edit are kept. `segment_ids` are the shop's saved segments, the only
    audiences accepted.
    """
    spec = FORMS[flow_key]
    errors: dict[str, FieldError] = {}
    base: dict[str, Any] = {**spec.defaults, **(existing or {})}
    config = dict(base)
    delays = _delays(form, spec, errors)
    numbers: dict[str, int | float | str] = {}
    for number in spec.all_numbers:
        if number.section == "coupon" and number.name not in form:
            continue  # a client that does not edit the coupon step keeps it as saved
        value = _number(form, number.name, errors, number.low, number.high, integer=number.integer)
        if value is not None:
            numbers[number.name] = _stored(value, number.integer)
    for choice in spec.choices:
        if choice.name not in form:
            continue
        picked = (form.get(choice.name) or "").strip()
        if picked not in choice.options:
            errors[choice.name] = FieldError("flows.error.choice")
        else:
            numbers[choice.name] = picked
    _check_coupon({**base, **numbers}, errors)
    holdout = _number(form, "holdout_percent", errors, 0, MAX_HOLDOUT)
    cap_short = _number(form, "cap_short", errors, 0, MAX_CAP_SHORT)
    cap_week = _number(form, "cap_week", errors, 0, MAX_CAP_WEEK)
    if cap_short is not None and cap_week is not None and 0 < cap_week < cap_short:
        errors["cap_week"] = FieldError("flows.error.cap_order")
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
        for step in range(1, spec.steps + 1):
            name = f"subject_{lang}_{step}"
            text = " ".join((form.get(name) or "").split())
            if len(text) > MAX_SUBJECT:
                errors[name] = FieldError("flows.error.too_long", {"max": MAX_SUBJECT})
            elif text:
                subjects.setdefault(lang, {})[str(step)] = text
    audience = _audience(form, base, segment_ids or set(), errors)
    if not errors:
        if audience is None:
            config.pop(AUDIENCE_KEY, None)  # no key: everyone
        else:
            config[AUDIENCE_KEY] = audience
        if spec.delays:
            # Steps beyond the edited ones (none today) keep their saved delays.
            kept = list(base.get("step_delay_hours") or ())[spec.delays :]
            config["step_delay_hours"] = [float(f"{d:g}") for d in delays] + kept
        config.update(numbers)
        config.update(
            holdout_percent=int(holdout or 0),
            caps=[[int(cap_short or 0), CAP_SHORT_HOURS], [int(cap_week or 0), CAP_WEEK_HOURS]],
            quiet_hours=quiet,
            subjects=subjects,
        )
        FlowConfig.from_overrides(config)  # the flow must be able to read what is saved
    return Validated(enabled=bool(form.get("enabled")), config=config, errors=errors)


def _check_coupon(values: Mapping[str, Any], errors: dict[str, FieldError]) -> None:
    """A coupon step needs a value above 0, and a percentage at most `MAX_DISCOUNT`."""
    step, value = values.get("coupon_step"), values.get("coupon_value")
    if not step or not isinstance(value, int | float) or "coupon_value" in errors:
        return
    high = MAX_DISCOUNT if values.get("coupon_kind") == "percentage" else MAX_COUPON_FIXED
    if not 0 < value <= high:
        errors["coupon_value"] = FieldError("flows.error.range", {"low": "0", "high": f"{high:g}"})


def save(session: Session, shop_id: int, flow_key: str, form: Mapping[str, str]) -> Validated:
    """Validate and, when valid, write the shop's row (created if missing, on the flow's
    defaults); does not commit."""
    row = load(session, shop_id, flow_key)
    segment_ids = shop_segment_ids(session, shop_id)
    result = validate(form, row.config if row is not None else None, segment_ids, flow_key)
    if not result.ok:
        return result
    if row is None:
        row = FlowSetting(shop_id=shop_id, flow_key=flow_key)
        session.add(row)
    row.enabled = result.enabled
    row.config = result.config
    row.updated_at = utcnow()
    return result
