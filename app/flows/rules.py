"""The send rules, once: may this flow email go now? → Exit | Skip | Postpone | Ready.

Layer: pure (no Flask, no I/O, no clock; checked by lint-imports). Every path that decides calls
`decide`: the dispatch, the send, the backtest, the preview. A rule missing from `STOP_RULES` or
`DELAY_RULES` is missing everywhere; tests/unit/test_flow_rules.py fails if one is removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.orchestration import FlowConfig, apply_quiet_hours, check_frequency_cap

# A send that yields to a higher-priority flow tries again after this (then the cap decides).
PRIORITY_DELAY = timedelta(minutes=5)
# A shop without its sender identity (name, reply-to, postal address, contact: the law's
# footer) sends no marketing email; its messages wait and look again after this.
SENDER_IDENTITY_WAIT = timedelta(hours=1)
SENDER_IDENTITY = "sender_identity"
# Exits that mean the address may not be mailed at all (a send stopped by them is `suppressed`).
CONSENT_EXITS = frozenset({"no_consent", "suppressed"})


@dataclass(frozen=True)
class Facts:
    """What the rules read about one run (and, at send time, its message), as of `now`.

    `flow_exits`: the flow's own exits that have happened (checkout completed, ordered, order
    refunded, …), in the order the flow checks them. `run_exit`: the run was already stopped
    (a webhook exited it) with this reason. `recent_sends`: when the customer was emailed
    within the caps' windows. `outranked`: a flow of higher priority has something due for them.
    `sender_identity_set`: the shop's emails can carry the sender's name, address and contact.
    `emailed_recently`: a campaign with smart sending skips someone emailed within its window.
    """

    shop_active: bool = True
    sender_identity_set: bool = True
    flow_enabled: bool = True
    customer_present: bool = True  # the customer row exists, not deleted, not redacted
    subscribed: bool = True
    suppressed: bool = False
    run_exit: str | None = None
    audience_exit: str | None = None
    flow_exits: tuple[str, ...] = ()
    complaint_open: bool = False
    emailed_recently: bool = False
    not_before: datetime | None = None
    outranked: bool = False
    recent_sends: tuple[datetime, ...] = ()
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    config: FlowConfig = field(default_factory=FlowConfig)


@dataclass(frozen=True)
class Exit:
    """The run stops (at send time: the message is `suppressed` for a consent reason, else
    `skipped`)."""

    reason: str

    @property
    def consent(self) -> bool:
        return self.reason in CONSENT_EXITS


@dataclass(frozen=True)
class Skip:
    """This email is not sent; the run goes on."""

    reason: str


@dataclass(frozen=True)
class Postpone:
    """Not before `until`; `causes` names the delay rules that moved it."""

    until: datetime
    causes: frozenset[str]


@dataclass(frozen=True)
class Ready:
    """Send now."""


Decision = Exit | Skip | Postpone | Ready


@dataclass(frozen=True)
class StopRule:
    name: str
    check: Callable[[Facts], Exit | Skip | None]


@dataclass(frozen=True)
class DelayRule:
    """`delay(facts, due, now)` → the earliest time ≥ `due` this rule allows."""

    name: str
    delay: Callable[[Facts, datetime, datetime], datetime]


def _exit_if(condition: Callable[[Facts], bool], reason: str) -> Callable[[Facts], Exit | None]:
    return lambda facts: Exit(reason) if condition(facts) else None


def _first_flow_exit(facts: Facts) -> Exit | None:
    return Exit(facts.flow_exits[0]) if facts.flow_exits else None


def _cap(facts: Facts, due: datetime, _now: datetime) -> datetime:
    return check_frequency_cap(facts.recent_sends, due, facts.config.caps).next_allowed_at


def _quiet_hours(facts: Facts, due: datetime, _now: datetime) -> datetime:
    config = facts.config
    return apply_quiet_hours(due, facts.zone, config.quiet_start, config.quiet_end)


STOP_RULES: Sequence[StopRule] = (
    StopRule("shop_inactive", _exit_if(lambda f: not f.shop_active, "shop_inactive")),
    StopRule("flow_disabled", _exit_if(lambda f: not f.flow_enabled, "flow_disabled")),
    StopRule("customer_gone", _exit_if(lambda f: not f.customer_present, "customer_gone")),
    StopRule("no_consent", _exit_if(lambda f: not f.subscribed, "no_consent")),
    StopRule("suppressed", _exit_if(lambda f: f.suppressed, "suppressed")),
    StopRule("run_exited", lambda f: Exit(f"run_exited:{f.run_exit}") if f.run_exit else None),
    StopRule("audience", lambda f: Exit(f.audience_exit) if f.audience_exit else None),
    StopRule("flow_exit", _first_flow_exit),
    # An open complaint pauses marketing to the customer; the run goes on.
    StopRule("complaint_open", lambda f: Skip("complaint_open") if f.complaint_open else None),
    # Smart sending (campaigns): not again to someone emailed within the chosen hours.
    StopRule("smart_sending", lambda f: Skip("smart_sending") if f.emailed_recently else None),
)

DELAY_RULES: Sequence[DelayRule] = (
    DelayRule("not_before", lambda f, due, _now: max(due, f.not_before or due)),
    # Cart first: a flow of higher priority with something due for the customer goes first.
    DelayRule(
        "priority", lambda f, due, now: max(due, now + PRIORITY_DELAY) if f.outranked else due
    ),
    DelayRule(
        SENDER_IDENTITY,
        lambda f, due, now: due if f.sender_identity_set else max(due, now + SENDER_IDENTITY_WAIT),
    ),
    DelayRule("frequency_cap", _cap),
    DelayRule("quiet_hours", _quiet_hours),
)

_ROUNDS = 8  # caps and quiet hours can push each other; both converge quickly


def decide(
    facts: Facts,
    now: datetime,
    *,
    stop_rules: Sequence[StopRule] = STOP_RULES,
    delay_rules: Sequence[DelayRule] = DELAY_RULES,
) -> Decision:
    """The one decision: the first stop rule that answers, else the earliest moment ≥ `now`
    every delay rule allows (Ready when that is `now`). The rule lists are parameters only so
    that a test can take one out."""
    for rule in stop_rules:
        stop = rule.check(facts)
        if stop is not None:
            return stop
    due, causes = now, set()
    for _ in range(_ROUNDS):
        moved = False
        for delay_rule in delay_rules:
            later = delay_rule.delay(facts, due, now)
            if later > due:
                due, moved = later, True
                causes.add(delay_rule.name)
        if not moved:
            break
    if due > now:
        return Postpone(due, frozenset(causes))
    return Ready()
