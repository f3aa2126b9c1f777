"""Triggers come from the registry: a flow registered here (and removed after) gets the order
events through `app.flows.triggers` without that module naming it, after the exits and in the
order its `Trigger.order` gives; the built-in flows' triggers keep the order exits → starts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.db import Base
from app.flows import cart, registry, triggers
from app.flows.registry import (
    CUSTOMERS_ORDERED,
    DAILY_SCAN,
    EXIT_ORDER,
    ORDERS_CHANGED,
    START_ORDER,
    CustomerOrder,
    Trigger,
)
from app.models.flow import FlowRun
from connectors.base import OrderRecord

TEST_FLOW = "test_birthday"
PLACED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture
def calls() -> Iterator[list[tuple[str, Any]]]:
    """Registers TEST_FLOW with an exit and a start trigger on orders; → what they were given."""
    seen: list[tuple[str, Any]] = []

    def exit_on_order(session: Session, shop_id: int, orders: Sequence[OrderRecord]) -> None:
        seen.append(("exit", (shop_id, [order.external_id for order in orders])))

    def start_on_order(session: Session, shop_id: int, orders: Sequence[OrderRecord]) -> None:
        seen.append(("start", (shop_id, [order.external_id for order in orders])))

    definition = replace(
        cart.DEFINITION,
        key=TEST_FLOW,
        priority=99,
        triggers=(
            Trigger(ORDERS_CHANGED, start_on_order),
            Trigger(ORDERS_CHANGED, exit_on_order, order=EXIT_ORDER),
        ),
    )
    registry.register(definition)
    try:
        yield seen
    finally:
        registry.unregister(TEST_FLOW)


def order(external_id: str) -> OrderRecord:
    return OrderRecord(
        external_id=external_id,
        updated_at=PLACED,
        currency="EUR",
        total_price=Decimal("10.00"),
        created_at=PLACED,
        financial_status="paid",
    )


def test_a_registered_flow_gets_order_events_through_triggers(
    session: Session, calls: list[tuple[str, Any]]
) -> None:
    triggers.after_orders(session, 7, [order("1001"), order("1002")])

    assert calls == [("exit", (7, ["1001", "1002"])), ("start", (7, ["1001", "1002"]))]


def test_after_unregistering_the_flow_gets_nothing(session: Session) -> None:
    seen: list[str] = []
    definition = replace(
        cart.DEFINITION,
        key=TEST_FLOW,
        priority=99,
        triggers=(Trigger(ORDERS_CHANGED, lambda *_args: seen.append("called")),),
    )
    registry.register(definition)
    registry.unregister(TEST_FLOW)

    triggers.after_orders(session, 7, [order("1001")])

    assert seen == []
    assert TEST_FLOW not in registry.definitions()


def test_order_triggers_run_exits_first_then_starts(calls: list[tuple[str, Any]]) -> None:
    ordered = [(key, trigger.order) for key, trigger in registry.triggers_for(ORDERS_CHANGED)]

    assert ordered == [
        ("cart", EXIT_ORDER),
        (TEST_FLOW, EXIT_ORDER),
        ("thank_you", START_ORDER),
        ("review_request", START_ORDER),
        ("replenishment", START_ORDER),
        (TEST_FLOW, START_ORDER),
    ]


def test_the_daily_scan_prunes_storefront_events_starts_birthdays_and_winback() -> None:
    # In registry order: browse abandonment (its pruning) ranks before the birthday.
    assert [key for key, _ in registry.triggers_for(DAILY_SCAN)] == [
        "browse",
        "birthday",
        "winback",
    ]


def test_a_flow_cannot_take_a_key_or_name_an_unknown_event() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(cart.DEFINITION)
    unknown = replace(
        cart.DEFINITION, key=TEST_FLOW, triggers=(Trigger("order_teleported", print),)
    )
    with pytest.raises(ValueError, match="unknown trigger event"):
        registry.register(unknown)
    assert TEST_FLOW not in registry.definitions()
    with pytest.raises(ValueError, match="built in"):
        registry.unregister("cart")


def test_a_customers_new_order_is_a_declared_exit_of_cart_browse_welcome_and_winback() -> None:
    """Exits first (welcome's: at the second purchase), then the welcome series' start at a
    first order."""
    assert [(key, t.order) for key, t in registry.triggers_for(CUSTOMERS_ORDERED)] == [
        ("cart", EXIT_ORDER),
        ("browse", EXIT_ORDER),
        ("welcome", EXIT_ORDER),
        ("winback", EXIT_ORDER),
        ("welcome", START_ORDER),
    ]


def test_after_customer_orders_exits_the_runs_a_purchase_ends(session: Session) -> None:
    def run(flow_key: str, customer_id: int, started: datetime) -> FlowRun:
        row = FlowRun(
            shop_id=7,
            flow_key=flow_key,
            customer_id=customer_id,
            trigger_key=f"{flow_key}-{customer_id}-{started:%H}",
            status="running",
            next_step=1,
            started_at=started,
            updated_at=started,
        )
        session.add(row)
        return row

    earlier = PLACED - timedelta(hours=2)
    cart_run, winback_run = run("cart", 1, earlier), run("winback", 1, earlier)
    thank_you_run = run("thank_you", 1, earlier)
    later_cart_run = run("cart", 1, PLACED + timedelta(hours=1))
    other_customer_run = run("cart", 2, earlier)
    session.flush()

    triggers.after_customer_orders(session, [CustomerOrder(7, 1, PLACED)])
    session.expire_all()

    assert (cart_run.status, cart_run.exit_reason) == ("exited", "ordered")
    assert (winback_run.status, winback_run.exit_reason) == ("exited", "ordered")
    assert thank_you_run.status == "running"  # a new order is no reason to stop a thank-you
    assert later_cart_run.status == "running"  # started after the order was placed
    assert other_customer_run.status == "running"
