"""Due flow steps, many runs at a time: claim them, check them, create their messages, and
claim the emails that can leave together.

Layer: services, inside the caller's transaction (`jobs.flows.dispatch_due_steps` commits, then
sends). Runs are claimed with `FOR UPDATE SKIP LOCKED`, so concurrent jobs split the work and
never take the same run. The win-back steps and the cart steps without a discount code are
checked set-wise — the same exits as `flows.exit_reason` and the same send-time rules as
`jobs.send_email` (open complaint, flow priority, frequency cap, quiet hours), each read once
per batch — and their ready messages are claimed (`sending`, attempts 1) in the same
transaction that creates them and advances the runs: the row exists before anything is sent,
and a claimed row is never sent again. Every other step (post-purchase emails differ per
recipient; a discount code is created per message), and any email that cannot share content,
takes the one-run path (`advance_run`, then `send-<message id>`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.config import Config
from app.domain.orchestration import CART, WINBACK, FlowConfig, next_send_time, shop_zone
from app.flows import winback
from app.flows.cart import (
    SharedContent,
    language,
    render_shared,
    shared_email,
    step_has_discount,
)
from app.flows.runs import (
    PRIORITY_DELAY,
    advance_run,
    claim_due_runs,
    customers_outranked,
    enqueue_send,
    flow_config,
    flow_setting,
    is_subscribed,
    recent_sends,
    schedule_step,
    shop_row,
)
from app.heartbeats import process_name
from app.models import Checkout, Customer, Order, Shop
from app.models.flow import FlowRun, Message
from app.models.order import order_time
from app.services.inquiries import paused_customers
from app.services.segments import flow_audience
from app.services.unsubscribe import suppressed_emails
from app.services.upsert import dialect_insert, normalize_email
from connectors.sendgrid.mail import MAX_PERSONALIZATIONS, OutgoingEmail, refusal

BATCH_SIZE = MAX_PERSONALIZATIONS  # runs per transaction: at most one Mail Send request each


@dataclass
class Dispatched:
    """One batch: how many runs it claimed, their outcomes, and the emails claimed for sending
    once the caller commits (each `sending`, to be sent exactly once)."""

    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    emails: list[OutgoingEmail] = field(default_factory=list)


def dispatch_due(
    session: Session,
    config: Config,
    shop_id: int,
    flow_key: str,
    step: int,
    now: datetime,
    limit: int = BATCH_SIZE,
) -> Dispatched:
    """Advance up to `limit` due runs of this shop, flow and step. Does not commit."""
    runs = claim_due_runs(session, shop_id, flow_key, step, now, limit)
    if not runs:
        return Dispatched()
    if set_wise(session, shop_id, flow_key, step):
        return _Batch(session, config, flow_key, runs, step, now).dispatch()
    outcomes = Counter(advance_run(session, run.id, step, now) for run in runs)
    return Dispatched(claimed=len(runs), outcomes=outcomes)


def set_wise(session: Session, shop_id: int, flow_key: str, step: int) -> bool:
    """Whether this step's emails share content: win-back, and cart steps without a code."""
    if flow_key == WINBACK:
        return True
    setting = flow_setting(session, shop_id, flow_key)
    return flow_key == CART and not step_has_discount(setting.config if setting else None, step)


@dataclass
class _Decision:
    run: FlowRun
    status: str = "pending"  # of the message: pending, skipped, or sending (ready)
    last_error: str | None = None
    not_before: datetime | None = None
    message_id: int | None = None


