"""Syncing a Shopify shop: the first backfill, and the windows the reconcile reads.

Layer: services; the RQ entry `jobs.sync.backfill_shop` (queue `sync`, job id `backfill-<shop_id>`)
binds the app context and calls `backfill_shop` here. Upserts are "newer wins", one commit per
page or set-wise batch; a stream's cursor never passes the sync's start minus the overlap.
Only a reconcile's orders and checkouts start flows (a backfill is history).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from queue import Full, Queue
from typing import Any, TypeVar

import redis
from redis.exceptions import LockError
from rq import get_current_job
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows import triggers as flow_triggers
from app.kizuna import Kizuna
from app.models import Shop, WebhookEvent
from app.services import bulk_load, upsert
from app.services.scoring import enqueue_scoring
from app.services.shop_errors import (
    record_shop_error,
    record_skipped_records,
    shopify_sync_failure,
)
from app.services.shop_tokens import shopify_client
from app.tasks import BACKFILL_SHOP
from connectors.base import ConnectorError, RetryableError
from connectors.shopify import queries, reading, streams
from connectors.shopify.bulk import (
    FINISH_TOPIC,
    BulkOperation,
    assemble,
    bulk_operation,
    download_rows,
)
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.streams import StreamSpec

log = logging.getLogger(__name__)
T = TypeVar("T")

# A deadlock or serialization failure against a concurrent job (scoring, a webhook) is retried
# (`BACKFILL_SHOP.retry_intervals`): every page is committed with its cursor, so the retry resumes
# where the sync stopped.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
BACKFILL_LOCK_WAIT_SECONDS = 120.0
SYNC_LOCK_TTL = 180.0
BULK_THRESHOLD = 2_500
BULK_BATCH = 250
# On PostgreSQL a bulk result is written set-wise (COPY + merge), this many records a commit.
BULK_SET_BATCH = 10_000
BULK_POLL_FIRST_SECONDS = 1.0
BULK_POLL_MAX_SECONDS = 30.0
BULK_WAKE_SECONDS = 0.5
BULK_WAIT_LIMIT_SECONDS = BACKFILL_SHOP.timeout - 600
# `sync_state["notice"]` holds a key of `app.i18n.KEYED_MESSAGES`, worded by the page.
READ_ALL_ORDERS_NOTICE = "sync.notice.read_all_orders"

Upsert = Callable[[Session, int, Sequence[Any]], int]
UPSERTS: dict[str, Upsert] = {
    "customers": upsert.upsert_customers,
    "products": upsert.upsert_products,
    "orders": upsert.upsert_orders,
    "checkouts": upsert.upsert_checkouts,
}


# A reconcile reads what webhooks missed, so its orders and checkouts start and exit flows as
# a webhook would have; the first backfill is history and starts none.
TRIGGERS: dict[str, Callable[[Session, int, Sequence[Any]], None]] = {
    "customers": lambda session, shop_id, records: flow_triggers.after_customers(
        session, shop_id, [record.external_id for record in records]
    ),
    "orders": flow_triggers.after_orders,
    "checkouts": flow_triggers.after_checkouts,
}


def _uninstalled(session: Session, shop_id: int) -> bool:
    status = session.scalar(select(Shop.status).where(Shop.id == shop_id))
    return status in (None, "uninstalled")


def save_state(session: Session, shop: Shop, **changes: Any) -> None:
    """Merge `changes` into the shop's `sync_state` and commit."""
    # Re-read under a row lock: webhook handlers and the installer write other keys meanwhile.
    session.refresh(shop, ["sync_state"], with_for_update=True)
    # A new dict each time: the JSON column only notices reassignment.
    shop.sync_state = {**(shop.sync_state or {}), **changes}
    session.commit()


@contextmanager
def shop_sync_lock(runtime: Kizuna, shop_id: int, *, wait: float | None) -> Iterator[bool]:
    """One sync of a shop at a time (backfill or reconcile): yields whether it got the lock,
    waiting at most `wait` seconds (None: not at all).

    The lock lives `SYNC_LOCK_TTL` seconds and a heartbeat thread renews it while the sync runs,
    so a worker killed mid-sync frees the shop within minutes, not hours.
    """
    lock = runtime.redis.lock(
        f"kizuna:sync-lock:{shop_id}",
        timeout=SYNC_LOCK_TTL,
        blocking=wait is not None,
        thread_local=False,  # the heartbeat thread renews it
    )
    acquired = bool(lock.acquire(blocking_timeout=wait) if wait is not None else lock.acquire())
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(SYNC_LOCK_TTL / 3):
            try:
                lock.reacquire()
            except (LockError, redis.RedisError) as error:
                log.warning(
                    "sync lock of shop_id=%s not renewed: %s", shop_id, type(error).__name__
                )

    renewer = threading.Thread(target=heartbeat, name=f"sync-lock-{shop_id}", daemon=True)
    if acquired:
        renewer.start()
    try:
        yield acquired
    finally:
        stop.set()
        if acquired:
            renewer.join(timeout=5)
            try:
                lock.release()
            except LockError:
                log.warning("sync lock of shop_id=%s expired before release", shop_id)


