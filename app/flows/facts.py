"""The facts the send rules read (`rules.Facts`), loaded set-wise for a batch of runs.

Layer: flows, above the registry (a flow's exits and priority come from its definition), reads
only, inside the caller's transaction. A batch of one shop and flow costs a
fixed number of queries, whatever its size (the post-purchase exits excepted: one per run).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from app.domain.orchestration import shop_zone
from app.flows import registry
from app.flows.reads import flow_config, may_receive, shop_row
from app.flows.rules import Facts
from app.models import Customer, Shop
from app.models.flow import FlowRun, Message
from app.services.inquiries import paused_customers
from app.services.segments import flow_audience
from app.services.sender_identity import identity_of
from app.services.unsubscribe import suppressed_emails
from app.services.upsert import normalize_email


def recent_sends(
    session: Session,
    shop_id: int,
    customer_ids: Collection[int],
    now: datetime,
    exclude_ids: Collection[int] = (),
) -> dict[int, list[datetime]]:
    """When these customers were last emailed (sent, in flight or unknown), within a week, in
    one query: customer id → send times (`exclude_ids`: the messages being decided)."""
    if not customer_ids:
        return {}
    conditions = [
        Message.shop_id == shop_id,
        # The ids' range bounds the scan of the shop's messages by customer even when the
        # planner's statistics are stale (a campaign grows `messages` by a million rows):
        # read by shop alone, every batch would read all the messages sent before it.
        Message.customer_id.between(min(customer_ids), max(customer_ids)),
        Message.customer_id.in_(customer_ids),
        Message.status.in_(("sending", "sent", "unknown")),
        Message.sent_at.is_not(None),
        Message.sent_at >= now - timedelta(days=7),
    ]
    if exclude_ids:
        conditions.append(Message.id.not_in(exclude_ids))
    times: dict[int, list[datetime]] = {}
    for customer_id, sent_at in session.execute(
        select(Message.customer_id, Message.sent_at).where(*conditions)
    ):
        if sent_at is not None:
            times.setdefault(customer_id, []).append(sent_at)
    return times


def customers_outranked(
    session: Session,
    shop_id: int,
    flow_key: str,
    customer_ids: Collection[int],
    now: datetime,
    exclude_messages: Collection[int] = (),
) -> set[int]:
    """Which of these customers have a due step or a due or in-flight message of a flow that
    outranks `flow_key` (then this flow's email waits its turn). One statement, so one
    snapshot: a step that creates and claims its message in another transaction is seen either
    as the due run before its commit or as the message after it, never as neither."""
    better = registry.outranking(flow_key)
    if not better or not customer_ids:
        return set()
    conditions = [
        Message.shop_id == shop_id,
        Message.customer_id.in_(customer_ids),
        FlowRun.flow_key.in_(better),
        Message.status.in_(("pending", "sending")),
        (Message.not_before.is_(None)) | (Message.not_before <= now),
    ]
    if exclude_messages:
        conditions.append(Message.id.not_in(exclude_messages))
    waiting_messages = (
        select(Message.customer_id)
        .join(FlowRun, FlowRun.id == Message.flow_run_id)
        .where(*conditions)
    )
    due_steps = select(FlowRun.customer_id).where(
        FlowRun.shop_id == shop_id,
        FlowRun.customer_id.in_(customer_ids),
        FlowRun.flow_key.in_(better),
        FlowRun.status == "running",
        FlowRun.next_step_at <= now,
    )
    return set(session.scalars(union(waiting_messages, due_steps)))


class FactSet:
    """Everything the rules need about `runs` (all of `shop_id` and `flow_key`) at `now`; at
    send time `messages` are the messages being decided (left out of the priority and cap
    reads). `facts(run, message)` builds one run's `Facts`; `record_send` makes a later
    decision of the same batch see an email this one let go (a second cart waits for the cap)."""

    def __init__(
        self,
        session: Session,
        shop_id: int,
        flow_key: str,
        runs: Sequence[FlowRun],
        now: datetime,
        messages: Collection[Message] = (),
    ) -> None:
        self.shop_id, self.flow_key, self.now = shop_id, flow_key, now
        self.shop: Shop | None = shop_row(session, shop_id)
        self.sender_identity_set = identity_of(self.shop) is not None
        self.enabled, self.config = flow_config(session, shop_id, flow_key)
        customer_ids = {run.customer_id for run in runs}
        self.customers: dict[int, Customer] = (
            {
                customer.id: customer
                for customer in session.scalars(
                    select(Customer).where(
                        Customer.shop_id == shop_id, Customer.id.in_(customer_ids)
                    )
                )
            }
            if customer_ids
            else {}
        )
        self.suppressed = suppressed_emails(
            session, shop_id, (c.email for c in self.customers.values())
        )
        self.audience = flow_audience(session, shop_id, flow_key, customer_ids)
        definition = registry.get(flow_key)
        self.requested = definition.requested
        self.exits = definition.load_exits(session, shop_id, runs)
        self.paused = paused_customers(session, shop_id, customer_ids)
        exclude = {message.id for message in messages}
        self.outranked = customers_outranked(
            session, shop_id, flow_key, customer_ids, now, exclude_messages=exclude
        )
        self.recent = recent_sends(session, shop_id, customer_ids, now, exclude_ids=exclude)

    def customer(self, run: FlowRun) -> Customer | None:
        return self.customers.get(run.customer_id)

    def facts(self, run: FlowRun, message: Message | None = None) -> Facts:
        customer = self.customer(run)
        email = normalize_email(customer.email) if customer is not None else None
        run_exit = None
        if message is not None and run.status == "exited":
            run_exit = str(run.exit_reason)
        return Facts(
            shop_active=self.shop is not None and self.shop.is_active,
            sender_identity_set=self.sender_identity_set,
            flow_enabled=self.enabled,
            customer_present=customer is not None
            and customer.deleted_at is None
            and customer.redacted_at is None,
            subscribed=may_receive(customer, requested=self.requested),
            suppressed=email is None or email in self.suppressed,
            run_exit=run_exit,
            audience_exit=self.audience.exit_reason(run.customer_id),
            flow_exits=self.exits.get(run.id, ()),
            complaint_open=run.customer_id in self.paused,
            not_before=message.not_before if message is not None else None,
            outranked=run.customer_id in self.outranked,
            recent_sends=tuple(self.recent.get(run.customer_id, ())),
            zone=shop_zone(self.shop.timezone if self.shop is not None else None),
            config=self.config,
        )

    def record_send(self, customer_id: int, when: datetime) -> None:
        self.recent.setdefault(customer_id, []).append(when)