class _Batch:
    """The checks, messages and shared emails of one batch of locked cart or win-back runs."""

    def __init__(
        self,
        session: Session,
        config: Config,
        flow_key: str,
        runs: list[FlowRun],
        step: int,
        now: datetime,
    ) -> None:
        self.session, self.config, self.runs, self.step, self.now = session, config, runs, step, now
        self.flow_key, self.shop_id = flow_key, runs[0].shop_id
        customer_ids = {run.customer_id for run in runs}
        self.customers = {
            customer.id: customer
            for customer in session.scalars(
                select(Customer).where(
                    Customer.shop_id == self.shop_id, Customer.id.in_(customer_ids)
                )
            )
        }
        self.suppressed = suppressed_emails(
            session, self.shop_id, (c.email for c in self.customers.values())
        )
        self.audience = flow_audience(session, self.shop_id, flow_key, customer_ids)
        tokens = {run.trigger_key for run in runs}
        self.checkouts = {
            checkout.external_id: checkout
            for checkout in session.scalars(
                select(Checkout).where(
                    Checkout.shop_id == self.shop_id, Checkout.external_id.in_(tokens)
                )
            )
        }
        self.ordered_tokens: set[str] = set()
        self.order_times: dict[int, list[datetime]] = {}
        earliest = min(run.started_at for run in runs)
        for token, customer_id, placed_at in session.execute(
            select(Order.checkout_token, Order.customer_id, order_time()).where(
                Order.shop_id == self.shop_id,
                or_(
                    Order.checkout_token.in_(tokens),
                    Order.customer_id.in_(customer_ids) & (order_time() >= earliest),
                ),
            )
        ):
            if token is not None:
                self.ordered_tokens.add(token)
            if customer_id is not None and placed_at is not None:
                self.order_times.setdefault(customer_id, []).append(placed_at)
        self.paused = paused_customers(session, self.shop_id, customer_ids)
        self.outranked = customers_outranked(session, self.shop_id, flow_key, customer_ids, now)
        self.recent = recent_sends(session, self.shop_id, customer_ids, now)

    def exit_reason(self, run: FlowRun, shop: Shop | None, enabled: bool) -> str | None:
        """`flows.exit_reason` for a cart or win-back run, from this batch's reads (a win-back
        run's trigger key names no checkout and no order's checkout token)."""
        if shop is None or not shop.is_active:
            return "shop_inactive"
        if not enabled:
            return "flow_disabled"
        customer = self.customers.get(run.customer_id)
        if customer is None or customer.deleted_at or customer.redacted_at:
            return "customer_gone"
        if not is_subscribed(customer):
            return "no_consent"
        email = normalize_email(customer.email)
        if email is None or email in self.suppressed:
            return "suppressed"
        audience_exit = self.audience.exit_reason(run.customer_id)
        if audience_exit is not None:
            return audience_exit
        checkout = self.checkouts.get(run.trigger_key)
        if checkout is not None and checkout.completed_at is not None:
            return "checkout_completed"
        if run.trigger_key in self.ordered_tokens or any(
            placed_at >= run.started_at for placed_at in self.order_times.get(run.customer_id, ())
        ):
            return "ordered"
        return None

    def decide(self, run: FlowRun, shop: Shop, config: FlowConfig) -> _Decision:
        """The send-time rules of `jobs.send_email`: an open complaint skips the email; a due
        email of a higher-priority flow, the frequency cap and quiet hours postpone it;
        otherwise it is ready now."""
        if run.customer_id in self.paused:
            return _Decision(run, status="skipped", last_error="complaint_open")
        due = self.now
        if run.customer_id in self.outranked:  # cart first
            due = self.now + PRIORITY_DELAY
        sends = self.recent.setdefault(run.customer_id, [])
        when = next_send_time(due, sends, shop_zone(shop.timezone), config)
        if when > self.now:
            return _Decision(run, not_before=when)
        sends.append(self.now)  # a second cart of the same customer waits for the cap
        return _Decision(run, status="sending")

    def advance(self, run: FlowRun, config: FlowConfig) -> None:
        if self.step < config.steps:
            due = run.started_at + config.step_delays[self.step]
            run.next_step, run.next_step_at = self.step + 1, due
            schedule_step(self.session, run, self.step + 1, max(due, self.now))
        else:
            run.status, run.next_step, run.next_step_at = "completed", None, None
            run.ended_at = self.now

    def dispatch(self) -> Dispatched:
        shop = shop_row(self.session, self.shop_id)
        enabled, config = flow_config(self.session, self.shop_id, self.flow_key)
        result = Dispatched(claimed=len(self.runs))
        decisions: list[_Decision] = []
        for run in self.runs:
            reason = self.exit_reason(run, shop, enabled)
            if reason is not None:
                run.status, run.exit_reason, run.next_step = "exited", reason, None
                run.ended_at = self.now
                result.outcomes[f"exited:{reason}"] += 1
                continue
            assert shop is not None  # noqa: S101 - exit_reason checked it
            decisions.append(self.decide(run, shop, config))
            self.advance(run, config)
        if not decisions:
            return result
        self._insert_messages(decisions)
        assert shop is not None  # noqa: S101 - decisions exist
        result.emails = self._claim_emails(shop, decisions)
        for decision in decisions:
            if decision.message_id is None:
                result.outcomes["duplicate"] += 1
            else:
                result.outcomes["created"] += 1
                if decision.status == "pending":
                    enqueue_send(self.session, decision.message_id, decision.not_before)
        return result

    def _insert_messages(self, decisions: list[_Decision]) -> None:
        """All messages of the batch in one statement, `pending` (or `skipped`) for now."""
        rows = [
            {
                "shop_id": self.shop_id,
                "flow_run_id": d.run.id,
                "step": self.step,
                "customer_id": d.run.customer_id,
                "status": "skipped" if d.status == "skipped" else "pending",
                "last_error": d.last_error,
                "not_before": d.not_before,
                "attempts": 0,
                "created_at": self.now,
            }
            for d in decisions
        ]
        inserted = self.session.execute(
            dialect_insert(self.session, Message)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["flow_run_id", "step", "customer_id"])
            .returning(Message.id, Message.flow_run_id)
        )
        ids = {int(run_id): int(message_id) for message_id, run_id in inserted}
        for decision in decisions:
            decision.message_id = ids.get(decision.run.id)

    def _claim_emails(self, shop: Shop, decisions: list[_Decision]) -> list[OutgoingEmail]:
        """The ready messages' emails on shared content, claimed (`sending`) in one statement
        per subject; a message that cannot share content stays `pending` for its own send, one
        SendGrid would refuse (a malformed address) is `failed` with the reason."""
        contents: dict[str, SharedContent] = {}
        emails: list[OutgoingEmail] = []
        claimed: dict[str, list[int]] = {}
        refused: dict[int, str] = {}
        for decision in decisions:
            if decision.status != "sending" or decision.message_id is None:
                continue
            customer = self.customers[decision.run.customer_id]
            lang = language(customer, shop)
            message = Message(id=decision.message_id, step=self.step)
            if lang not in contents:
                contents[lang] = (
                    winback.render_shared(shop, self.step, lang)
                    if self.flow_key == WINBACK
                    else render_shared(self.session, shop, self.step, lang)
                )
            email = None
            if self.flow_key == WINBACK:
                email = winback.shared_email(self.config, shop, customer, message, contents[lang])
            elif (checkout := self.checkouts.get(decision.run.trigger_key)) is not None:
                email = shared_email(self.config, shop, customer, checkout, message, contents[lang])
            if email is None:
                decision.status = "pending"  # sent on its own (`send-<message id>`)
                continue
            problem = refusal(email)
            if problem is not None:  # e.g. a malformed address: never sendable
                decision.status = "failed"
                refused[decision.message_id] = problem
                continue
            emails.append(email)
            claimed.setdefault(email.subject, []).append(decision.message_id)
        for message_id, reason in refused.items():
            self.session.execute(
                update(Message)
                .where(Message.id == message_id)
                .values(status="failed", last_error=reason)
                .execution_options(synchronize_session=False)
            )
        for subject, ids in claimed.items():
            self.session.execute(
                update(Message)
                .where(Message.id.in_(ids))
                .values(
                    status="sending",
                    attempts=1,
                    sent_at=self.now,
                    subject=subject,
                    claimed_by=process_name(),
                )
                .execution_options(synchronize_session=False)
            )
        return emails
