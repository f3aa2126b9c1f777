"""The worker process: the webhook inbox, and every RQ queue in priority order, with RQ's
scheduler for retries.

Layer: jobs infrastructure. Webhook events are claimed from the database by the inbox loop
(`jobs.webhook_inbox`) in a thread; jobs run in the worker process (`KizunaWorker`, an RQ
SimpleWorker), each with a fresh app context; it beats from a thread. Order: webhooks, email,
flows, sync, default, so due sends leave before new steps create more messages (first-in,
first-out). In burst mode the inbox is drained first, then the queues.

Every scheduled job (a flow step, a send retry) reaches its queue through RQ's scheduler, which
runs in one worker at a time, the holder of a lock per queue. A scheduler that dies (a worker
SIGKILLed, Redis restarted) is replaced within seconds: every `SCHEDULER_CHECK_S` a thread of
each worker, busy with a job or not, frees the locks their holder stopped renewing for
`SCHEDULER_STALLED_S` and (re)starts its own scheduler on every free lock, instead of waiting
out RQ's lease of a minute and the next pause between jobs. Schedulers may split the queues
(workers starting together); each queue still has exactly one.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterable
from typing import Any, cast

import redis
from rq import Queue, SimpleWorker
from rq.scheduler import RQScheduler

from app.heartbeats import beat_interval, forget_worker, process_name, start_beating
from app.kizuna import Kizuna
from app.queueing import EMAIL, FLOWS, QUEUE_NAMES, WEBHOOKS
from jobs.webhook_inbox import drain, start_inbox

log = logging.getLogger(__name__)

_FIRST = (WEBHOOKS, EMAIL, FLOWS)
MAINTENANCE_EVERY_S = 30
INBOX_STOP_S = 30  # how long a stopping worker lets its inbox batch finish
WORKER_ORDER = _FIRST + tuple(name for name in QUEUE_NAMES if name not in _FIRST)
# How often a worker looks for a missing scheduler, and how long a scheduler lock may go
# unrenewed before it counts as abandoned (a live scheduler renews it every second).
SCHEDULER_CHECK_S = 2
SCHEDULER_STALLED_S = 10.0
SCHEDULER_STOP_S = 5.0  # how long a scheduler restarted to take more queues may take to stop

# Atomically, per lock: one whose lease ran down below ARGV[1] ms (its holder stopped renewing
# it) is deleted. A lock without expiry is never touched. → {locks free before, locks freed}.
_FREE_STALLED_LOCKS = """
local free, freed = 0, 0
for _, key in ipairs(KEYS) do
    local left = redis.call('PTTL', key)
    if left == -2 then
        free = free + 1
    elseif left >= 0 and left < tonumber(ARGV[1]) then
        redis.call('DEL', key)
        freed = freed + 1
    end
end
return {free, freed}
"""


def scheduler_lease_s(interval: float) -> float:
    """RQ's scheduler lock lease: renewed to this every `interval` by the live scheduler."""
    return interval + 60


def free_stalled_scheduler_locks(
    connection: redis.Redis,
    queue_names: Iterable[str],
    interval: float,
    stalled_after: float = SCHEDULER_STALLED_S,
) -> tuple[int, int]:
    """Free the scheduler locks of `queue_names` not renewed for `stalled_after` seconds;
    → (locks that were free, locks freed now): what a scheduler can take."""
    keys = [RQScheduler.get_locking_key(name) for name in queue_names]
    below_ms = int((scheduler_lease_s(interval) - stalled_after) * 1000)
    free, freed = cast(
        "list[int]", connection.eval(_FREE_STALLED_LOCKS, len(keys), *keys, str(below_ms))
    )
    return int(free), int(freed)


class KizunaWorker(SimpleWorker):
    """RQ's SimpleWorker whose scheduler a watcher thread can start (`replace_lost_scheduler`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One starter of this worker's scheduler at a time: RQ's maintenance or the watcher.
        self._scheduler_guard = threading.Lock()

    def run_maintenance_tasks(self) -> None:
        with self._scheduler_guard:
            super().run_maintenance_tasks()

    def replace_lost_scheduler(self) -> bool:
        """Free the scheduler locks left unrenewed for `SCHEDULER_STALLED_S`; when some queue
        has no scheduler, (re)start this worker's so that it takes every free lock (a running
        one holds only its own queues: it shared them with a scheduler that died, or lost
        them). → whether it was started."""
        scheduler = self.scheduler
        if scheduler is None:  # not working yet, or a burst worker
            return False
        with self._scheduler_guard:
            free, freed = free_stalled_scheduler_locks(
                self.connection, self.queue_names(), scheduler.interval
            )
            if freed:
                log.warning(
                    "scheduler locks unrenewed for %.0f s freed: %s", SCHEDULER_STALLED_S, freed
                )
            if not free + freed:
                return False
            # RQ keeps its scheduler's process there (its own maintenance reads it the same way).
            process = scheduler._process
            if process is not None and process.is_alive():
                # SIGTERM: it releases its locks at its next tick and exits.
                os.kill(process.pid, signal.SIGTERM)
                process.join(timeout=SCHEDULER_STOP_S)
                if process.is_alive():
                    log.warning("scheduler did not stop pid=%s", process.pid)
                    return False
            scheduler.acquire_locks(auto_start=True)
            started = scheduler._process is not process
        if started:
            log.info("scheduler started on the free locks of %s queues", free + freed)
        return started


def watch_scheduler(worker: KizunaWorker, every: float = SCHEDULER_CHECK_S) -> threading.Event:
    """Run `worker.replace_lost_scheduler` every `every` seconds from a daemon thread until the
    returned event is set: a thread, so a worker busy with a long job still takes over."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                worker.replace_lost_scheduler()
            except (redis.RedisError, OSError) as error:
                log.warning("scheduler check failed error=%s", type(error).__name__)

    threading.Thread(target=loop, name="kizuna-scheduler-watch", daemon=True).start()
    return stop


def run_worker(runtime: Kizuna, *, burst: bool = False) -> bool:
    """Work the webhook inbox and the queues (webhooks first) until stopped, or until both are
    empty with `burst` (→ whether there was anything to do)."""
    connection = runtime.redis
    engine = runtime.db.engine
    # RQ's scheduler runs in a forked process: it must never use (or close) the database
    # connections pooled here, so a child drops its copies without closing them.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    queues = [Queue(name, connection=connection) for name in WORKER_ORDER]
    if burst:
        log.info("worker starting queues=%s burst=True", ",".join(WORKER_ORDER))
        events = drain(runtime)
        worked = SimpleWorker(queues, connection=connection).work(burst=True, with_scheduler=True)
        return bool(events) or worked
    # Named as its heartbeat, so a job it was running when it died can be told from a live one.
    # RQ cleans its registries (and restarts a scheduler that died with Redis's connection) every
    # 30 s instead of 10 minutes; a lost scheduler is replaced sooner by `watch_scheduler`.
    name = process_name()
    worker = KizunaWorker(
        queues, connection=connection, name=name, maintenance_interval=MAINTENANCE_EVERY_S
    )
    log.info("worker starting queues=%s burst=False", ",".join(WORKER_ORDER))
    beating = start_beating(
        connection, name, WORKER_ORDER, beat_interval(runtime.config.stalled_after)
    )
    watching = watch_scheduler(worker)
    stop_inbox = threading.Event()
    inbox = start_inbox(runtime, stop_inbox)
    try:
        return worker.work(burst=False, with_scheduler=True)
    finally:
        watching.set()
        stop_inbox.set()
        inbox.join(timeout=INBOX_STOP_S)
        beating.set()
        forget_worker(connection, name)
