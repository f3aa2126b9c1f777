"""The scheduler process: enqueue the periodic jobs in `PERIODIC` on time.

Layer: jobs infrastructure; one per deployment, but a second one is harmless: each tick belongs
to a time window, claimed once in Redis (SET NX) and enqueued under a job id naming the window.
Redis being down is logged and retried on the next tick; the loop never dies of it. A new
periodic job is one more `PeriodicJob` line below; the job itself takes `every` as its only
argument and must be safe to run twice.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass

import redis

from app.kizuna import Kizuna
from jobs.queues import EMAIL, FLOWS, SYNC, WEBHOOKS, enqueue, job_id

log = logging.getLogger(__name__)

TICK_KEY = "kizuna:schedule:{name}:{window}"


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: str  # dotted path, so the scheduler imports no job code
    queue: str
    every: float  # seconds


SWEEP = PeriodicJob("sweep", "jobs.sweeper.sweep_webhook_events", WEBHOOKS, 30.0)

# Nightly RFM + predictions for every active shop (fans out one job per shop on `sync`).
SCORING = PeriodicJob("scoring", "jobs.scoring.score_active_shops", SYNC, 24 * 3600.0)

WOOCOMMERCE_RECONCILE = PeriodicJob(
    "wc-reconcile", "jobs.woocommerce.reconcile_woocommerce", SYNC, 900.0
)

# Shopify: re-read what changed since each stream's cursor (repairs missed webhooks).
SHOPIFY_RECONCILE = PeriodicJob(
    "shopify-reconcile", "jobs.reconcile.reconcile_all", SYNC, 15 * 60.0
)

# Flow steps whose scheduled job was lost (Redis down at commit) are scheduled again.
FLOW_SWEEP = PeriodicJob("flow-sweep", "jobs.flows.sweep_flow_runs", FLOWS, 300.0)

# Sends whose job was lost are queued again; sends a dead worker abandoned become `unknown`.
MESSAGE_SWEEP = PeriodicJob("message-sweep", "jobs.message_sweep.sweep_messages", EMAIL, 300.0)

# Daily: start win-back runs for lapsing customers of every active shop.
WINBACK_SCAN = PeriodicJob("winback-scan", "jobs.flows.scan_winback", FLOWS, 24 * 3600.0)

PERIODIC: tuple[PeriodicJob, ...] = (
    SWEEP,
    FLOW_SWEEP,
    MESSAGE_SWEEP,
    WINBACK_SCAN,
    SCORING,
    WOOCOMMERCE_RECONCILE,
    SHOPIFY_RECONCILE,
)


def _claim_window(connection: redis.Redis, name: str, window: int, every: float) -> bool:
    key = TICK_KEY.format(name=name, window=window)
    return bool(connection.set(key, "1", nx=True, ex=max(int(every * 2), 1)))


def schedule_periodic(runtime: Kizuna, job: PeriodicJob, now: float | None = None) -> bool:
    """Enqueue `job` for the current window unless a scheduler already did."""
    window = int((time.time() if now is None else now) // job.every)
    connection = runtime.redis
    if not _claim_window(connection, job.name, window, job.every):
        return False
    enqueue(
        connection,
        job.queue,
        job.func,
        job.every,
        job_id=job_id(job.name, window),
        job_timeout=int(max(job.every * 4, 60)),
    )
    return True


def schedule_sweep(runtime: Kizuna, sweep_every: float, now: float | None = None) -> bool:
    """Enqueue the webhook sweeper for the current window unless a scheduler already did."""
    return schedule_periodic(runtime, PeriodicJob(**{**SWEEP.__dict__, "every": sweep_every}), now)


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())


def run_scheduler(
    runtime: Kizuna,
    stop: threading.Event | None = None,
    sweep_every: float = SWEEP.every,
    jobs: tuple[PeriodicJob, ...] | None = None,
) -> None:
    """Tick until `stop` is set (SIGTERM/SIGINT set it too), enqueueing each job once a window."""
    if stop is None:
        stop = threading.Event()
        _stop_on_signals(stop)
    if jobs is None:
        jobs = tuple(
            PeriodicJob(**{**job.__dict__, "every": sweep_every}) if job is SWEEP else job
            for job in PERIODIC
        )
    tick = min(job.every for job in jobs)
    log.info("scheduler started jobs=%s", ",".join(f"{job.name}/{job.every:g}s" for job in jobs))
    while not stop.is_set():
        for job in jobs:
            try:
                if schedule_periodic(runtime, job):
                    log.info("scheduler enqueued job=%s", job.name)
            except (redis.RedisError, OSError) as error:
                log.warning(
                    "scheduler tick skipped job=%s: redis unavailable error=%s",
                    job.name,
                    type(error).__name__,
                )
        # Sleep to the start of the next window so ticks of several schedulers line up.
        stop.wait(tick - (time.time() % tick))
    log.info("scheduler stopped")
