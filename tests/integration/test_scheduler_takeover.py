"""RQ's scheduler (which moves flow steps and send retries to their queues when due) is replaced
within seconds when the worker running it dies, not after RQ's minute-long lock lease.

On real Redis; the last test runs two `python -m app.cli worker` processes as the Procfile does,
both busy with a long job, and SIGKILLs the one whose scheduler holds the locks, with its
scheduler.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from app.queueing import FLOWS, QUEUE_NAMES, WEBHOOKS, enqueue
from app.tasks import SWEEP_FLOW_RUNS
from jobs.worker import (
    SCHEDULER_STALLED_S,
    free_stalled_scheduler_locks,
    scheduler_lease_s,
)
from tests.conftest import make_test_env
from tests.processes import cli_processes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _lock(name: str) -> str:
    return RQScheduler.get_locking_key(name)


def test_a_live_schedulers_locks_are_left_alone(runtime: Any) -> None:
    connection: redis.Redis = runtime.redis
    scheduler = RQScheduler(list(QUEUE_NAMES), connection=connection)
    assert scheduler.acquire_locks() == set(QUEUE_NAMES)
    # The lease this module expects is the one RQ gives its locks.
    lease_ms = connection.pttl(_lock(WEBHOOKS))
    assert scheduler_lease_s(scheduler.interval) * 1000 - 2000 < lease_ms
    assert lease_ms <= scheduler_lease_s(scheduler.interval) * 1000

    assert free_stalled_scheduler_locks(connection, QUEUE_NAMES, scheduler.interval) == (0, 0)
    assert all(connection.get(_lock(name)) for name in QUEUE_NAMES)


def test_locks_free_or_unrenewed_are_counted_and_freed(runtime: Any) -> None:
    connection: redis.Redis = runtime.redis
    scheduler = RQScheduler(["flows", "email"], connection=connection)
    scheduler.acquire_locks()
    lease_s = scheduler_lease_s(scheduler.interval)
    # `flows` not renewed for longer than SCHEDULER_STALLED_S; `email` renewed a moment ago.
    connection.pexpire(_lock("flows"), int((lease_s - SCHEDULER_STALLED_S - 1) * 1000))
    connection.set(_lock("sync"), "someone", ex=None)  # no lease at all: never touched

    free, freed = free_stalled_scheduler_locks(
        connection, ("flows", "email", "sync", "default"), scheduler.interval
    )

    assert (free, freed) == (1, 1)  # `default` was free, `flows` freed
    assert connection.get(_lock("flows")) is None
    assert connection.get(_lock("email")) is not None
    assert connection.get(_lock("sync")) == b"someone"


@pytest.fixture
def start(
    database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    env = make_test_env(database_url, redis_url, KIZUNA_INSTANCE=str(tmp_path / "instance"))
    yield from cli_processes(env, ROOT)


def _owner_group(connection: redis.Redis, queue: str) -> int | None:
    """The process group (its worker's pid) of the scheduler holding `queue`'s lock, if any."""
    owner = connection.get(_lock(queue))
    if not owner:
        return None
    pid = connection.hget(f"rq:scheduler:{owner.decode()}", "pid")
    if not pid or not int(pid):
        return None  # locked a moment ago; the forked scheduler has not registered yet
    try:
        return os.getpgid(int(pid))
    except ProcessLookupError:
        return None


def _busy_workers(connection: redis.Redis, pids: set[int]) -> set[int]:
    return {
        worker.pid
        for worker in Worker.all(connection=connection)
        if worker.pid in pids and worker.get_current_job_id()
    }


def test_a_killed_workers_scheduler_is_replaced_within_seconds_by_a_busy_worker(
    runtime: Any, start: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    connection: redis.Redis = runtime.redis
    workers = {process.pid: process for process in (start("worker"), start("worker"))}
    deadline = time.monotonic() + 60
    while (holder := _owner_group(connection, FLOWS)) is None:
        assert time.monotonic() < deadline, "no scheduler took the locks"
        time.sleep(0.2)
    assert holder in workers
    (survivor,) = set(workers) - {holder}
    # Both workers in a long job (a reconcile waiting out a store's limit, say): no pause
    # between jobs comes in which to notice that the scheduler is gone.
    for _ in workers:
        Queue("default", connection=connection).enqueue("time.sleep", 120, job_timeout=300)
    while _busy_workers(connection, set(workers)) != set(workers):
        assert time.monotonic() < deadline, "the workers never took the long jobs"
        time.sleep(0.2)

    os.killpg(holder, signal.SIGKILL)  # the worker and its scheduler, as a crash takes both
    workers[holder].wait(timeout=10)
    killed = time.monotonic()
    due = datetime.now(UTC) + timedelta(seconds=1)
    job = enqueue(connection, SWEEP_FLOW_RUNS, 30.0, job_id="takeover-probe", at=due)
    registry = ScheduledJobRegistry(queue=Queue(FLOWS, connection=connection))
    assert job.id in registry.get_job_ids()

    # RQ's own lease keeps a dead scheduler's locks for a minute after its last renewal, and
    # RQ restarts a scheduler only between jobs.
    lease_s = scheduler_lease_s(RQScheduler([], connection=connection).interval)
    while job.id in registry.get_job_ids() and time.monotonic() - killed < lease_s:
        time.sleep(0.2)
    took = time.monotonic() - killed
    assert job.id not in registry.get_job_ids(), "the scheduled flow job was never moved"
    assert took < lease_s - 15, f"the scheduler came back only after {took:.0f} s"
    assert Job.fetch(job.id, connection=connection).get_status() == "queued"  # workers busy
    assert survivor in _busy_workers(connection, {survivor})  # still in its long job
    # Every queue is the survivor's now, those its scheduler had (workers starting together
    # may split them) and the dead one's.
    assert {_owner_group(connection, name) for name in QUEUE_NAMES} == {survivor}
    os.killpg(survivor, signal.SIGKILL)  # rather than wait out its long job
