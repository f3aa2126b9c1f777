"""The workers' webhook inbox loop: claim pending events in batches until none is due, then wait.

Layer: jobs infrastructure, run by `jobs.worker` in a thread of every worker process (and in
burst mode before the RQ queues). The inbox table is the queue, so nothing here needs Redis:
on PostgreSQL the loop LISTENs on `ingest_webhook.NOTIFY_CHANNEL` (intake notifies after each
commit with pending rows) and also polls every `LISTEN_TIMEOUT_S`, for retries falling due and
a notification lost with a connection; on SQLite it polls every `POLL_S`. Concurrent workers
claim with `FOR UPDATE SKIP LOCKED`, so any number of them can run this.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.entry import get_app
from app.kizuna import Kizuna
from app.services.ingest_webhook import NOTIFY_CHANNEL
from app.services.process_webhook import BATCH_SIZE, process_pending

log = logging.getLogger(__name__)

POLL_S = 1.0  # SQLite, or PostgreSQL while the listening connection is down
LISTEN_TIMEOUT_S = 5.0  # PostgreSQL: longest wait between claims without a notification


def drain(runtime: Kizuna, stop: threading.Event | None = None) -> int:
    """Process batches until no pending event is due (or `stop` is set); → events claimed."""
    claimed = 0
    with get_app().app_context():
        while stop is None or not stop.is_set():
            count = process_pending(runtime, BATCH_SIZE)
            claimed += count
            if count == 0:
                break
    return claimed


class _Listener:
    """A connection of its own in autocommit, LISTENing on the inbox's channel."""

    def __init__(self, runtime: Kizuna) -> None:
        self.engine = runtime.db.engine
        self.connection: Any = None

    def wait(self, timeout: float, stop: threading.Event) -> None:
        """Until a notification arrives, `timeout` passes or `stop` is set; then forget the
        notifications queued meanwhile."""
        if self.connection is None:
            raw = self.engine.raw_connection()
            driver = raw.driver_connection
            if driver is None:
                raise RuntimeError("the database connection has no driver connection")
            driver.autocommit = True
            driver.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self.connection = raw
            return  # listening from now: claim again first, in case something arrived before
        driver = self.connection.driver_connection
        deadline = time.monotonic() + timeout
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if any(True for _notify in driver.notifies(timeout=min(left, 0.5), stop_after=1)):
                break
        for _notify in driver.notifies(timeout=0.0):
            pass

    def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            try:
                connection.invalidate()  # never back to the pool: it is listening
            except Exception as error:  # closing a broken connection: nothing left to do
                log.debug("inbox listener close failed error=%s", type(error).__name__)


def run_inbox(runtime: Kizuna, stop: threading.Event) -> None:
    """Drain the inbox, wait for more, until `stop` is set. Database outages are waited out."""
    listener = _Listener(runtime) if runtime.db.engine.dialect.name == "postgresql" else None
    log.info("webhook inbox started listen=%s", listener is not None)
    try:
        while not stop.is_set():
            try:
                drain(runtime, stop)
                if listener is None:
                    stop.wait(POLL_S)
                else:
                    listener.wait(LISTEN_TIMEOUT_S, stop)
            except (SQLAlchemyError, OSError) as error:
                log.warning("webhook inbox waiting for the database error=%s", type(error).__name__)
                if listener is not None:
                    listener.close()
                stop.wait(POLL_S)
            except Exception as error:  # the loop outlives any one batch's surprise
                log.exception("webhook inbox error=%s", type(error).__name__)
                if listener is not None:
                    listener.close()
                stop.wait(POLL_S)
    finally:
        if listener is not None:
            listener.close()
        log.info("webhook inbox stopped")


def start_inbox(runtime: Kizuna, stop: threading.Event) -> threading.Thread:
    """`run_inbox` in a daemon thread (the worker's main thread runs RQ)."""
    thread = threading.Thread(
        target=run_inbox, args=(runtime, stop), name="webhook-inbox", daemon=True
    )
    thread.start()
    return thread
