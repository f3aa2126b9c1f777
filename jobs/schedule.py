"""The scheduler process: enqueue periodic jobs (today the webhook sweeper) on time.

Layer: jobs infrastructure; one per deployment, but a second one is harmless: each tick belongs
to a time window, claimed once in Redis (SET NX) and enqueued under a job id naming the window.
Redis being down is logged and retried on the next tick; the loop never dies of it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import redis

from app.kizuna import Kizuna
from jobs.queues import WEBHOOKS, enqueue, job_id

log = logging.getLogger(__name__)

SWEEP_JOB = "jobs.sweeper.sweep_webhook_events"
TICK_KEY = "kizuna:schedule:{name}:{window}"


def _claim_window(connection: redis.Redis, name: str, window: int, every: float) -> bool:
    key = TICK_KEY.format(name=name, window=window)
    return bool(connection.set(key, "1", nx=True, ex=max(int(every * 2), 1)))


def schedule_sweep(runtime: Kizuna, sweep_every: float, now: float | None = None) -> bool:
    """Enqueue the sweeper for the current window unless a scheduler already did."""
    window = int((time.time() if now is None else now) // sweep_every)
    connection = runtime.redis
    if not _claim_window(connection, "sweep", window, sweep_every):
        return False
    enqueue(
        connection,
        WEBHOOKS,
        SWEEP_JOB,
        sweep_every,
        job_id=job_id("sweep", "webhooks", window),
        job_timeout=int(max(sweep_every * 4, 60)),
    )
    return True


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())


def run_scheduler(
    runtime: Kizuna, stop: threading.Event | None = None, sweep_every: float = 30.0
) -> None:
    """Tick every `sweep_every` seconds until `stop` is set (SIGTERM/SIGINT set it too)."""
    if stop is None:
        stop = threading.Event()
        _stop_on_signals(stop)
    log.info("scheduler started sweep_every=%ss", sweep_every)
    while not stop.is_set():
        try:
            if schedule_sweep(runtime, sweep_every):
                log.info("scheduler enqueued job=sweep_webhook_events")
        except (redis.RedisError, OSError) as error:
            log.warning("scheduler tick skipped: redis unavailable error=%s", type(error).__name__)
        # Sleep to the start of the next window so ticks of several schedulers line up.
        stop.wait(sweep_every - (time.time() % sweep_every))
    log.info("scheduler stopped")
