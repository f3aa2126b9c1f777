"""When flow work runs: a run's next step scheduled with RQ (one job per shop, flow, step and due
second), a message's send job, the due runs a dispatch claims and the overdue ones the sweeper
finds.

Layer: flows, low (above `reads`): inside the caller's transaction; jobs are enqueued after
commit (`app.queueing`), so a rollback enqueues nothing and a Redis failure loses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows.reads import SCHEDULED, ensure_installed
from app.models.flow import FlowRun
from app.queueing import enqueue_after_commit, job_id
from app.tasks import DISPATCH_DUE_STEPS, SEND_MESSAGE


def _redis() -> redis.Redis:
    from app.kizuna import kizuna

    return kizuna().redis


def step_job_id(shop_id: int, flow_key: str, step: int, when: datetime) -> str:
    """The id of the job that runs this shop's `flow_key` step `step` for runs due at `when`:
    one per due second (rounded up, so the job never runs before its runs are due)."""
    return job_id("flow", shop_id, flow_key, step, math.ceil(when.timestamp()))


def schedule_step(session: Session, run: FlowRun, step: int, when: datetime) -> None:
    """Have step `step` of `run` run at `when` (its `next_step_at`, already set by the caller):
    the dispatch job of its due second is scheduled after commit, once per transaction."""
    schedule_flow_step(session, run.shop_id, run.flow_key, step, when)


def schedule_flow_step(
    session: Session, shop_id: int, flow_key: str, step: int, when: datetime
) -> None:
    """`schedule_step` for a run known by its shop and flow (no need to load it)."""
    ensure_installed()  # the transaction's end forgets what it scheduled
    scheduled: set[str] = session.info.setdefault(SCHEDULED, set())
    key = step_job_id(shop_id, flow_key, step, when)
    if key in scheduled:
        return
    scheduled.add(key)
    second = datetime.fromtimestamp(math.ceil(when.timestamp()), UTC)
    enqueue_after_commit(
        session,
        _redis(),
        DISPATCH_DUE_STEPS,
        shop_id,
        flow_key,
        step,
        job_id=key,
        at=second,
    )


def claim_due_runs(
    session: Session, shop_id: int, flow_key: str, step: int, now: datetime, limit: int
) -> list[FlowRun]:
    """Up to `limit` running runs of this shop and flow whose step `step` is due by `now`,
    locked for this transaction; rows another worker holds are skipped (PostgreSQL)."""
    return list(
        session.scalars(
            select(FlowRun)
            .where(
                FlowRun.shop_id == shop_id,
                FlowRun.flow_key == flow_key,
                FlowRun.status == "running",
                FlowRun.next_step == step,
                FlowRun.next_step_at <= now,
            )
            .order_by(FlowRun.next_step_at, FlowRun.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def enqueue_send(session: Session, message_id: int, when: datetime | None = None) -> None:
    """Send message `message_id` once `session` commits (at `when`, when given). A Redis failure
    leaves the message `pending` for the message sweeper."""
    key = (
        job_id("send", message_id)
        if when is None
        else job_id("send", message_id, int(when.timestamp()))
    )
    enqueue_after_commit(session, _redis(), SEND_MESSAGE, message_id, job_id=key, at=when)


def runs_due(
    session: Session, now: datetime, overdue: timedelta = timedelta(minutes=1), limit: int = 500
) -> Sequence[FlowRun]:
    """Running runs whose next step is `overdue` (their job was lost): for the flow sweeper."""
    return session.scalars(
        select(FlowRun)
        .where(
            FlowRun.status == "running",
            FlowRun.next_step_at.is_not(None),
            FlowRun.next_step_at <= now - overdue,
        )
        .order_by(FlowRun.next_step_at)
        .limit(limit)
    ).all()
