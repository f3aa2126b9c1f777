"""Queues and the one way work is put on them: `enqueue`, now or at a time, after commit or not.

Layer: app infrastructure (Redis and RQ, no Flask). Jobs are named by their `Task`, so `app`
never imports `jobs`. Ids are deterministic; RQ's atomic unique enqueue keeps a waiting or live
job and replaces one only once it is over or its worker is lost.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.heartbeats import worker_lost
from app.logs import job_meta

log = logging.getLogger(__name__)

WEBHOOKS, FLOWS, EMAIL, SYNC, DEFAULT = "webhooks", "flows", "email", "sync", "default"
QUEUE_NAMES = (WEBHOOKS, FLOWS, EMAIL, SYNC, DEFAULT)  # priority order for workers

RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600

_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_WAITING = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED})
# Two enqueuers racing on an id that is over: one replaces it, the other then finds it waiting.
_ATTEMPTS = 3


@dataclass(frozen=True)
class Task:
    """A job as the queue sees it, declared once: every enqueue of it uses these options.

    `path` is the job function's dotted path (jobs already in Redis carry it: never rename one).
    """

    path: str
    queue: str
    timeout: int = 600  # seconds
    retry_intervals: tuple[int, ...] = ()  # RQ retries, seconds before each

    def retry(self) -> Retry | None:
        if not self.retry_intervals:
            return None
        return Retry(max=len(self.retry_intervals), interval=list(self.retry_intervals))

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[1]


def job_id(*parts: object) -> str:
    return "-".join(_JOB_ID_UNSAFE.sub("_", str(part)) for part in parts)


def enqueue(
    connection: redis.Redis,
    task: Task,
    *args: Any,
    job_id: str | None = None,
    at: datetime | None = None,
) -> Job:
    """Put `task(*args)` on its queue (at `at`, when given) under `job_id`; → the job now under
    that id: the new one, or the one kept because it is still waiting or running in a live worker.

    A job whose worker was killed mid-run is enqueued again: every job re-checks its rows."""
    queue = Queue(task.queue, connection=connection)
    if job_id is None:
        return _put(queue, task, args, None, at)
    for _attempt in range(_ATTEMPTS):
        try:
            return _put(queue, task, args, job_id, at)
        except DuplicateJobError:
            kept = _keep_or_clear(connection, job_id)
            if kept is not None:
                return kept
    raise DuplicateJobError(f"job {job_id} kept changing while it was being replaced")


def _put(
    queue: Queue, task: Task, args: tuple[Any, ...], job_id: str | None, at: datetime | None
) -> Job:
    unique = job_id is not None
    options: dict[str, Any] = {
        "job_id": job_id,
        "retry": task.retry(),
        "timeout": task.timeout,
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "meta": job_meta(),
    }
    if at is None:
        return queue.enqueue_call(task.path, args=args, unique=unique, **options)
    job = queue.create_job(task.path, args=args, status=JobStatus.SCHEDULED, **options)
    return queue.schedule_job(job, at, unique=unique)


def _keep_or_clear(connection: redis.Redis, job_id: str) -> Job | None:
    """The job under `job_id` when it should be kept; else None, having removed it (only if it
    did not change meanwhile) so that the next unique enqueue succeeds."""
    key = Job.key_for(job_id)
    with connection.pipeline() as pipe:
        try:
            pipe.watch(key)
            status_raw, worker_raw = cast("list[Any]", pipe.hmget(key, ["status", "worker_name"]))
            status = _text(status_raw)
            if status in _WAITING or (
                status == JobStatus.STARTED and not worker_lost(connection, _text(worker_raw))
            ):
                pipe.unwatch()
                return Job.fetch(job_id, connection=connection)
            if status == JobStatus.STARTED:
                log.warning("job of a lost worker enqueued again job_id=%s", job_id)
            pipe.multi()
            pipe.delete(key)
            pipe.execute()
        except (redis.WatchError, NoSuchJobError):
            pass  # changed or gone meanwhile: the caller tries again
    return None


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def enqueue_after_commit(
    session: Session,
    connection: redis.Redis,
    task: Task,
    *args: Any,
    job_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """`enqueue` once `session` commits; a Redis failure is logged, a sweeper recovers the work."""

    def _after_commit(_session: Session) -> None:
        try:
            enqueue(connection, task, *args, job_id=job_id, at=at)
        except (redis.RedisError, OSError) as error:
            log.warning(
                "enqueue deferred to sweeper queue=%s job_id=%s error=%s",
                task.queue,
                job_id,
                type(error).__name__,
            )

    event.listen(session, "after_commit", _after_commit, once=True)
