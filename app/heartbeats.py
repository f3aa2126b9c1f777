"""Heartbeats of the background processes: each worker and the scheduler stamp Redis.

Layer: infrastructure (Redis only). Rewritten on every beat, so a Redis restart is repaired within
one beat; readers judge staleness against `Config.stalled_after`. No personal data.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import redis

if TYPE_CHECKING:
    from app.kizuna import Kizuna

log = logging.getLogger(__name__)

WORKERS_KEY = "kizuna:heartbeats:workers"
WORKER_QUEUES_KEY = "kizuna:heartbeats:worker-queues"
SCHEDULERS_KEY = "kizuna:heartbeats:schedulers"
# The queues workers must cover (`app.queueing.QUEUE_NAMES`, which imports this module).
EXPECTED_QUEUES = ("webhooks", "flows", "email", "sync", "default")
# Entries older than this are pruned: a process gone for a day is history, not a fault to list.
FORGET_AFTER = 24 * 3600.0
# A worker silent this long has died (it beats at least every 15 seconds, also during a job).
LOST_AFTER = 45.0


def beat_interval(stalled_after: float) -> float:
    """How often a process beats: four beats per stall window, at most every 15 seconds."""
    return max(0.2, min(15.0, stalled_after / 4))


_TAGS: dict[int, str] = {}


def process_name() -> str:
    """This process's name in heartbeats, RQ's worker registry and message claims: host, pid and
    a random tag, so a process restarted with the same pid (pid 1 in a container) never takes
    the name of the one that died."""
    pid = os.getpid()
    tag = _TAGS.setdefault(pid, secrets.token_hex(3))
    return f"{socket.gethostname()[:40]}:{pid}:{tag}"


def worker_lost(connection: redis.Redis, name: str | None, now: float | None = None) -> bool:
    """Whether the worker process `name` is gone: it beat, but not for `LOST_AFTER` seconds.

    A process that never beats (a burst worker, an RQ name that is no heartbeat name) is never
    judged lost; nor is one whose heartbeat Redis forgot in a restart (its jobs went too)."""
    if not name:
        return False
    last = cast("float | None", connection.zscore(WORKERS_KEY, name))
    if last is None:
        return False
    return (time.time() if now is None else now) - float(last) > LOST_AFTER


def beat_worker(
    connection: redis.Redis, name: str, queues: Iterable[str], now: float | None = None
) -> None:
    now = time.time() if now is None else now
    pipe = connection.pipeline(transaction=False)
    pipe.zadd(WORKERS_KEY, {name: now})
    pipe.hset(WORKER_QUEUES_KEY, name, ",".join(queues))
    pipe.zremrangebyscore(WORKERS_KEY, "-inf", now - FORGET_AFTER)
    pipe.expire(WORKERS_KEY, int(FORGET_AFTER))
    pipe.expire(WORKER_QUEUES_KEY, int(FORGET_AFTER))
    pipe.execute()


def beat_scheduler(connection: redis.Redis, name: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    pipe = connection.pipeline(transaction=False)
    pipe.zadd(SCHEDULERS_KEY, {name: now})
    pipe.zremrangebyscore(SCHEDULERS_KEY, "-inf", now - FORGET_AFTER)
    pipe.expire(SCHEDULERS_KEY, int(FORGET_AFTER))
    pipe.execute()


def forget_worker(connection: redis.Redis, name: str) -> None:
    """A process stopping cleanly leaves at once instead of going stale."""
    try:
        pipe = connection.pipeline(transaction=False)
        pipe.zrem(WORKERS_KEY, name)
        pipe.hdel(WORKER_QUEUES_KEY, name)
        pipe.execute()
    except (redis.RedisError, OSError) as error:
        log.warning("worker heartbeat not removed error=%s", type(error).__name__)


def forget_scheduler(connection: redis.Redis, name: str) -> None:
    try:
        connection.zrem(SCHEDULERS_KEY, name)
    except (redis.RedisError, OSError) as error:
        log.warning("scheduler heartbeat not removed error=%s", type(error).__name__)


@dataclass(frozen=True)
class Liveness:
    """What the heartbeats say at `now`: live workers per queue, the scheduler's last beat."""

    workers_alive: int
    queues: dict[str, int]  # queue → live workers listening to it
    worker_last_seen: float | None  # seconds ago, the freshest worker beat
    scheduler_last_seen: float | None  # seconds ago
    stalled_after: float
    reasons: list[str] = field(default_factory=list)

    @property
    def stalled(self) -> bool:
        return bool(self.reasons)

    def to_json(self) -> dict[str, object]:
        def ago(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "workers": {
                "alive": self.workers_alive,
                "queues": self.queues,
                "last_seen_seconds_ago": ago(self.worker_last_seen),
            },
            "scheduler": {"last_seen_seconds_ago": ago(self.scheduler_last_seen)},
            "stalled_after_seconds": self.stalled_after,
        }


