"""The worker process: the webhook inbox, and every RQ queue in priority order, with RQ's
scheduler for retries.

Layer: jobs infrastructure. Webhook events are claimed from the database by the inbox loop
(`jobs.webhook_inbox`) in a thread; jobs run in the worker process (SimpleWorker), each with a
fresh app context; it beats from a thread. Order: webhooks, email, flows, sync, default, so due
sends leave before new steps create more messages (first-in, first-out). In burst mode the inbox
is drained first, then the queues.
"""

from __future__ import annotations

import logging
import os
import threading

from rq import Queue, SimpleWorker

from app.heartbeats import beat_interval, forget_worker, process_name, start_beating
from app.kizuna import Kizuna
from app.queueing import EMAIL, FLOWS, QUEUE_NAMES, WEBHOOKS
from jobs.webhook_inbox import drain, start_inbox

log = logging.getLogger(__name__)

_FIRST = (WEBHOOKS, EMAIL, FLOWS)
MAINTENANCE_EVERY_S = 30
INBOX_STOP_S = 30  # how long a stopping worker lets its inbox batch finish
WORKER_ORDER = _FIRST + tuple(name for name in QUEUE_NAMES if name not in _FIRST)


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
    # RQ restarts a dead scheduler (it dies when Redis drops its connection) only in its
    # maintenance pass; every 30 s instead of 10 minutes, so retries and flow steps scheduled
    # for later are not stranded after a Redis restart.
    name = process_name()
    worker = SimpleWorker(
        queues, connection=connection, name=name, maintenance_interval=MAINTENANCE_EVERY_S
    )
    log.info("worker starting queues=%s burst=False", ",".join(WORKER_ORDER))
    beating = start_beating(
        connection, name, WORKER_ORDER, beat_interval(runtime.config.stalled_after)
    )
    stop_inbox = threading.Event()
    inbox = start_inbox(runtime, stop_inbox)
    try:
        return worker.work(burst=False, with_scheduler=True)
    finally:
        stop_inbox.set()
        inbox.join(timeout=INBOX_STOP_S)
        beating.set()
        forget_worker(connection, name)