def saved_cursors(state: dict[str, Any] | None) -> dict[str, datetime]:
    """The per-stream cursors in a `sync_state` (unusable values dropped)."""
    raw = (state or {}).get("cursors")
    cursors = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            moment = streams.parse_cursor(value)
            if moment is not None:
                cursors[str(name)] = moment
    return cursors


@dataclass
class SyncRun:
    """One pass over a shop's streams (a backfill or a reconcile), writing as it goes."""

    runtime: Kizuna
    session: Session
    shop: Shop
    client: ShopifyAdminClient
    started_at: datetime
    report: bool  # write status/done/totals (backfill) or only cursors (reconcile)
    bulk_threshold: int | None = BULK_THRESHOLD
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    done: dict[str, int] = field(default_factory=dict)
    cursors: dict[str, datetime] = field(default_factory=dict)
    stopped: bool = False
    # Nodes that could not be mapped, per stream: {"count", "reasons": {code: n}}; no data.
    skipped: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def shop_id(self) -> int:
        return self.shop.id

    def orders_since(self) -> datetime | None:
        if streams.has_all_orders(self.shop.scopes):
            return None
        return self.started_at - streams.ORDER_HISTORY_WITHOUT_ALL_ORDERS

    def filter_for(self, stream: StreamSpec) -> str | None:
        return streams.search_filter(
            stream, self.cursors.get(stream.name), orders_since=self.orders_since()
        )

    def save(self, **changes: Any) -> None:
        changes["cursors"] = {
            **((self.shop.sync_state or {}).get("cursors") or {}),
            **{name: moment.isoformat() for name, moment in self.cursors.items()},
        }
        if self.report:
            changes["done"] = dict(self.done)
            changes["skipped"] = {name: dict(entry) for name, entry in self.skipped.items()}
        save_state(self.session, self.shop, **changes)

    def totals(self, selected: Sequence[StreamSpec]) -> dict[str, int]:
        """Per-stream totals of this run's windows; {} when Shopify cannot count them."""
        try:
            data = self.client.execute(
                queries.SYNC_COUNTS,
                streams.count_variables({s.name: self.filter_for(s) for s in STREAMS}),
            )
        except ConnectorError as error:
            log.warning("sync counts unavailable shop_id=%s error=%s", self.shop_id, error)
            return {}
        return streams.totals_from_counts(data, [s.name for s in selected])

    # ---- writing ---------------------------------------------------------------------------

    def write(
        self, stream: StreamSpec, nodes: Iterable[Any], loader: Upsert | None = None
    ) -> list[Any]:
        """Map and write one window's nodes (row-wise upserts, or `loader` set-wise); the
        records (for the cursor). The caller commits."""
        records, malformed = map_nodes(stream, nodes, self.shop.currency)
        return self.write_records(stream, records, malformed, loader)

    def write_records(
        self,
        stream: StreamSpec,
        records: list[Any],
        malformed: Sequence[str] = (),
        loader: Upsert | None = None,
    ) -> list[Any]:
        """Write mapped records (and count the nodes that could not be mapped)."""
        for reason in malformed:
            self.skip(stream.name, reason)
        (loader or UPSERTS[stream.name])(self.session, self.shop_id, records)
        if not self.report and stream.name in TRIGGERS:  # a reconcile: what webhooks missed
            TRIGGERS[stream.name](self.session, self.shop_id, records)
        self.done[stream.name] = self.done.get(stream.name, 0) + len(records)
        return records

    def skip(self, stream: str, reason: str) -> None:
        entry = self.skipped.setdefault(stream, {"count": 0, "reasons": {}})
        entry["count"] += 1
        entry["reasons"] = {**entry["reasons"], reason: entry["reasons"].get(reason, 0) + 1}

    def page_stream(self, stream: StreamSpec) -> None:
        """Read `stream` page by page from its cursor; the cursor follows each written page. A
        backfill on PostgreSQL writes each page set-wise (`bulk_load`)."""
        set_wise = self.report and bulk_load.copy_supported(self.session)
        loader = bulk_load.loader_for(stream.name) if set_wise else None
        statistics = bulk_load.GrowingStatistics(bulk_load.LOADED_TABLES.get(stream.name, ()))
        for nodes in reading.read_pages(
            self.client, stream, self.cursors.get(stream.name), orders_since=self.orders_since()
        ):
            if _uninstalled(self.session, self.shop_id):
                self.session.rollback()
                self.stopped = True
                return
            records = self.write(stream, nodes, loader)
            if loader:
                statistics.add(self.session, len(records))
            if stream.sorted_by_cursor:
                moved = streams.advance_cursor(
                    self.cursors.get(stream.name),
                    (streams.record_time(r) for r in records),
                    self.started_at,
                )
                if moved is not None:
                    self.cursors[stream.name] = moved
            self.save()
        self.cursors[stream.name] = streams.finished_cursor(
            self.cursors.get(stream.name), self.started_at
        )
        self.save()

    # ---- bulk operations -------------------------------------------------------------------

    def start_bulk(self, stream: StreamSpec) -> str | None:
        """Start the stream's bulk query; None (read it by pages) when Shopify is busy."""
        try:
            return reading.start_bulk_read(
                self.client, stream, self.cursors.get(stream.name), orders_since=self.orders_since()
            )
        except RetryableError as error:
            log.info("bulk not started shop_id=%s stream=%s: %s", self.shop_id, stream.name, error)
            return None

    def _finish_webhooks(self, since: datetime) -> int:
        return int(
            self.session.scalar(
                select(func.count(WebhookEvent.id)).where(
                    WebhookEvent.shop_id == self.shop_id,
                    WebhookEvent.topic == FINISH_TOPIC,
                    WebhookEvent.received_at >= since - timedelta(seconds=5),
                )
            )
            or 0
        )

    def wait_for_bulk(self, operation_id: str, since: datetime) -> BulkOperation | None:
        """Poll the operation: at once when a `bulk_operations/finish` delivery arrives, else
        at growing intervals (1 s → 30 s); None when the shop uninstalled meanwhile."""
        interval = BULK_POLL_FIRST_SECONDS
        begun = self.clock()
        next_poll = begun
        seen = self._finish_webhooks(since)
        while True:
            now = self.clock()
            arrived = self._finish_webhooks(since)
            self.session.rollback()  # end the read snapshot so new rows become visible
            if arrived != seen or now >= next_poll:
                seen = arrived
                operation = bulk_operation(self.client, operation_id)
                if operation.finished:
                    return operation
                next_poll = now + interval
                interval = min(interval * 2, BULK_POLL_MAX_SECONDS)
            if now - begun > BULK_WAIT_LIMIT_SECONDS:
                raise RetryableError(
                    f"bulk operation {operation_id} did not finish in time", code="bulk_timeout"
                )
            if _uninstalled(self.session, self.shop_id):
                return None
            self.sleep(BULK_WAKE_SECONDS)

    def bulk_stream(self, stream: StreamSpec, operation_id: str, since: datetime) -> None:
        """Wait for the stream's bulk operation, then stream its JSONL into the database."""
        operation = self.wait_for_bulk(operation_id, since)
        if operation is None:
            self.stopped = True
            return
        if operation.status != "COMPLETED":
            # A failed, cancelled or expired operation: read the stream by pages instead.
            log.warning(
                "bulk operation ended shop_id=%s stream=%s status=%s error_code=%s: paging",
                self.shop_id,
                stream.name,
                operation.status,
                operation.error_code,
            )
            self.page_stream(stream)
            return
        if operation.url:  # no URL: the query matched nothing
            rows = download_rows(self.client.http, operation.url)
            if not self.load_bulk_rows(stream, rows):
                return
        # Bulk rows come in no guaranteed order: the cursor moves once all are written.
        self.cursors[stream.name] = streams.finished_cursor(
            self.cursors.get(stream.name), self.started_at
        )
        self.save()

    def load_bulk_rows(self, stream: StreamSpec, rows: Iterable[dict[str, Any]]) -> bool:
        """Write a bulk result's JSONL rows (children nested under their parents), one commit
        and one progress update per batch: set-wise on PostgreSQL (`BULK_SET_BATCH` records a
        batch), row-wise elsewhere. False when the shop uninstalled meanwhile (stopped)."""
        set_wise = bulk_load.copy_supported(self.session)
        totals_later: set[int] = set()  # customers rewritten once, at the end
        loader = bulk_load.loader_for(stream.name, totals_later) if set_wise else None
        currency = self.shop.currency
        batches = (
            map_nodes(stream, batch, currency)
            for batch in _batches(
                assemble(rows, stream.bulk_children), BULK_SET_BATCH if loader else BULK_BATCH
            )
        )
        statistics = bulk_load.GrowingStatistics(bulk_load.LOADED_TABLES.get(stream.name, ()))
        # Parsing and mapping the next batch (Python) overlaps writing this one (the database).
        with closing(prefetched(batches)) as mapped:
            for records, malformed in mapped:
                if _uninstalled(self.session, self.shop_id):
                    self.session.rollback()
                    self.stopped = True
                    return False
                self.write_records(stream, records, malformed, loader)
                if loader:
                    statistics.add(self.session, len(records))
                self.save()
        if totals_later:
            bulk_load.refresh_totals(self.session, self.shop_id, totals_later)
            self.session.commit()
        return True

    # ---- the run ---------------------------------------------------------------------------

    def run(self, selected: Sequence[StreamSpec]) -> dict[str, int]:
        totals = self.totals(selected) if self.report else {}
        if self.report:
            self.save(totals=totals)
        operations: dict[str, tuple[str, datetime]] = {}
        threshold = self.bulk_threshold
        if threshold is not None:
            for stream in selected:
                if stream.bulk_document and totals.get(stream.name, 0) >= threshold:
                    began = utcnow()
                    operation_id = self.start_bulk(stream)
                    if operation_id is not None:
                        operations[stream.name] = (operation_id, began)
            if operations and self.report:
                self.save(bulk={name: op for name, (op, _began) in operations.items()})
        # Paged streams first: the bulk operations run meanwhile.
        ordered = sorted(selected, key=lambda s: s.name in operations)
        for stream in ordered:
            self.done.setdefault(stream.name, 0)
            if self.report:
                self.save(stream=stream.name)
            if stream.name in operations:
                self.bulk_stream(stream, *operations[stream.name])
            else:
                self.page_stream(stream)
            if self.stopped:
                log.info("sync stopped shop_id=%s: uninstalled", self.shop_id)
                return self.done
            if self.report:  # a backfill: the planner learns what was just loaded
                bulk_load.analyze_loaded_tables(self.session, bulk_load.LOADED_TABLES[stream.name])
                self.session.commit()
        return self.done


