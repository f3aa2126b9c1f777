"""The one enqueue path (`app.queueing`) against a real Redis: one job per id while it waits or
runs, a new one once it is over, the same rules for jobs scheduled for later, and nothing before
the transaction commits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from app.queueing import FLOWS, Task, enqueue, enqueue_after_commit
from app.tasks import SEND_MESSAGE

# A job that exists and takes one argument; nothing here runs it.
TASK = Task("jobs.sweeper.sweep_webhook_events", FLOWS, timeout=77, retry_intervals=(5, 9))


def test_a_second_enqueue_under_a_waiting_id_keeps_the_first_job(runtime: Any) -> None:
    first = enqueue(runtime.redis, TASK, 1.0, job_id="q-1")
    second = enqueue(runtime.redis, TASK, 2.0, job_id="q-1")
    queue = Queue(FLOWS, connection=runtime.redis)
    assert queue.job_ids == ["q-1"]
    assert second.id == first.id
    assert second.args == (1.0,)
    assert (second.timeout, second.retries_left, second.retry_intervals) == (77, 2, [5, 9])


def test_a_job_that_is_over_is_replaced_by_a_new_one(runtime: Any) -> None:
    queue = Queue(FLOWS, connection=runtime.redis)
    for status in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED):
        job = enqueue(runtime.redis, TASK, 1.0, job_id="q-2")
        queue.remove(job)
        job.set_status(status)
        again = enqueue(runtime.redis, TASK, 2.0, job_id="q-2")
        assert again.get_status() == JobStatus.QUEUED
        assert Job.fetch("q-2", connection=runtime.redis).args == (2.0,)
        assert queue.job_ids == ["q-2"]


def test_concurrent_enqueues_of_one_id_queue_it_once(runtime: Any) -> None:
    barrier = threading.Barrier(8)

    def put() -> None:
        barrier.wait()
        enqueue(runtime.redis, TASK, 1.0, job_id="q-3")

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Queue(FLOWS, connection=runtime.redis).job_ids == ["q-3"]


def test_a_job_scheduled_for_later_is_kept_until_it_is_over(runtime: Any) -> None:
    when = datetime.now(UTC) + timedelta(hours=1)
    first = enqueue(runtime.redis, TASK, 1.0, job_id="q-4", at=when)
    enqueue(runtime.redis, TASK, 2.0, job_id="q-4", at=when + timedelta(minutes=5))
    registry = ScheduledJobRegistry(FLOWS, connection=runtime.redis)
    assert registry.get_job_ids() == ["q-4"]
    assert first.get_status() == JobStatus.SCHEDULED
    assert Job.fetch("q-4", connection=runtime.redis).args == (1.0,)
    assert Queue(FLOWS, connection=runtime.redis).job_ids == []


def test_after_commit_enqueues_only_when_the_transaction_commits(db: Any, runtime: Any) -> None:
    enqueue_after_commit(db, runtime.redis, SEND_MESSAGE, 41, job_id="send-41")
    db.rollback()  # a rollback is not a commit: the hook waits for the next commit
    assert Queue(SEND_MESSAGE.queue, connection=runtime.redis).job_ids == []
    db.commit()
    assert Queue(SEND_MESSAGE.queue, connection=runtime.redis).job_ids == ["send-41"]
    db.commit()  # the hook ran once
    assert Queue(SEND_MESSAGE.queue, connection=runtime.redis).job_ids == ["send-41"]
