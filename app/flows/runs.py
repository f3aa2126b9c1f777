"""Flow runs: start and exit them for every flow, the exits a purchase causes, and SendGrid's
events on the messages they sent.

Layer: flows, below the flow modules (above `reads`, `scheduling`, `content`), inside the caller's
transaction. A run is unique on (shop, flow, customer, trigger key), a message on (run, step,
customer). `next_step_at` is the truth; step 1 is scheduled after commit (`scheduling`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, literal, or_, select, update
from sqlalchemy.orm import Session

from app.db import UTCDateTime, utcnow
from app.domain.orchestration import CART, FlowConfig, in_holdout

# Named here as well: callers of the run helpers found them in this module before `reads`,
# `scheduling` and `content` held them.
from app.flows.content import (
    SharedContent as SharedContent,
)
from app.flows.content import (
    flow_email as flow_email,
)
from app.flows.content import (
    message_unsubscribe_link as message_unsubscribe_link,
)
from app.flows.definition import CustomerOrder
from app.flows.form import AUDIENCE_KEY
from app.flows.reads import (
    cart_checkout as cart_checkout,
)
from app.flows.reads import (
    flow_config,
    is_subscribed,
    suppressed,
)
from app.flows.reads import (
    flow_setting as flow_setting,
)
from app.flows.reads import (
    install as install,
)
from app.flows.reads import (
    shop_row as shop_row,
)
from app.flows.rules import SENDER_IDENTITY, Postpone
from app.flows.scheduling import (
    claim_due_runs as claim_due_runs,
)
from app.flows.scheduling import (
    enqueue_send as enqueue_send,
)
from app.flows.scheduling import (
    runs_due as runs_due,
)
from app.flows.scheduling import schedule_flow_step
from app.flows.scheduling import (
    step_job_id as step_job_id,
)
from app.models import Checkout, Customer, Order, Shop
from app.models.flow import FlowRun, Message, MessageEvent
from app.models.order import order_time
from app.services.segments import flow_audience
from app.services.sender_identity import WAITING_FOR_SENDER
from app.services.unsubscribe import suppress_address
from app.services.upsert import dialect_insert, normalize_email
from connectors.sendgrid.events import Event, event_dedupe_keys

log = logging.getLogger(__name__)


def waiting_reason(decision: Postpone) -> str | None:
    """What a postponed message shows while it waits: only a wait the merchant can end (the
    shop's missing sender identity) is named; caps and quiet hours are the flow working."""
    return WAITING_FOR_SENDER if SENDER_IDENTITY in decision.causes else None


# --- starting and exiting --------------------------------------------------------------------


def _link_customer(session: Session, checkout: Checkout) -> Customer | None:
    """The checkout's customer; an unlinked checkout is linked by email when a customer has it."""
    if checkout.customer_id is not None:
        # Loaded already when a batch of checkouts read their customers (`load_customers`).
        known = session.get(Customer, checkout.customer_id)
        return known if known is not None and known.shop_id == checkout.shop_id else None
    email = normalize_email(checkout.email)
    if email is None:
        return None
    customer = session.scalars(
        select(Customer)
        .where(Customer.shop_id == checkout.shop_id, Customer.email_normalized == email)
        .order_by(Customer.id)
        .limit(1)
    ).first()
    if customer is not None:
        checkout.customer_id = customer.id
    return customer


def load_customers(session: Session, shop_id: int, checkouts: Sequence[Checkout]) -> list[Customer]:
    """Read the customers of a batch of checkouts in one query, so each start finds its own in
    the session; the caller holds the list meanwhile (the session holds them only weakly)."""
    ids = sorted({c.customer_id for c in checkouts if c.customer_id is not None})
    if not ids:
        return []
    return list(
        session.scalars(select(Customer).where(Customer.shop_id == shop_id, Customer.id.in_(ids)))
    )


def cart_run_start(
    session: Session,
    checkout: Checkout,
    now: datetime,
    *,
    consent_required: bool = False,
) -> tuple[FlowConfig, RunStart] | None:
    """The cart run an open checkout with an email and a known customer starts, with the
    flow's settings; None when it starts none (not eligible, the flow off, or older than the
    last step's delay). `consent_required`: only for a customer who consents now and is not
    suppressed (checkouts from unauthenticated input never start a flow towards anyone else)."""
    if checkout.completed_at is not None or not normalize_email(checkout.email):
        return None
    customer = _link_customer(session, checkout)
    if customer is None or customer.deleted_at or customer.redacted_at:
        return None
    if consent_required and (
        not is_subscribed(customer) or suppressed(session, checkout.shop_id, customer.email)
    ):
        return None
    enabled, config = flow_config(session, checkout.shop_id, CART)
    if not enabled or config.steps == 0:
        return None
    # A reconcile or backfill may replay old checkouts: one past the last step is not recovered.
    last_activity = checkout.platform_updated_at or checkout.platform_created_at
    if last_activity is not None and now - last_activity > config.step_delays[-1]:
        return None
    return config, RunStart(customer.id, checkout.external_id, now + config.step_delays[0])


def start_cart_run(
    session: Session,
    checkout: Checkout,
    now: datetime | None = None,
    *,
    consent_required: bool = False,
) -> int | None:
    """Start the cart flow for one checkout (`cart_run_start`) → the new run's id, or None (it
    starts none, or a run exists for this checkout). A holdout customer gets a `holdout` run and
    no messages. Step 1 is scheduled after commit."""
    now = now or utcnow()
    found = cart_run_start(session, checkout, now, consent_required=consent_required)
    if found is None:
        return None
    config, start = found
    started = start_runs(session, checkout.shop_id, CART, config, [start], now)
    return started[0] if started else None


def _has_audience(session: Session, shop_id: int, flow_key: str) -> bool:
    """Whether the flow is limited to a segment (from the settings read once per transaction):
    without one everyone is in its audience, and no query asks."""
    row = flow_setting(session, shop_id, flow_key)
    return row is not None and (row.config or {}).get(AUDIENCE_KEY) is not None


RUNS_PER_INSERT = 1000  # 10 values a row: well under PostgreSQL's 65,535 parameters


@dataclass(frozen=True)
class RunStart:
    """One run to start: whose, for which trigger (unique per customer and flow), step 1 when."""

    customer_id: int
    trigger_key: str
    first_due: datetime


def start_runs(
    session: Session,
    shop_id: int,
    flow_key: str,
    config: FlowConfig,
    starts: Sequence[RunStart],
    now: datetime,
) -> list[int]:
    """Every flow's entry, for any number of runs of one flow in one INSERT: the audience check
    (one query, only when the flow is limited to a segment), then each run (a `holdout` run
    without messages for the holdout share), unique on (shop, flow, customer, trigger key), and
    step 1 scheduled at its `first_due` after commit. → the new runs' ids, in `starts` order;
    none for a customer outside the audience (or when its segment can't be evaluated, which the
    shop's last error then says) nor for a trigger that already has its run."""
    if _has_audience(session, shop_id, flow_key) and starts:
        audience = flow_audience(
            session, shop_id, flow_key, sorted({s.customer_id for s in starts})
        )
        starts = [start for start in starts if audience.exit_reason(start.customer_id) is None]
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for start in starts:
        holdout = in_holdout(shop_id, flow_key, start.customer_id, config.holdout_percent)
        rows.setdefault(
            (start.customer_id, start.trigger_key),
            {
                "shop_id": shop_id,
                "flow_key": flow_key,
                "customer_id": start.customer_id,
                "trigger_key": start.trigger_key,
                "status": "holdout" if holdout else "running",
                "next_step": None if holdout else 1,
                "next_step_at": None if holdout else start.first_due,
                "started_at": now,
                "ended_at": now if holdout else None,
                "updated_at": now,
            },
        )
    if not rows:
        return []
    values = list(rows.values())
    run_ids: dict[tuple[int, str], int] = {}
    for first in range(0, len(values), RUNS_PER_INSERT):
        inserted = session.execute(
            dialect_insert(session, FlowRun)
            .values(values[first : first + RUNS_PER_INSERT])
            .on_conflict_do_nothing(
                index_elements=["shop_id", "flow_key", "customer_id", "trigger_key"]
            )
            .returning(FlowRun.id, FlowRun.customer_id, FlowRun.trigger_key)
        )
        run_ids.update(
            ((customer_id, trigger_key), int(run_id))
            for run_id, customer_id, trigger_key in inserted
        )
    started: list[int] = []
    for key, row in rows.items():
        run_id = run_ids.get(key)
        if run_id is None:
            continue
        started.append(run_id)
        holdout = row["status"] == "holdout"
        log.info(
            "flow run started shop_id=%s flow=%s run_id=%s holdout=%s",
            shop_id,
            flow_key,
            run_id,
            holdout,
        )
        if not holdout:
            schedule_flow_step(session, shop_id, flow_key, 1, row["next_step_at"])
    return started


def start_run(
    session: Session,
    shop_id: int,
    flow_key: str,
    customer_id: int,
    trigger_key: str,
    config: FlowConfig,
    first_due: datetime,
    now: datetime,
) -> int | None:
    """`start_runs` for one run → its id, or None (not in the audience, or a run exists for
    this trigger)."""
    started = start_runs(
        session, shop_id, flow_key, config, [RunStart(customer_id, trigger_key, first_due)], now
    )
    return started[0] if started else None


def exit_runs(
    session: Session,
    shop_id: int,
    reason: str,
    *,
    trigger_key: str | None = None,
    trigger_keys: Collection[str] = (),
    customer_id: int | None = None,
    customer_ids: Collection[int] = (),
    started_before: datetime | None = None,
    except_flows: Sequence[str] = (),
    flows: Sequence[str] = (),
) -> int:
    """Exit the shop's running runs for a checkout token (or any of `trigger_keys`) and/or a
    customer (or any of `customer_ids`), in one UPDATE (only those of `flows` when given, never
    those of `except_flows`)."""
    conditions = [FlowRun.shop_id == shop_id, FlowRun.status == "running"]
    if except_flows:
        conditions.append(FlowRun.flow_key.not_in(except_flows))
    if flows:
        conditions.append(FlowRun.flow_key.in_(flows))
    if trigger_key is not None:
        conditions.append(FlowRun.trigger_key == trigger_key)
    if trigger_keys:
        conditions.append(FlowRun.trigger_key.in_(sorted(trigger_keys)))
    if customer_id is not None:
        conditions.append(FlowRun.customer_id == customer_id)
    if customer_ids:
        conditions.append(FlowRun.customer_id.in_(sorted(customer_ids)))
    if started_before is not None:
        conditions.append(FlowRun.started_at <= started_before)
    if trigger_key is None and not trigger_keys and customer_id is None and not customer_ids:
        return 0
    result = session.execute(
        update(FlowRun)
        .where(*conditions)
        .values(status="exited", exit_reason=reason, next_step=None, ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def exit_on_customer_orders(
    flow_key: str,
) -> Callable[[Session, Sequence[CustomerOrder]], None]:
    """The `CUSTOMERS_ORDERED` trigger of a flow a purchase ends (cart, win-back): each order
    exits the customer's running runs of `flow_key` started before it was placed."""

    def exit_ordered(session: Session, orders: Sequence[CustomerOrder]) -> None:
        # A run started before any of its customer's orders exits: before the latest of them.
        latest: dict[int, dict[int, datetime]] = {}
        for order in orders:
            placed = latest.setdefault(order.shop_id, {})
            known = placed.get(order.customer_id)
            if known is None or order.placed_at > known:
                placed[order.customer_id] = order.placed_at
        for shop_id, placed in sorted(latest.items()):
            session.execute(
                update(FlowRun)
                .where(
                    FlowRun.shop_id == shop_id,
                    FlowRun.status == "running",
                    FlowRun.flow_key == flow_key,
                    FlowRun.customer_id.in_(sorted(placed)),
                    FlowRun.started_at
                    <= case(
                        {customer: literal(at, UTCDateTime()) for customer, at in placed.items()},
                        value=FlowRun.customer_id,
                    ),
                )
                .values(status="exited", exit_reason="ordered", next_step=None, ended_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    exit_ordered.__qualname__ = f"exit_on_customer_orders({flow_key!r})"
    return exit_ordered


# --- one step --------------------------------------------------------------------------------


def load_order_exits(
    session: Session, shop_id: int, runs: Sequence[FlowRun]
) -> dict[int, tuple[str, ...]]:
    """The exits of flows a purchase ends (cart, win-back), for many runs in two queries: the
    run's checkout completed, an order carrying its checkout token, or any order of the
    customer since the run started (a win-back run's trigger key names no checkout)."""
    if not runs:
        return {}
    tokens = {run.trigger_key for run in runs}
    customer_ids = {run.customer_id for run in runs}
    completed = set(
        session.scalars(
            select(Checkout.external_id).where(
                Checkout.shop_id == shop_id,
                Checkout.external_id.in_(tokens),
                Checkout.completed_at.is_not(None),
            )
        )
    )
    ordered_tokens: set[str] = set()
    order_times: dict[int, list[datetime]] = {}
    earliest = min(run.started_at for run in runs)
    for token, customer_id, placed_at in session.execute(
        select(Order.checkout_token, Order.customer_id, order_time()).where(
            Order.shop_id == shop_id,
            or_(
                Order.checkout_token.in_(tokens),
                Order.customer_id.in_(customer_ids) & (order_time() >= earliest),
            ),
        )
    ):
        if token is not None:
            ordered_tokens.add(token)
        if customer_id is not None and placed_at is not None:
            order_times.setdefault(customer_id, []).append(placed_at)
    exits: dict[int, tuple[str, ...]] = {}
    for run in runs:
        happened = []
        if run.trigger_key in completed:
            happened.append("checkout_completed")
        if run.trigger_key in ordered_tokens or any(
            placed_at >= run.started_at for placed_at in order_times.get(run.customer_id, ())
        ):
            happened.append("ordered")
        if happened:
            exits[run.id] = tuple(happened)
    return exits


# --- SendGrid events -------------------------------------------------------------------------

SUPPRESSING_EVENTS = frozenset(
    {"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"}
)
_SETTLES_UNKNOWN = frozenset({"processed", "delivered", "open", "click", "deferred", "bounce"})


def _message_of(session: Session, event: Event) -> Message | None:
    """The message an event belongs to: by `kizuna_message_id` (checked against
    `kizuna_shop_id`), else by the X-Message-Id the send recorded."""
    raw = event.kizuna_message_id
    if raw and raw.isdigit():
        msg = session.get(Message, int(raw))
        shop = event.kizuna_shop_id
        if msg is not None and (shop is None or shop == str(msg.shop_id)):
            return msg
    if event.x_message_id:
        return session.scalars(
            select(Message).where(Message.x_message_id == event.x_message_id).limit(1)
        ).first()
    return None


def record_message_events(session: Session, events: Sequence[Event]) -> dict[str, int]:
    """Store a verified Event Webhook batch once and apply it; commits.

    Each event is inserted under both dedupe keys (`sg_event_id`, natural key); a duplicate
    inserts nothing and is not applied again. delivered/open/click stamp the message (and
    settle an `unknown` one as sent); bounce/dropped/spamreport/unsubscribe/group_unsubscribe
    suppress the address and set the shop's matching customers UNSUBSCRIBED.
    """
    counts = {"recorded": 0, "duplicate": 0, "unmatched": 0}
    for item in events:
        keys = event_dedupe_keys(item)
        msg = _message_of(session, item)
        shop_id = msg.shop_id if msg else None
        claimed_shop = item.kizuna_shop_id or ""
        if shop_id is None and claimed_shop.isdigit():
            shop_id = session.scalar(select(Shop.id).where(Shop.id == int(claimed_shop)))
        inserted = session.scalar(
            dialect_insert(session, MessageEvent)
            .values(
                shop_id=shop_id,
                message_id=msg.id if msg else None,
                event=item.event[:40],
                occurred_at=item.timestamp,
                sg_event_id=keys.event_id,
                natural_key=keys.natural,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing()
            .returning(MessageEvent.id)
        )
        if inserted is None:
            counts["duplicate"] += 1
            continue
        counts["recorded"] += 1
        if msg is None:
            counts["unmatched"] += 1
        else:
            if msg.status in ("unknown", "sending") and item.event in _SETTLES_UNKNOWN:
                msg.status = "sent"
                msg.x_message_id = msg.x_message_id or item.x_message_id
            if item.event == "delivered":
                msg.delivered_at = msg.delivered_at or item.timestamp
            elif item.event == "open":
                msg.opened_at = msg.opened_at or item.timestamp
            elif item.event == "click":
                msg.clicked_at = msg.clicked_at or item.timestamp
        if item.event in SUPPRESSING_EVENTS and shop_id is not None:
            suppress_address(session, shop_id, item.email, item.event)
    session.commit()
    return counts