def _latest(connection: redis.Redis, key: str) -> list[tuple[str, float]]:
    return [
        (member.decode() if isinstance(member, bytes) else str(member), float(score))
        for member, score in cast(list[Any], connection.zrange(key, 0, -1, withscores=True))
    ]


def liveness(
    connection: redis.Redis,
    stalled_after: float,
    expected_queues: Iterable[str],
    now: float | None = None,
) -> Liveness:
    """Read every heartbeat (three Redis reads) and name what is stalled, if anything."""
    now = time.time() if now is None else now
    workers = _latest(connection, WORKERS_KEY)
    schedulers = _latest(connection, SCHEDULERS_KEY)
    alive = [name for name, seen in workers if now - seen <= stalled_after]
    queues_of = cast(list[Any], connection.hmget(WORKER_QUEUES_KEY, alive)) if alive else []
    per_queue = dict.fromkeys(expected_queues, 0)
    for raw in queues_of:
        text = raw.decode() if isinstance(raw, bytes) else (raw or "")
        for queue in filter(None, text.split(",")):
            per_queue[queue] = per_queue.get(queue, 0) + 1
    worker_seen = now - max(seen for _, seen in workers) if workers else None
    scheduler_seen = now - max(seen for _, seen in schedulers) if schedulers else None

    window = f"{stalled_after:g} s"
    reasons: list[str] = []
    if not alive:
        reasons.append(f"no worker seen for {window}")
    else:
        reasons.extend(
            f"no worker listening on queue {queue} seen for {window}"
            for queue, count in per_queue.items()
            if count == 0
        )
    if scheduler_seen is None or scheduler_seen > stalled_after:
        reasons.append(f"no scheduler seen for {window}")
    return Liveness(
        workers_alive=len(alive),
        queues=per_queue,
        worker_last_seen=worker_seen,
        scheduler_last_seen=scheduler_seen,
        stalled_after=stalled_after,
        reasons=reasons,
    )


def automations_liveness(runtime: Kizuna) -> Liveness:
    """The heartbeats judged with the configured stall window, against every queue."""
    return liveness(runtime.redis, runtime.config.stalled_after, EXPECTED_QUEUES)


def start_beating(
    connection: redis.Redis, name: str, queues: Iterable[str], every: float
) -> threading.Event:
    """Beat for a worker from a daemon thread until the returned event is set.

    A thread, so a job that runs for minutes does not read as a dead worker; SIGKILL ends the
    thread with the process, so a killed worker does go stale.
    """
    stop = threading.Event()
    queue_names = tuple(queues)

    def loop() -> None:
        while not stop.is_set():
            try:
                beat_worker(connection, name, queue_names)
            except (redis.RedisError, OSError) as error:
                log.warning("worker heartbeat failed error=%s", type(error).__name__)
            stop.wait(every)

    threading.Thread(target=loop, name="kizuna-heartbeat", daemon=True).start()
    return stop