def map_nodes(
    stream: StreamSpec, nodes: Iterable[Any], currency: str
) -> tuple[list[Any], list[str]]:
    """The stream's records of `nodes`, and the reason of each node that could not be mapped
    (one malformed record must not stop the shop's sync: it is counted, the others go on)."""
    records, malformed = [], []
    for node in nodes:
        try:
            records.append(stream.to_record(node, currency))
        except (ValueError, TypeError, AttributeError, KeyError) as error:
            malformed.append(getattr(error, "code", None) or "malformed")
    return records, malformed


_DONE = object()


def prefetched(items: Iterable[T], depth: int = 1) -> Generator[T, None, None]:
    """`items`, produced by a worker thread at most `depth` ahead of the consumer (bounded
    memory); the worker's exception is raised here; closing the generator stops the worker."""
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put((item, None), timeout=0.2)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            outcome: tuple[Any, BaseException | None] = (_DONE, None)
        except BaseException as error:  # handed to the consumer, raised there
            outcome = (_DONE, error)
        while not stop.is_set():
            try:
                queue.put(outcome, timeout=0.2)
                return
            except Full:
                continue

    worker = threading.Thread(target=produce, name="bulk-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = queue.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=30)


def _batches(items: Iterator[Any] | Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


STREAMS: tuple[StreamSpec, ...] = streams.STREAMS


def _transient(error: BaseException) -> bool:
    """A deadlock or serialization failure: nothing is wrong with the data, try again."""
    original = getattr(error, "orig", None)
    return getattr(original, "sqlstate", None) in _TRANSIENT_SQLSTATES


def _retries_left() -> int:
    job = get_current_job()
    return int(job.retries_left or 0) if job is not None else 0


def _fail(session: Session, shop_id: int, error: Exception) -> None:
    session.rollback()
    log.warning("backfill failed shop_id=%s error=%s", shop_id, type(error).__name__)
    shop = session.get(Shop, shop_id)
    if shop is not None:
        record_shop_error(shop, "shop_error.backfill_failed", detail=shopify_sync_failure(error))
        save_state(
            session, shop, status="failed", error=shop.last_error, finished_at=utcnow().isoformat()
        )


@contextmanager
def locked_sync_run(
    runtime: Kizuna,
    session: Session,
    shop: Shop,
    *,
    lock_wait: float | None,
    report: bool,
    bulk_threshold: int | None,
    cursors: dict[str, datetime],
) -> Iterator[SyncRun | None]:
    """A `SyncRun` of the shop, started now, over its Admin API client, while this process holds
    the shop's sync lock (`shop_sync_lock`, waiting at most `lock_wait`); None when another sync
    holds it. Backfill and reconcile both set up their run here."""
    with shop_sync_lock(runtime, shop.id, wait=lock_wait) as locked:
        if not locked:
            yield None
            return
        with shopify_client(runtime, shop) as client:
            yield SyncRun(
                runtime,
                session,
                shop,
                client,
                started_at=utcnow(),
                report=report,
                bulk_threshold=bulk_threshold,
                cursors=cursors,
            )


def backfill_shop(
    runtime: Kizuna,
    shop_id: int,
    full: bool = True,
    bulk: bool = True,
) -> dict[str, int]:
    """Pull the shop's streams into the database; the row counts per stream.

    `full` reads everything (an install: rows may have been erased since cursors were saved);
    otherwise each stream starts at its saved cursor. Streams of `BULK_THRESHOLD` records or more
    are read by a bulk operation unless `bulk` is False."""
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.status == "uninstalled":
            log.info("backfill skipped shop_id=%s: not installed", shop_id)
            return {}
        changes: dict[str, Any] = {
            "status": "running",
            "stream": None,
            "streams": [stream.name for stream in STREAMS],
            "done": {},
            "totals": {},
            "bulk": {},
            "finished_at": None,
            "error": None,
            "skipped": {},
        }
        if full:
            changes["cursors"] = {}
        if not streams.has_all_orders(shop.scopes):
            changes["notice"] = READ_ALL_ORDERS_NOTICE
        try:
            with locked_sync_run(
                runtime,
                session,
                shop,
                lock_wait=BACKFILL_LOCK_WAIT_SECONDS,
                report=True,
                bulk_threshold=BULK_THRESHOLD if bulk else None,
                cursors={} if full else saved_cursors(shop.sync_state),
            ) as run:
                if run is None:
                    log.warning("backfill skipped shop_id=%s: another sync holds the lock", shop_id)
                    return {}
                save_state(session, shop, started_at=run.started_at.isoformat(), **changes)
                done = run.run(STREAMS)
        except Exception as error:
            if _transient(error) and _retries_left() > 0:
                session.rollback()
                log.warning(
                    "backfill will retry shop_id=%s error=%s", shop_id, type(error).__name__
                )
                save_state(session, shop, status="retrying", error=None)
            else:
                _fail(session, shop_id, error)
            raise
        if run.stopped:
            return done
        if run.skipped:
            log.warning("backfill skipped records shop_id=%s skipped=%s", shop_id, run.skipped)
            record_skipped_records(shop, run.skipped)
        save_state(session, shop, status="done", stream=None, finished_at=utcnow().isoformat())
        log.info("backfill done shop_id=%s counts=%s", shop_id, done)
    _score_soon(runtime, shop_id)
    return done


def _score_soon(runtime: Kizuna, shop_id: int) -> None:
    """Fresh data: compute RFM and predictions now rather than at the next nightly run."""
    try:
        enqueue_scoring(runtime.redis, shop_id)
    except (redis.RedisError, OSError) as error:
        log.warning("scoring not queued shop_id=%s error=%s", shop_id, type(error).__name__)


def bulk_operation_finished(
    session: Session, event: WebhookEvent, shop: Shop | None, payload: dict[str, Any]
) -> None:
    """The `bulk_operations/finish` webhook handler: nothing to write. The waiting sync polls
    as soon as the delivery is recorded (`SyncRun.wait_for_bulk`), with or without this."""
    log.info(
        "bulk operation finished shop_id=%s event_id=%s status=%s",
        shop.id if shop else None,
        event.id,
        str(payload.get("status"))[:20],
    )
