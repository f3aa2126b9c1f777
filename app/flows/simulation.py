"""Flow backtests: replay a past window of one shop through one flow, sending nothing.

Layer: services, read-only: SELECTs only, never a write, enqueue, send or commit. Applies the live
`rules.decide` at simulated times, in time order; customer and product state is taken as it is now.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.orchestration import (
    FlowConfig,
    apply_quiet_hours,
    in_holdout,
    shop_zone,
)
from app.flows import registry
from app.flows.reads import may_receive
from app.flows.replay import (
    Simulator,
    Trigger,
    Window,
    mask_email,
)
from app.flows.rules import Exit, Facts, Postpone, Skip, decide
from app.models import Customer, Shop
from app.models.flow import FlowRun, Message
from app.services.inquiries import paused_customers
from app.services.segments import flow_audience
from app.services.unsubscribe import suppressed_emails
from app.services.upsert import normalize_email

ENTERED = "entered"
HELD_OUT = "held_out"
NOT_ELIGIBLE = "not_eligible"
EXITED = "exited"

NO_DEFERRAL = "none"
QUIET_HOURS = "quiet_hours"
CAP = "cap"
PRIORITY = "priority"

_LOOKBACK = re.compile(r"^\s*(\d+)\s*([dh])\s*$", re.IGNORECASE)
MAX_LOOKBACK = timedelta(days=366)


class UnknownFlow(ValueError):
    """No simulator is registered for this flow key."""


@dataclass
class SimulatedEmail:
    step: int
    due_at: datetime
    would_send_at: datetime
    deferred_by: str  # none | quiet_hours | cap | priority


@dataclass
class SimulatedEntry:
    customer_id: int | None
    masked_email: str
    trigger: str
    started_at: datetime
    outcome: str  # entered | held_out | not_eligible:<reason> | exited:<reason>
    exited_before_step: int | None = None
    emails: list[SimulatedEmail] = field(default_factory=list)

    def describe(self) -> str:
        if self.exited_before_step is not None:
            return f"{self.outcome} before step {self.exited_before_step}"
        return self.outcome


@dataclass
class SimulationTotals:
    entered: int = 0  # runs that started, including those that exited later
    held_out: int = 0
    not_eligible: dict[str, int] = field(default_factory=dict)
    exited: int = 0
    emails: int = 0
    capped: int = 0
    quiet_hours_deferred: int = 0


@dataclass
class SimulationResult:
    shop_id: int
    shop_domain: str
    flow_key: str
    since: datetime
    until: datetime
    timezone: str
    enabled: bool
    entries: list[SimulatedEntry]
    totals: SimulationTotals

    def emails(self) -> list[tuple[SimulatedEntry, SimulatedEmail]]:
        """Every would-be email with its entry, in the order they would have gone."""
        pairs = [(entry, email) for entry in self.entries for email in entry.emails]
        return sorted(pairs, key=lambda pair: (pair[1].would_send_at, pair[1].step))

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def parse_lookback(text: str) -> timedelta:
    """`30d` or `12h` → the timedelta; ValueError for anything else or over a year."""
    match = _LOOKBACK.match(text or "")
    if match is None:
        raise ValueError("use a number of days or hours, e.g. 30d or 12h")
    amount, unit = int(match.group(1)), match.group(2).lower()
    span = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
    if span <= timedelta(0) or span > MAX_LOOKBACK:
        raise ValueError("choose between 1h and 366d")
    return span


class _RegisteredSimulators(Mapping[str, Simulator]):
    """Flow key → the function that finds its triggers: the registry's `simulate` of each flow
    (eligibility, holdout, step timing, exits, priority, cap and quiet hours are then replayed
    alike, through `rules.decide`)."""

    def __getitem__(self, key: str) -> Simulator:
        return registry.get(key).simulate

    def __iter__(self) -> Iterator[str]:
        return iter(registry.keys())

    def __len__(self) -> int:
        return len(registry.keys())


SIMULATORS: Mapping[str, Simulator] = _RegisteredSimulators()


# --- the replay ------------------------------------------------------------------------------


class _ReplayFacts:
    """The facts of `rules.decide` for the replay, read set-wise once: the customer's consent,
    suppression, open complaint and audience as they are now; the shop and flow as if on (the
    backtest asks what the flow would have done); the exits and higher-priority work as they
    stood at each simulated moment."""

    def __init__(
        self,
        session: Session,
        shop: Shop,
        flow_key: str,
        config: FlowConfig,
        customers: Collection[Customer],
        window: Window,
    ) -> None:
        ids = sorted({customer.id for customer in customers})
        self.config, self.zone = config, shop_zone(shop.timezone)
        self.requested = registry.get(flow_key).requested
        self.suppressed = suppressed_emails(session, shop.id, (c.email for c in customers))
        self.paused = paused_customers(session, shop.id, ids)
        self.audience = flow_audience(session, shop.id, flow_key, ids, report=False)
        self.waiting = _higher_priority_waits(session, shop.id, flow_key, ids, window)

    def at(
        self,
        customer: Customer,
        moment: datetime,
        exits: Sequence[str] = (),
        sends: Sequence[datetime] = (),
    ) -> Facts:
        email = normalize_email(customer.email)
        return Facts(
            customer_present=customer.deleted_at is None and customer.redacted_at is None,
            subscribed=may_receive(customer, requested=self.requested),
            suppressed=email is None or email in self.suppressed,
            audience_exit=self.audience.exit_reason(customer.id),
            flow_exits=tuple(exits),
            complaint_open=customer.id in self.paused,
            outranked=any(
                start <= moment and (end is None or moment < end)
                for start, end in self.waiting.get(customer.id, ())
            ),
            recent_sends=tuple(sends),
            zone=self.zone,
            config=self.config,
        )


def _higher_priority_waits(
    session: Session, shop_id: int, flow_key: str, customer_ids: Sequence[int], window: Window
) -> dict[int, list[tuple[datetime, datetime | None]]]:
    """When a real message of a flow that outranks `flow_key` was waiting to be sent to each
    customer (from its creation or postponement until it was sent; still pending: open)."""
    better = registry.outranking(flow_key)
    waits: dict[int, list[tuple[datetime, datetime | None]]] = {}
    if not better or not customer_ids:
        return waits
    rows = session.execute(
        select(Message.customer_id, Message.created_at, Message.not_before, Message.sent_at)
        .join(FlowRun, FlowRun.id == Message.flow_run_id)
        .where(
            Message.shop_id == shop_id,
            FlowRun.shop_id == shop_id,
            FlowRun.flow_key.in_(better),
            Message.customer_id.in_(customer_ids),
            Message.status.in_(("pending", "sending", "sent", "unknown")),
            or_(Message.sent_at.is_(None), Message.sent_at >= window.since),
            Message.created_at <= window.until,
        )
    )
    for customer_id, created_at, not_before, sent_at in rows:
        start = max(created_at, not_before) if not_before is not None else created_at
        waits.setdefault(customer_id, []).append((start, sent_at))
    return waits


def _real_sends(
    session: Session,
    shop_id: int,
    flow_key: str,
    customer_ids: Iterable[int],
    since: datetime,
    until: datetime,
) -> dict[int, list[datetime]]:
    """Emails other flows really sent these customers (this flow's are what is replayed)."""
    ids = sorted(set(customer_ids))
    sends: dict[int, list[datetime]] = {customer_id: [] for customer_id in ids}
    if not ids:
        return sends
    rows = session.execute(
        select(Message.customer_id, Message.sent_at)
        .outerjoin(FlowRun, FlowRun.id == Message.flow_run_id)
        .where(
            Message.shop_id == shop_id,
            # Campaign emails (no flow run) count towards the cap like other flows' emails.
            Message.flow_run_id.is_(None)
            | ((FlowRun.shop_id == shop_id) & (FlowRun.flow_key != flow_key)),
            Message.customer_id.in_(ids),
            Message.status.in_(("sending", "sent", "unknown")),
            Message.sent_at >= since,
            Message.sent_at <= until,
        )
    )
    for customer_id, sent_at in rows:
        if sent_at is not None:
            sends[customer_id].append(sent_at)
    return sends


def _exits_by(trigger: Trigger, moment: datetime) -> list[str]:
    """The trigger's exits that have happened by `moment`, earliest first (the trigger lists
    simultaneous ones in the order the flow checks them)."""
    happened = [(when, index, why) for index, (when, why) in enumerate(trigger.exits)]
    return [why for when, _, why in sorted(happened) if when <= moment]


def _deferral(causes: set[str]) -> str:
    for cause in (CAP, QUIET_HOURS, PRIORITY):
        if cause in causes:
            return cause
    return NO_DEFERRAL


def simulate(
    session: Session,
    shop: Shop,
    flow_key: str,
    since: datetime,
    until: datetime | None = None,
) -> SimulationResult:
    """Replay `shop`'s window [since, until] (default: until now) through `flow_key`.

    Steps fall due at start + delay and their email is tried at once; an exit that has
    happened by then stops the run; the cap and quiet hours postpone a send, which is tried
    again then (so sends of the same simulation compete as they would live). Emails due after
    `until` are included. Raises UnknownFlow for a flow without a simulator.
    """
    if flow_key not in SIMULATORS:
        raise UnknownFlow(flow_key)
    window = Window(since, until or utcnow())
    plan = SIMULATORS[flow_key](session, shop, window)
    zone = shop_zone(shop.timezone)
    config = plan.config
    totals = SimulationTotals()
    entries: list[SimulatedEntry] = []
    treated: list[tuple[SimulatedEntry, Trigger, Customer]] = []
    known = {t.customer.id: t.customer for t in plan.triggers if t.customer is not None}
    facts = _ReplayFacts(session, shop, flow_key, config, list(known.values()), window)
    for trigger in sorted(plan.triggers, key=lambda item: item.started_at):
        customer = trigger.customer
        entry = SimulatedEntry(
            customer_id=customer.id if customer else None,
            masked_email=mask_email(customer.email if customer else None),
            trigger=trigger.label,
            started_at=trigger.started_at,
            outcome=ENTERED,
        )
        entries.append(entry)
        reason = trigger.ineligible
        if reason is None and customer is not None:
            # At the start only who the customer is decides (consent, suppression, audience,
            # an open complaint); exits, priority and caps are replayed at each step.
            decision = decide(facts.at(customer, trigger.started_at), trigger.started_at)
            if isinstance(decision, Exit | Skip):
                reason = decision.reason
        if reason is not None or customer is None:
            reason = reason or "no_customer"
            entry.outcome = f"{NOT_ELIGIBLE}:{reason}"
            totals.not_eligible[reason] = totals.not_eligible.get(reason, 0) + 1
        elif in_holdout(shop.id, flow_key, customer.id, config.holdout_percent):
            entry.outcome = HELD_OUT
            totals.held_out += 1
        else:
            totals.entered += 1
            if config.steps:
                treated.append((entry, trigger, customer))

    longest_cap = max((cap.window for cap in config.caps), default=timedelta(0))
    sends = _real_sends(
        session,
        shop.id,
        flow_key,
        (customer.id for _, _, customer in treated),
        window.since - longest_cap,
        window.until,
    )
    causes: dict[tuple[int, int], set[str]] = {}
    # (moment, order, run, step, is_send, due): a step falls due, or its email is tried.
    queue: list[tuple[datetime, int, int, int, bool, datetime]] = []
    order = 0
    for index, (_, trigger, _) in enumerate(treated):
        due = trigger.first_due
        if due is None:
            due = trigger.started_at + config.step_delays[0]
        queue.append((due, order, index, 1, False, due))
        order += 1
    heapq.heapify(queue)
    while queue:
        moment, _, index, step, is_send, due = heapq.heappop(queue)
        entry, trigger, customer = treated[index]
        if entry.outcome != ENTERED:
            continue
        history = sends[customer.id]
        decision = decide(facts.at(customer, moment, _exits_by(trigger, moment), history), moment)
        if isinstance(decision, Exit):
            entry.outcome, entry.exited_before_step = f"{EXITED}:{decision.reason}", step
            totals.exited += 1
            continue
        if not is_send:
            if step < config.steps:
                next_due = trigger.started_at + config.step_delays[step]
                heapq.heappush(queue, (next_due, order, index, step + 1, False, next_due))
                order += 1
            heapq.heappush(queue, (moment, order, index, step, True, due))
            order += 1
            continue
        if isinstance(decision, Postpone):
            when = decision.until
            # Quiet hours alone would have moved it just as far: the cap did not matter.
            quiet = apply_quiet_hours(moment, zone, config.quiet_start, config.quiet_end)
            if quiet == when:
                cause = QUIET_HOURS
            else:
                cause = CAP if "frequency_cap" in decision.causes else PRIORITY
            causes.setdefault((index, step), set()).add(cause)
            heapq.heappush(queue, (when, order, index, step, True, due))
            order += 1
            continue
        history.append(moment)
        deferred_by = _deferral(causes.get((index, step), set()))
        entry.emails.append(SimulatedEmail(step, due, moment, deferred_by))
        totals.emails += 1
        totals.capped += int(deferred_by == CAP)
        totals.quiet_hours_deferred += int(deferred_by == QUIET_HOURS)

    return SimulationResult(
        shop_id=shop.id,
        shop_domain=shop.domain,
        flow_key=flow_key,
        since=window.since,
        until=window.until,
        timezone=zone.key,
        enabled=plan.enabled,
        entries=entries,
        totals=totals,
    )
