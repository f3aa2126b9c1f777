"""The message sweeper: re-queue lost sends, settle sends a dead worker abandoned.

Layer: jobs (queue `email`, run by the scheduler; safe to run twice and beside live workers).
A `pending` message overdue by `LOST_AFTER` is enqueued again under `send-<id>` (the send claims
the row, so it goes once); an abandoned `sending` one becomes `unknown` and is never resent.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from app.db import utcnow
from app.heartbeats import worker_lost
from app.kizuna import Kizuna
from app.models.flow import Message
from app.queueing import enqueue, job_id
from app.tasks import SEND_MESSAGE
from jobs.context import kizuna_job

log = logging.getLogger(__name__)

LOST_AFTER = timedelta(minutes=1)
ABANDONED_AFTER = timedelta(minutes=15)
BATCH = 1_000


@kizuna_job
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
                .limit(BATCH)
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
