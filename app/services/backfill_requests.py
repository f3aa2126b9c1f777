"""Asking for a Shopify shop's sync: the first backfill after an install, or one now from the CLI.

Layer: services; nothing here commits. Both use the job id `backfill-<shop_id>`, so a sync asked
for while one is queued or running is that same job (`app.queueing`). The sync itself is the job
`jobs.sync.backfill_shop` (`app.tasks.BACKFILL_SHOP`: queue `sync`, retried on deadlocks).
"""

from __future__ import annotations

from rq.job import Job
from sqlalchemy.orm import Session

from app.kizuna import Kizuna
from app.queueing import enqueue, enqueue_after_commit, job_id
from app.tasks import BACKFILL_SHOP


def backfill_job_id(shop_id: int) -> str:
    return job_id("backfill", shop_id)


def enqueue_backfill(runtime: Kizuna, session: Session, shop_id: int) -> None:
    """Queue the shop's first backfill once `session` commits (a duplicate enqueue is a no-op)."""
    enqueue_after_commit(
        session, runtime.redis, BACKFILL_SHOP, shop_id, True, job_id=backfill_job_id(shop_id)
    )


def enqueue_sync_now(runtime: Kizuna, shop_id: int, *, full: bool = False) -> Job:
    """Queue the shop's sync at once (CLI); the running or queued job when there is one."""
    return enqueue(runtime.redis, BACKFILL_SHOP, shop_id, full, job_id=backfill_job_id(shop_id))
