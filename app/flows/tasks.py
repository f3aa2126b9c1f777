"""Flow step tasks (queue `flows`), the flow sweeper and the message sweeper (queue `email`), run
through `jobs.flows` and `jobs.message_sweep`.

Layer: services; each task commits its own transactions. A batch's messages are committed before
anything is sent; its claimed emails then leave together, the rest through `send-<id>` jobs.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from app.db import utcnow
from app.flows.dispatch import BATCH_SIZE, advance_run, dispatch_due
from app.flows.scheduling import runs_due, schedule_step
from app.flows.send import deliver
from app.flows.triggers import daily_scan, daily_scan_active_shops
from app.heartbeats import worker_lost
from app.kizuna import Kizuna
from app.models import Shop
from app.models.flow import Message
from app.queueing import enqueue, job_id
from app.tasks import DISPATCH_DUE_STEPS, SEND_MESSAGE

log = logging.getLogger(__name__)

# The message sweeper: a `pending` message overdue by `LOST_AFTER` is enqueued again under
# `send-<id>` (the send claims the row, so it goes once); a `sending` one a dead worker abandoned
# (or older than `ABANDONED_AFTER`) becomes `unknown` and is never resent.
LOST_AFTER = timedelta(minutes=1)
ABANDONED_AFTER = timedelta(minutes=15)
SWEEP_BATCH = 1_000
# How long one dispatch job works before handing the rest of the due runs to a new job: well
# inside the task's timeout, and short enough for other shops' jobs to get a worker.
DISPATCH_BUDGET_S = 60.0


def run_flow_step(runtime: Kizuna, run_id: int, step: int, now: datetime | None = None) -> str:
    """Advance run `run_id` to `step`; returns created, duplicate, stopped or exited:<reason>."""
    with runtime.db.session() as session:
        outcome = advance_run(session, run_id, step, now)
        if outcome == "duplicate":
            session.rollback()
        else:
            session.commit()
    log.info("flow step run_id=%s step=%s outcome=%s", run_id, step, outcome)
    return outcome


def dispatch_due_steps(
    runtime: Kizuna,
    shop_id: int,
    flow_key: str,
    step: int,
    now: datetime | None = None,
    budget_s: float = DISPATCH_BUDGET_S,
) -> dict[str, int]:
    """Advance every run of this shop and flow whose step `step` is due, a batch at a time,
    sending each batch's claimed emails after its commit; → outcome counts. Concurrent jobs
    share the work (locked runs are skipped). After `budget_s` seconds with runs still due, a
    job to go on is queued and this one ends, so no job outlives its timeout."""
    totals: Counter[str] = Counter()
    deadline = time.monotonic() + budget_s
    while True:
        with runtime.db.session() as session:
            batch = dispatch_due(session, runtime.config, shop_id, flow_key, step, now or utcnow())
            session.commit()
        totals.update(batch.outcomes)
        sent = Counter(deliver(runtime, batch.emails, flow_key).values())
        totals.update({f"sent:{status}": count for status, count in sent.items()})
        if batch.claimed < BATCH_SIZE:
            break
        if time.monotonic() >= deadline:
            more = job_id("flow", shop_id, flow_key, step, "more", int(time.time()))
            enqueue(runtime.redis, DISPATCH_DUE_STEPS, shop_id, flow_key, step, job_id=more)
            totals["continued"] += 1
            break
    log.info(
        "flow dispatch shop_id=%s flow=%s step=%s outcomes=%s",
        shop_id,
        flow_key,
        step,
        dict(totals),
    )
    return dict(totals)


def sweep_flow_runs(runtime: Kizuna, every: float = 30.0, overdue_after: float = 60.0) -> int:
    """Re-schedule steps overdue by more than `overdue_after` seconds, whose job was lost (Redis
    down at commit, or restarted empty); safe to run twice, and beside the step's own job."""
    now = utcnow()
    with runtime.db.session() as session:
        due = runs_due(session, now, timedelta(seconds=overdue_after))
        for run in due:
            if run.next_step is not None:
                schedule_step(session, run, run.next_step, now)
        session.commit()
    return len(due)


def scan_winback(runtime: Kizuna, every: float = 86400.0) -> int:
    """The daily scan (win-back runs for lapsing customers) of every active shop at once (the
    demo); the scheduler runs `scan_winback_shop` per shop at its local hour instead. Safe twice."""
    with runtime.db.session() as session:
        started = daily_scan_active_shops(session, utcnow())
        session.commit()
    log.info("winback scan started=%s", started)
    return started


def scan_winback_shop(runtime: Kizuna, shop_id: int) -> int:
    """Daily at the shop's local hour: the shop's daily scan (win-back runs for its lapsing
    customers, `triggers.daily_scan`); safe twice."""
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or not shop.is_active:
            log.info("winback scan skipped shop=%s: not active", shop_id)
            return 0
        started = len(daily_scan(session, shop, utcnow()))
        session.commit()
    log.info("winback scan shop=%s started=%s", shop_id, started)
    return started


def sweep_messages(
    runtime: Kizuna, every: float = 30.0, lost_after: float = LOST_AFTER.total_seconds()
) -> dict[str, int]:
    """Re-enqueue pending sends due more than `lost_after` seconds ago (a send job still
    queued is left alone) and mark abandoned `sending` rows `unknown`."""
    now = utcnow()
    with runtime.db.session() as session:
        due = func.coalesce(Message.not_before, Message.created_at)
        lost = list(
            session.scalars(
                select(Message.id)
                .where(Message.status == "pending", due < now - timedelta(seconds=lost_after))
                .order_by(Message.id)
                .limit(SWEEP_BATCH)
            )
        )
        claimers = session.scalars(
            select(Message.claimed_by)
            .where(Message.status == "sending", Message.claimed_by.is_not(None))
            .distinct()
        ).all()
        dead = [name for name in claimers if name and worker_lost(runtime.redis, name)]
        abandoned = session.execute(
            update(Message)
            .where(
                Message.status == "sending",
                Message.claimed_by.in_(dead) | (Message.sent_at < now - ABANDONED_AFTER),
            )
            .values(status="unknown", last_error="worker_lost")
            .execution_options(synchronize_session=False)
        )
        session.commit()
    for message_id in lost:
        enqueue(runtime.redis, SEND_MESSAGE, message_id, job_id=job_id("send", message_id))
    counts = {"requeued": len(lost), "unknown": int(getattr(abandoned, "rowcount", 0) or 0)}
    if any(counts.values()):
        log.info("message sweep requeued=%s unknown=%s", counts["requeued"], counts["unknown"])
    return counts
