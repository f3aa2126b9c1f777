"""Due flow steps, many runs at a time: claim, decide, create messages, claim shared emails.

Layer: services, inside the caller's transaction (`tasks.dispatch_due_steps` commits, then sends).
Runs are claimed `FOR UPDATE SKIP LOCKED`; a single run is a batch of one. Each message row
exists before anything is sent, and a row claimed here (`sending`) is never sent again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Config
from app.db import utcnow
from app.flows import registry
from app.flows.content import SharedContent, language
from app.flows.coupons import step_has_coupon
from app.flows.facts import FactSet
from app.flows.reads import flow_setting
from app.flows.rules import Exit, Postpone, Ready, Skip, decide
from app.flows.runs import waiting_reason
from app.flows.scheduling import claim_due_runs, enqueue_send, schedule_step
from app.heartbeats import process_name
from app.models import Shop
from app.models.flow import FlowRun, Message
from app.services.shop_errors import unsendable
from app.services.upsert import dialect_insert
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
    share = set_wise(session, shop_id, flow_key, step)
    return _Batch(session, config, flow_key, runs, step, now, share=share).dispatch()


def advance_run(session: Session, run_id: int, step: int, now: datetime | None = None) -> str:
    """Run step `step` of one run, as a batch of one: → created, duplicate, stopped (the run is
    not running) or exited:<reason>. Does not commit."""
    now = now or utcnow()
    run = session.scalars(
        select(FlowRun).where(FlowRun.id == run_id).with_for_update()
    ).one_or_none()
    if run is None or run.status != "running":
        return "stopped"
    batch = _Batch(session, None, run.flow_key, [run], step, now, share=False).dispatch()
    [(outcome, _count)] = batch.outcomes.items()
    return outcome


def set_wise(session: Session, shop_id: int, flow_key: str, step: int) -> bool:
    """Whether this step's emails share content (the flow's `shares_content`; never a step
    with a coupon)."""
    setting = flow_setting(session, shop_id, flow_key)
    config = setting.config if setting else None
    definition = registry.get(flow_key)
    if definition.create_code is None and step_has_coupon(
        {**definition.form.defaults, **(config or {})}, step
    ):
        return False  # each email carries its own code, made by its own send
    return definition.shares_content(config, step)


@dataclass
class _Decision:
    run: FlowRun
    status: str = "pending"  # of the message: pending, skipped, or sending (ready)
    last_error: str | None = None
    not_before: datetime | None = None
    message_id: int | None = None


class _Batch:
    """The decisions, messages and shared emails of one batch of locked runs of one shop,
    flow and step. `share`: claim the ready emails on shared content (needs `config`)."""

    def __init__(
        self,
        session: Session,
        config: Config | None,
        flow_key: str,
        runs: list[FlowRun],
        step: int,
        now: datetime,
        *,
        share: bool,
    ) -> None:
        self.session, self.config, self.runs, self.step, self.now = session, config, runs, step, now
        self.flow_key, self.shop_id, self.share = flow_key, runs[0].shop_id, share
        self.definition = registry.get(flow_key)
        self.facts = FactSet(session, self.shop_id, flow_key, runs, now)

    def advance(self, run: FlowRun) -> None:
        config = self.facts.config
        if self.step < config.steps:
            due = run.started_at + config.step_delays[self.step]
            run.next_step, run.next_step_at = self.step + 1, due
            schedule_step(self.session, run, self.step + 1, max(due, self.now))
        else:
            run.status, run.next_step, run.next_step_at = "completed", None, None
            run.ended_at = self.now

    def dispatch(self) -> Dispatched:
        result = Dispatched(claimed=len(self.runs))
        decisions: list[_Decision] = []
        for run in self.runs:
            decision = decide(self.facts.facts(run), self.now)
            if isinstance(decision, Exit):
                run.status, run.exit_reason, run.next_step = "exited", decision.reason, None
                run.ended_at = self.now
                result.outcomes[f"exited:{decision.reason}"] += 1
                continue
            if not self.share:
                # Sent by its own job, which decides again at send time: here only exits count.
                decisions.append(_Decision(run))
            elif isinstance(decision, Skip):
                decisions.append(_Decision(run, status="skipped", last_error=decision.reason))
            elif isinstance(decision, Postpone):
                decisions.append(
                    _Decision(run, not_before=decision.until, last_error=waiting_reason(decision))
                )
            else:
                assert isinstance(decision, Ready)  # noqa: S101 - the four outcomes
                self.facts.record_send(run.customer_id, self.now)  # a second cart waits
                decisions.append(_Decision(run, status="sending"))
            self.advance(run)
        if not decisions:
            return result
        self._insert_messages(decisions)
        shop = self.facts.shop
        if self.share and shop is not None and self.config is not None:
            result.emails = self._claim_emails(shop, decisions)
        for made in decisions:
            if made.message_id is None:
                result.outcomes["duplicate"] += 1
                continue
            result.outcomes["created"] += 1
            if made.status == "pending":
                enqueue_send(self.session, made.message_id, made.not_before)
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
        # Parameters apart from the statement: compiled once and cached, sent as multi-row
        # batches (SQLAlchemy's "insertmanyvalues"), instead of a new statement per batch.
        inserted = self.session.execute(
            dialect_insert(self.session, Message)
            .on_conflict_do_nothing(index_elements=["flow_run_id", "step", "customer_id"])
            .returning(Message.id, Message.flow_run_id),
            rows,
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
        render_shared, shared_email = self.definition.render_shared, self.definition.shared_email
        assert render_shared is not None  # noqa: S101 - decided above
        assert shared_email is not None  # noqa: S101 - shares_content
        assert self.config is not None  # noqa: S101 - checked by dispatch
        load_context = self.definition.load_context
        context = load_context(self.session, self.shop_id, self.runs) if load_context else {}
        for decision in decisions:
            if decision.status != "sending" or decision.message_id is None:
                continue
            customer = self.facts.customers[decision.run.customer_id]
            lang = language(customer, shop)
            message = Message(id=decision.message_id, step=self.step)
            if lang not in contents:
                contents[lang] = render_shared(self.session, shop, self.step, lang)
            email = shared_email(
                self.config, shop, customer, decision.run, message, contents[lang], context
            )
            if email is None:
                decision.status = "pending"  # sent on its own (`send-<message id>`)
                continue
            problem = refusal(email)
            if problem is not None:  # e.g. a malformed address: never sendable
                decision.status = "failed"
                refused[decision.message_id] = unsendable(decision.message_id, problem)
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
