"""Queues, in the order workers take them, and enqueueing after commit.

Layer: jobs infrastructure. Job ids are deterministic (`<job>-<shop>-<key>`), so enqueueing the
same work twice is a no-op while the first job is still queued or running (unless the worker
running it is gone: its heartbeat stopped). `enqueue_after_commit` hooks the
session: nothing reaches Redis unless the transaction that made the work committed; if Redis is
down at that moment the work stays recorded in the database for the sweeper.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.heartbeats import worker_lost
from app.logs import job_meta

log = logging.getLogger(__name__)

WEBHOOKS, FLOWS, EMAIL, SYNC, DEFAULT = "webhooks", "flows", "email", "sync", "default"
QUEUE_NAMES = (WEBHOOKS, FLOWS, EMAIL, SYNC, DEFAULT)  # priority order for workers

_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def job_id(*parts: object) -> str:
    return "-".join(_JOB_ID_UNSAFE.sub("_", str(part)) for part in parts)


def enqueue(
    connection: redis.Redis,
    queue_name: str,
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str | None = None,
    retry: Retry | None = None,
    job_timeout: int = 600,
) -> Job | None:
    """Enqueue unless a job with the same id is still waiting, or running in a live worker (a
    job whose worker was killed mid-run is enqueued again: every job re-checks its rows)."""
    queue = Queue(queue_name, connection=connection)
    if job_id is not None:
        existing = queue.fetch_job(job_id)
        status = existing.get_status(refresh=False) if existing is not None else None
        if existing is not None and status in _WAITING:
            return existing
        if existing is not None and status == JobStatus.STARTED:
            if not worker_lost(connection, existing.worker_name):
                return existing
            log.warning("job of a lost worker enqueued again job_id=%s", job_id)
    return queue.enqueue(
        func,  # type: ignore[type-var]  # RQ accepts a callable or its dotted path
        *args,
        job_id=job_id,
        retry=retry,
        job_timeout=job_timeout,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        meta=job_meta(),
    )


def enqueue_after_commit(
    session: Session,
    connection: redis.Redis,
    queue_name: str,
    func: Callable[..., Any] | str,
    *args: Any,
    **options: Any,
) -> None:
    """Enqueue once `session` commits; a Redis failure is logged, the sweeper recovers the work."""

    def _after_commit(_session: Session) -> None:
        try:
            enqueue(connection, queue_name, func, *args, **options)
        except (redis.RedisError, OSError) as error:
            log.warning(
                "enqueue deferred to sweeper queue=%s job_id=%s error=%s",
                queue_name,
                options.get("job_id"),
                type(error).__name__,
            )

    event.listen(session, "after_commit", _after_commit, once=True)
