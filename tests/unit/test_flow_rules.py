"""The send rules (`app.flows.rules.decide`) over a scenario table, and a mutation check: taking
any one rule out changes the outcome of at least one scenario, so every rule is exercised (a
new rule without a scenario fails here). Also: the registry's priorities and the old RQ paths."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from app.domain.orchestration import CART, WINBACK, FlowConfig
from app.flows import registry
from app.flows.rules import (
    DELAY_RULES,
    PRIORITY_DELAY,
    SENDER_IDENTITY_WAIT,
    STOP_RULES,
    Decision,
    Exit,
    Facts,
    Postpone,
    Ready,
    Skip,
    decide,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # noon UTC: outside the default quiet hours
BASE = Facts(config=FlowConfig())

SCENARIOS: dict[str, tuple[Facts, Decision]] = {
    "ready": (BASE, Ready()),
    "shop_inactive": (replace(BASE, shop_active=False), Exit("shop_inactive")),
    "flow_disabled": (replace(BASE, flow_enabled=False), Exit("flow_disabled")),
    "customer_gone": (replace(BASE, customer_present=False), Exit("customer_gone")),
    "no_consent": (replace(BASE, subscribed=False), Exit("no_consent")),
    "suppressed": (replace(BASE, suppressed=True), Exit("suppressed")),
    "run_exited": (replace(BASE, run_exit="ordered"), Exit("run_exited:ordered")),
    "not_in_audience": (replace(BASE, audience_exit="not_in_audience"), Exit("not_in_audience")),
    "ordered": (replace(BASE, flow_exits=("ordered",)), Exit("ordered")),
    "completed_first": (
        replace(BASE, flow_exits=("checkout_completed", "ordered")),
        Exit("checkout_completed"),
    ),
    "complaint": (replace(BASE, complaint_open=True), Skip("complaint_open")),
    "smart_sending": (replace(BASE, emailed_recently=True), Skip("smart_sending")),
    "not_before": (
        replace(BASE, not_before=NOW + timedelta(hours=1)),
        Postpone(NOW + timedelta(hours=1), frozenset({"not_before"})),
    ),
    "outranked": (
        replace(BASE, outranked=True),
        Postpone(NOW + PRIORITY_DELAY, frozenset({"priority"})),
    ),
    "capped": (
        replace(BASE, recent_sends=(NOW - timedelta(hours=10),)),
        Postpone(NOW + timedelta(hours=6), frozenset({"frequency_cap"})),
    ),
    "quiet_hours": (
        replace(BASE, config=FlowConfig(quiet_start=time(11, 0), quiet_end=time(13, 0))),
        Postpone(NOW + timedelta(hours=1), frozenset({"quiet_hours"})),
    ),
    # The cap ends at 03:00 tomorrow, inside quiet hours: the send waits for 09:00.
    "capped_into_quiet_hours": (
        replace(BASE, recent_sends=(NOW - timedelta(hours=1),)),
        Postpone(NOW + timedelta(hours=21), frozenset({"frequency_cap", "quiet_hours"})),
    ),
    # A shop without its sender identity waits (and looks again an hour later).
    "no_sender_identity": (
        replace(BASE, sender_identity_set=False),
        Postpone(NOW + SENDER_IDENTITY_WAIT, frozenset({"sender_identity"})),
    ),
    # Consent is checked before the flow's own exits and before a complaint.
    "unsubscribed_and_ordered": (
        replace(BASE, subscribed=False, flow_exits=("ordered",), complaint_open=True),
        Exit("no_consent"),
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_decides_as_expected(name: str) -> None:
    facts, expected = SCENARIOS[name]
    assert decide(facts, NOW) == expected


def _outcomes(**rules: object) -> dict[str, Decision]:
    return {name: decide(facts, NOW, **rules) for name, (facts, _) in SCENARIOS.items()}  # type: ignore[arg-type]


@pytest.mark.parametrize("rule", [rule.name for rule in STOP_RULES])
def test_removing_any_stop_rule_changes_a_scenario(rule: str) -> None:
    without = [r for r in STOP_RULES if r.name != rule]
    assert _outcomes(stop_rules=without) != _outcomes()


@pytest.mark.parametrize("rule", [rule.name for rule in DELAY_RULES])
def test_removing_any_delay_rule_changes_a_scenario(rule: str) -> None:
    without = [r for r in DELAY_RULES if r.name != rule]
    assert _outcomes(delay_rules=without) != _outcomes()


def test_an_exit_for_consent_suppresses_the_message() -> None:
    assert Exit("no_consent").consent
    assert Exit("suppressed").consent
    assert not Exit("ordered").consent


def test_cart_beats_winback() -> None:
    assert registry.pick_flow([WINBACK, CART]) == CART
    assert registry.pick_flow([WINBACK]) == WINBACK
    assert registry.pick_flow([]) is None


def test_every_flow_is_registered_once_with_its_own_priority() -> None:
    priorities = registry.priorities()
    assert set(registry.keys()) == {
        CART,
        "browse",
        "back_in_stock",
        "welcome",
        "birthday",
        WINBACK,
        "thank_you",
        "review_request",
        "replenishment",
    }
    assert len(set(priorities.values())) == len(priorities)
    assert registry.outranking(WINBACK)
    assert registry.outranking(CART) == []


@pytest.mark.parametrize(
    "path",
    [
        "jobs.send_email.send_message",
        "jobs.flows.dispatch_due_steps",
        "jobs.flows.run_flow_step",
        "jobs.flows.sweep_flow_runs",
        "jobs.flows.scan_winback",
        "jobs.flows.scan_winback_shop",
    ],
)
def test_jobs_already_queued_under_the_old_paths_still_resolve(path: str) -> None:
    from rq.utils import import_attribute

    assert callable(import_attribute(path))


def test_importing_the_flows_installs_no_session_listener() -> None:
    import subprocess
    import sys

    probe = (
        "from sqlalchemy import event\n"
        "from sqlalchemy.orm import Session\n"
        "import jobs.flows, jobs.send_email\n"
        "from app.flows import reads\n"
        "assert not any(event.contains(Session, n, f) for n, f in reads._LISTENERS)\n"
        "reads.install(); reads.install()\n"
        "assert all(event.contains(Session, n, f) for n, f in reads._LISTENERS)\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)
