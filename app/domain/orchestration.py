"""Flow orchestration rules: frequency caps, quiet hours, holdout buckets and flow priority.

Layer: domain (pure: no Flask, no I/O, no clock — callers pass `now`). Times in and out are
timezone-aware; the shop's timezone is applied only inside `apply_quiet_hours`. A message that
a cap or quiet hours hold back is postponed (a new due time), never dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CART = "cart"
WINBACK = "winback"
THANK_YOU = "thank_you"
REVIEW_REQUEST = "review_request"
REPLENISHMENT = "replenishment"


@dataclass(frozen=True)
class Cap:
    """At most `limit` marketing emails per customer within any `window`."""

    limit: int
    window: timedelta


@dataclass(frozen=True)
class FlowConfig:
    """One flow's settings; `from_overrides` merges a shop's `flow_settings.config` JSON."""

    step_delays: tuple[timedelta, ...] = (
        timedelta(hours=1),
        timedelta(hours=24),
        timedelta(hours=72),
    )
    holdout_percent: int = 10
    caps: tuple[Cap, ...] = field(
        default_factory=lambda: (Cap(1, timedelta(hours=16)), Cap(5, timedelta(days=7)))
    )
    quiet_start: time = time(21, 0)
    quiet_end: time = time(9, 0)

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None) -> FlowConfig:
        """Known keys: step_delay_hours [..], holdout_percent, caps [[limit, hours]..],
        quiet_hours ["21:00", "09:00"] (null or [] turns quiet hours off)."""
        config = cls()
        if not overrides:
            return config
        values: dict[str, Any] = {}
        if "step_delay_hours" in overrides:
            values["step_delays"] = tuple(
                timedelta(hours=float(h)) for h in overrides["step_delay_hours"]
            )
        if "holdout_percent" in overrides:
            values["holdout_percent"] = max(0, min(100, int(overrides["holdout_percent"])))
        if "caps" in overrides:
            values["caps"] = tuple(
                Cap(int(limit), timedelta(hours=float(hours))) for limit, hours in overrides["caps"]
            )
        if "quiet_hours" in overrides:
            quiet = overrides["quiet_hours"]
            if quiet:
                values["quiet_start"] = time.fromisoformat(quiet[0])
                values["quiet_end"] = time.fromisoformat(quiet[1])
            else:
                values["quiet_start"] = values["quiet_end"] = time(0, 0)
        return cls(**{**config.__dict__, **values})

    @property
    def steps(self) -> int:
        return len(self.step_delays)


DEFAULT_CART = FlowConfig()


# --- frequency cap ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CapDecision:
    allowed: bool
    next_allowed_at: datetime  # == now when allowed


def check_frequency_cap(
    recent_sends: Iterable[datetime], now: datetime, caps: Sequence[Cap]
) -> CapDecision:
    """Allowed if every cap leaves room at `now`; otherwise the earliest time all caps do.

    For a cap of `limit` per `window`, the send that must age out is the `limit`-th most recent
    one within the window; the next send is allowed once it is `window` old.
    """
    sends = sorted((s for s in recent_sends if s <= now), reverse=True)
    moment = now
    for cap in caps:
        if cap.limit <= 0:
            continue
        inside = [s for s in sends if s > now - cap.window]
        if len(inside) >= cap.limit:
            moment = max(moment, inside[cap.limit - 1] + cap.window)
    return CapDecision(moment == now, moment)


# --- quiet hours -----------------------------------------------------------------------------


def shop_zone(name: str | None) -> ZoneInfo:
    """The shop's timezone; an unknown name falls back to UTC rather than failing a send."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_quiet_hours(moment: datetime, zone: ZoneInfo, start: time, end: time) -> bool:
    if start == end:
        return False
    local = moment.astimezone(zone).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def apply_quiet_hours(due: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """`due` itself, or — when it falls in quiet hours — the next `end` (local) after it.

    The wall-clock time is built on the local date, so the morning stays 09:00 local across a
    DST change; a result that lands in a DST gap is normalised by the round trip through UTC.
    """
    if not in_quiet_hours(due, zone, start, end):
        return due
    local = due.astimezone(zone)
    day = local.date()
    if local.time() >= end:  # evening part (or a same-day window): the morning after
        day = day + timedelta(days=1)
    morning = datetime.combine(day, end, tzinfo=zone)
    return morning.astimezone(due.tzinfo)


def next_send_time(
    due: datetime, recent_sends: Iterable[datetime], zone: ZoneInfo, config: FlowConfig
) -> datetime:
    """The earliest moment ≥ `due` outside quiet hours that the caps allow."""
    sends = list(recent_sends)
    moment = due
    for _ in range(8):  # caps and quiet hours can push each other; both converge quickly
        cap = check_frequency_cap(sends, moment, config.caps)
        moment = apply_quiet_hours(cap.next_allowed_at, zone, config.quiet_start, config.quiet_end)
        if check_frequency_cap(sends, moment, config.caps).allowed:
            return moment
    return moment


# --- holdout ------------------------------------------------------------------------------


def holdout_bucket(shop_id: int, flow_key: str, customer_id: int) -> int:
    """A stable bucket 0–99 for this customer in this shop's flow (same input, same bucket)."""
    digest = hashlib.sha256(f"{shop_id}:{flow_key}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def in_holdout(shop_id: int, flow_key: str, customer_id: int, percent: int) -> bool:
    return holdout_bucket(shop_id, flow_key, customer_id) < percent


# --- win-back --------------------------------------------------------------------------------

# A shop's win-back `flow_settings.config` starts as these (written on its first daily scan):
# step 1 at once, step 2 a week later; the lapse keys are read by `WinbackConfig`.
WINBACK_DEFAULTS: Mapping[str, Any] = {
    "step_delay_hours": [0, 168],
    "lapse_min_days": 60,
    "lapse_multiplier": 2,
    "one_time_days": 90,
}


@dataclass(frozen=True)
class WinbackConfig:
    """A repeat buyer lapses when the days since the last order exceed max(`min_days`,
    `multiplier` × their median days between orders); a one-time buyer after `one_time_days`."""

    min_days: float = 60
    multiplier: float = 2
    one_time_days: float = 90

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None) -> WinbackConfig:
        values = {**WINBACK_DEFAULTS, **(overrides or {})}
        return cls(
            float(values["lapse_min_days"]),
            float(values["lapse_multiplier"]),
            float(values["one_time_days"]),
        )

    def threshold(self, order_times: Sequence[datetime]) -> timedelta | None:
        """How long after the last order the customer counts as lapsing (None: no orders)."""
        times = sorted(order_times)
        if not times:
            return None
        if len(times) == 1:
            return timedelta(days=self.one_time_days)
        gaps = sorted((b - a).total_seconds() / 86400 for a, b in pairwise(times))
        middle = len(gaps) // 2
        median = gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) / 2
        return timedelta(days=max(self.min_days, self.multiplier * median))

    def is_lapsing(self, order_times: Sequence[datetime], now: datetime) -> bool:
        limit = self.threshold(order_times)
        return limit is not None and now - max(order_times) > limit


# --- post-purchase ---------------------------------------------------------------------------

# A shop's post-purchase `flow_settings.config` rows start as these (written on first use). The
# step delay counts from the flow's moment: the payment (thank-you), `review_delay_days` after
# the fulfilment (review request), `lead_days` before the expected re-order date (replenishment).
POST_PURCHASE_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    THANK_YOU: {"step_delay_hours": [2]},
    REVIEW_REQUEST: {"step_delay_hours": [0], "review_delay_days": 7},
    REPLENISHMENT: {"step_delay_hours": [0], "lead_days": 3},
}


@dataclass(frozen=True)
class PostPurchaseTiming:
    """Days after fulfilment for the review request; days before the expected re-order date
    for the replenishment reminder."""

    review_delay_days: float = 7
    lead_days: float = 3

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None) -> PostPurchaseTiming:
        values = overrides or {}
        return cls(
            float(values.get("review_delay_days", cls.review_delay_days)),
            float(values.get("lead_days", cls.lead_days)),
        )
