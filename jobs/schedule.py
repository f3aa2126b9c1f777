"""The scheduler process: the periodic jobs of `PERIODIC`, and each shop's `DAILY` jobs at
their local hour.

Layer: jobs infrastructure; one per deployment, yet a second is harmless: each tick's window is
claimed once in Redis (SET NX) and enqueued under a job id naming it. Outages never kill the loop.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.domain.daily import due_local_date
from app.domain.orchestration import shop_zone
from app.heartbeats import beat_interval, beat_scheduler, forget_scheduler, process_name
from app.kizuna import Kizuna
from app.models import Shop
from app.queueing import Task, enqueue, job_id
from app.services.daily_schedule import SCORING as SCORING_NAME
from app.services.daily_schedule import WINBACK_SCAN as WINBACK_SCAN_NAME
from app.services.daily_schedule import hours_for
from app.tasks import (
    RECONCILE_ALL,
    SCAN_WINBACK_SHOP,
    SCORE_SHOP,
    START_DUE_CAMPAIGNS,
    SWEEP_FLOW_RUNS,
    SWEEP_MESSAGES,
    SWEEP_WEBHOOK_EVENTS,
    WOOCOMMERCE_RECONCILE_ALL,
)
from jobs.redis_recovery import recover_if_emptied

log = logging.getLogger(__name__)

TICK_KEY = "kizuna:schedule:{name}:{window}"
DAILY_KEY = "kizuna:daily:{name}:{shop}:{day}"
DAILY_CLAIM_TTL = 3 * 24 * 3600  # outlives the local date it names, in every time zone
RECOVERY_CHECK_EVERY = 5.0  # seconds


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Task  # named by its dotted path, so the scheduler imports no job code
    every: float  # seconds; the job gets `every` as its argument


SWEEP = PeriodicJob("sweep", SWEEP_WEBHOOK_EVENTS, 30.0)

WOOCOMMERCE_RECONCILE = PeriodicJob("wc-reconcile", WOOCOMMERCE_RECONCILE_ALL, 900.0)

# Shopify: re-read what changed since each stream's cursor (repairs missed webhooks).
SHOPIFY_RECONCILE = PeriodicJob("shopify-reconcile", RECONCILE_ALL, 15 * 60.0)

# Flow steps whose scheduled job was lost (Redis down at commit) are scheduled again.
FLOW_SWEEP = PeriodicJob("flow-sweep", SWEEP_FLOW_RUNS, 30.0)

# Sends whose job was lost are queued again; sends a dead worker abandoned become `unknown`.
MESSAGE_SWEEP = PeriodicJob("message-sweep", SWEEP_MESSAGES, 30.0)

# Campaigns whose scheduled time has come start; sends whose job was lost are queued again.
CAMPAIGN_TICK = PeriodicJob("campaign-tick", START_DUE_CAMPAIGNS, 30.0)

PERIODIC: tuple[PeriodicJob, ...] = (
    SWEEP,
    FLOW_SWEEP,
    MESSAGE_SWEEP,
    CAMPAIGN_TICK,
    WOOCOMMERCE_RECONCILE,
    SHOPIFY_RECONCILE,
)


@dataclass(frozen=True)
class DailyJob:
    name: str  # also the key of its hour in `Shop.daily_hours`
    task: Task  # a job taking the shop id


# RFM + predictions of one shop (default 04:00 local), and its win-back scan (10:00 local).
SCORING = DailyJob(SCORING_NAME, SCORE_SHOP)
WINBACK_SCAN = DailyJob(WINBACK_SCAN_NAME, SCAN_WINBACK_SHOP)
DAILY: tuple[DailyJob, ...] = (SCORING, WINBACK_SCAN)


def _claim_window(connection: redis.Redis, name: str, window: int, every: float) -> bool:
    key = TICK_KEY.format(name=name, window=window)
    return bool(connection.set(key, "1", nx=True, ex=max(int(every * 2), 1)))


def schedule_periodic(runtime: Kizuna, job: PeriodicJob, now: float | None = None) -> bool:
    """Enqueue `job` for the current window unless a scheduler already did."""
    window = int((time.time() if now is None else now) // job.every)
    connection = runtime.redis
    if not _claim_window(connection, job.name, window, job.every):
        return False
    enqueue(connection, job.task, job.every, job_id=job_id(job.name, window))
    return True


def schedule_sweep(runtime: Kizuna, sweep_every: float, now: float | None = None) -> bool:
    """Enqueue the webhook sweeper for the current window unless a scheduler already did."""
    return schedule_periodic(runtime, PeriodicJob(**{**SWEEP.__dict__, "every": sweep_every}), now)


def schedule_daily(
    runtime: Kizuna, now: datetime | None = None, jobs: tuple[DailyJob, ...] = DAILY
) -> list[str]:
    """Enqueue each shop's daily jobs that are due at `now` and not yet run this local date.

    → the ids of the jobs enqueued (`<job>-<shop>-<local date>`).
    """
    now = now or datetime.now(UTC)
    with runtime.db.session() as session:
        shops = session.execute(
            select(Shop.id, Shop.timezone, Shop.daily_hours, Shop.sync_state)
            .where(Shop.status.in_(("installing", "active")))
            .order_by(Shop.id)
        ).all()
    due: list[tuple[DailyJob, int, str]] = []
    for shop_id, timezone, stored_hours, sync_state in shops:
        if not (sync_state or {}).get("finished_at"):
            continue  # the first sync is still running; it scores the shop when it ends
        zone, hours = shop_zone(timezone), hours_for(stored_hours)
        for job in jobs:
            local_date = due_local_date(now, zone, hours[job.name])
            if local_date is not None:
                due.append((job, shop_id, local_date.strftime("%Y%m%d")))
    if not due:
        return []
    connection = runtime.redis
    pipe = connection.pipeline(transaction=False)
    for job, shop_id, day in due:
        key = DAILY_KEY.format(name=job.name, shop=shop_id, day=day)
        pipe.set(key, "1", nx=True, ex=DAILY_CLAIM_TTL)
    enqueued: list[str] = []
    for (job, shop_id, day), claimed in zip(due, pipe.execute(), strict=True):
        if not claimed:
            continue
        daily_id = job_id(job.name, shop_id, day)
        try:
            enqueue(connection, job.task, shop_id, job_id=daily_id)
        except (redis.RedisError, OSError):
            # Give the claim back, so the next tick enqueues this day's run instead of losing it.
            connection.delete(DAILY_KEY.format(name=job.name, shop=shop_id, day=day))
            raise
        enqueued.append(daily_id)
    return enqueued


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
    beat_every = beat_interval(runtime.config.stalled_after)
    tick = min([beat_every, *(job.every for job in jobs)])
    name = process_name()
    log.info("scheduler started jobs=%s", ",".join(f"{job.name}/{job.every:g}s" for job in jobs))
    first_tick = True
    while not stop.is_set():
        try:
            beat_scheduler(runtime.redis, name)
        except (redis.RedisError, OSError) as error:
            log.warning("scheduler heartbeat failed error=%s", type(error).__name__)
        try:
            recover_if_emptied(runtime.redis, first_tick=first_tick)
            first_tick = False
        except (redis.RedisError, OSError) as error:
            log.warning("scheduler recovery check skipped error=%s", type(error).__name__)
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
        try:
            for daily_id in schedule_daily(runtime):
                log.info("scheduler enqueued job=%s", daily_id)
        except (redis.RedisError, OSError, SQLAlchemyError) as error:
            log.warning("scheduler daily jobs skipped error=%s", type(error).__name__)
        # Sleep to the start of the next window so ticks of several schedulers line up.
        # ... but wake at least every few seconds to notice Redis coming back empty.
        stop.wait(min(RECOVERY_CHECK_EVERY, tick - (time.time() % tick)))
    forget_scheduler(runtime.redis, name)
    log.info("scheduler stopped")
