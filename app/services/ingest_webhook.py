"""Recording a verified webhook delivery in the inbox, durably, before it is acknowledged.

Layer: services; commits. Concurrent deliveries in one process share one multi-row
`INSERT … ON CONFLICT DO NOTHING` on (platform, dedupe_key) and its commit (group commit): each
request waits for the commit of the group holding its row, so a 200 always follows a durable
row. A redelivery is acknowledged, never processed twice. Nothing else happens on the request:
the inbox is the queue; on PostgreSQL the table's statement trigger NOTIFYs `NOTIFY_CHANNEL`
when an insert adds pending rows (delivered to the workers at commit); workers also poll. The
hot path loads no ORM objects.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from app.db import Database, utcnow
from app.kizuna import Kizuna
from app.logs import current_request_id
from app.models import Shop, WebhookEvent
from app.services.upsert import table_of
from connectors.shopify.webhooks import (
    COMPLIANCE_TOPICS,
    SUPPORTED_TOPICS,
    WebhookHeaders,
    resource_id,
)

log = logging.getLogger(__name__)

PLATFORM = "shopify"
# Workers LISTEN here; the table's trigger notifies once per insert with pending rows
# (PostgreSQL only; the migration `20261207_webhook_queue` names the same channel).
NOTIFY_CHANNEL = "kizuna_webhook_events"
# Rows per shared INSERT: a burst larger than this commits in several groups.
GROUP_LIMIT = 200
# Shops found active are remembered briefly per process; a shop that has just uninstalled is
# still re-checked by the processing job, and unknown or uninstalled shops are never cached, so a
# fresh install is seen at once.
SHOP_CACHE_TTL = 10.0
# Deliveries after which this process should not trust its cached shop status.
_STATUS_CHANGING_TOPICS = frozenset({"app/uninstalled", "shop/redact"})


@dataclass(frozen=True)
class IngestResult:
    event_id: int | None
    duplicate: bool


@dataclass
class _Waiting:
    """One request's row in the group commit; `done` once its group committed (or failed)."""

    values: dict[str, Any]
    done: bool = False
    event_id: int | None = None
    error: BaseException | None = field(default=None, repr=False)


class _Intake:
    """The intake's per-process state for one database: active shops, one connection per
    thread kept between requests, and the group commit.

    Checking a connection out of the pool per request costs a ping and a reset, more CPU than
    the insert itself; intake runs single statements in autocommit, so a held connection never
    sits in a transaction. A connection found broken is replaced and the statement retried once.

    Group commit without a thread of its own: a request that finds no group being written
    becomes the writer of every row queued so far (its own included), on its own connection;
    requests arriving meanwhile queue and wait, and the next of them writes the next group.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.shops: dict[str, tuple[float, int, str]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._queued: list[_Waiting] = []
        self._writing = False
        self._written = threading.Condition(threading.Lock())

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._local.connection = connection
        return connection

    def execute(self, statement: Any, parameters: Any = None) -> list[Row]:
        for attempt in (1, 2):
            connection = self._connection()
            try:
                result = connection.execute(statement, parameters)
                rows = list(result) if result.returns_rows else []
                connection.commit()  # ends SQLAlchemy's bookkeeping; the driver autocommitted
                return rows
            except DBAPIError as error:
                connection.rollback()
                if not error.connection_invalidated or attempt == 2:
                    raise
                connection.close()
                self._local.connection = None
        raise AssertionError("unreachable")

    def record(self, values: dict[str, Any]) -> int | None:
        """Insert one `webhook_events` row with whatever other rows are waiting, and return
        once their shared commit is done: its id, or None when its dedupe key exists."""
        waiting = _Waiting(values)
        with self._written:
            self._queued.append(waiting)
            while not waiting.done:
                if self._writing:
                    self._written.wait()
                    continue
                group = self._queued[:GROUP_LIMIT]
                del self._queued[:GROUP_LIMIT]
                self._writing = True
                self._written.release()
                try:
                    self._write(group)
                finally:
                    self._written.acquire()
                    self._writing = False
                    self._written.notify_all()
        if waiting.error is not None:
            raise waiting.error
        return waiting.event_id

    def _write(self, group: list[_Waiting]) -> None:
        """One INSERT … ON CONFLICT DO NOTHING of the group's rows, committed; each waiting
        request gets its id, None (a duplicate) or the error. A row the database refuses
        (its shop erased meanwhile) fails alone: the group is then written row by row."""
        first: dict[tuple[str, str], _Waiting] = {}
        for waiting in group:
            first.setdefault((waiting.values["platform"], waiting.values["dedupe_key"]), waiting)
        rows = list(first.values())
        try:
            try:
                inserted = self._insert(rows)
            except IntegrityError:
                if len(rows) == 1:
                    raise
                inserted = {}
                for waiting in rows:
                    try:
                        inserted.update(self._insert([waiting]))
                    except IntegrityError as error:
                        waiting.error = error
        except BaseException as error:
            for waiting in group:
                waiting.error, waiting.done = error, True
            _reraise_if_fatal(error)
            return
        for waiting in group:
            key = (waiting.values["platform"], waiting.values["dedupe_key"])
            if first[key] is waiting:
                waiting.event_id = inserted.get(key)
            waiting.done = True

    def _insert(self, rows: list[_Waiting]) -> dict[tuple[str, str], int]:
        statement = _insert_statement(self.engine.dialect.name)
        returned = self.execute(statement, [waiting.values for waiting in rows])
        return {(platform, key): int(event_id) for event_id, platform, key in returned}

    def cached_shop(self, domain: str) -> tuple[int, str] | None:
        entry = self.shops.get(domain)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]

    def remember_shop(self, domain: str, shop_id: int, status: str) -> None:
        with self._lock:
            if len(self.shops) > 10_000:
                self.shops.clear()
            self.shops[domain] = (time.monotonic() + SHOP_CACHE_TTL, shop_id, status)

    def forget_shop(self, domain: str) -> None:
        with self._lock:
            self.shops.pop(domain, None)


def _reraise_if_fatal(error: BaseException) -> None:
    """Errors that must not be turned into a request's failure (interpreter exit, Ctrl-C)."""
    if not isinstance(error, Exception):
        raise error


_intakes: weakref.WeakKeyDictionary[Database, _Intake] = weakref.WeakKeyDictionary()
_intakes_lock = threading.Lock()


def _intake(database: Database) -> _Intake:
    intake = _intakes.get(database)
    if intake is None:
        with _intakes_lock:
            intake = _intakes.setdefault(database, _Intake(database.engine))
    return intake


def _find_shop(intake: _Intake, domain: str | None) -> tuple[int, str] | None:
    if domain is None:
        return None
    cached = intake.cached_shop(domain)
    if cached is not None:
        return cached
    rows = intake.execute(_SHOP_QUERY, {"domain": domain})
    if not rows:
        return None
    shop_id, status = rows[0]
    if status != "uninstalled":
        intake.remember_shop(domain, shop_id, status)
    return shop_id, status


def installed_shop_id(database: Database, domain: str | None) -> int | None:
    """The id of the installed Shopify shop with this canonical domain, else None (also when
    the database cannot answer: callers use it for best-effort bookkeeping only)."""
    try:
        shop = _find_shop(_intake(database), domain)
    except SQLAlchemyError as error:
        log.warning("shop lookup failed error=%s", type(error).__name__)
        return None
    if shop is None or shop[1] == "uninstalled":
        return None
    return shop[0]


def _initial_status(topic: str, shop: tuple[int, str] | None) -> str:
    """`pending` for work we will do; `ignored` (recorded, payload dropped) for the rest."""
    if topic in COMPLIANCE_TOPICS:
        return "pending"  # honoured for every shop, known or not
    if topic not in SUPPORTED_TOPICS or shop is None:
        return "ignored"
    if topic == "app/uninstalled":
        return "pending"  # safe to apply again to an already uninstalled shop
    return "ignored" if shop[1] == "uninstalled" else "pending"


def dedupe_key(headers: WebhookHeaders, body: bytes) -> str:
    if headers.webhook_id:
        return headers.webhook_id
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _event_values(
    headers: WebhookHeaders, body: bytes, payload: dict[str, Any], shop: tuple[int, str] | None
) -> dict[str, Any]:
    topic = headers.topic or ""
    status = _initial_status(topic, shop)
    return {
        "platform": PLATFORM,
        "dedupe_key": dedupe_key(headers, body),
        "shop_id": shop[0] if shop else None,
        "shop_domain": headers.shop_domain or "",
        "topic": topic,
        "event_id": headers.event_id,
        "api_version": headers.api_version,
        "resource_id": (resource_id(topic, payload) or "")[:64] or None,
        "triggered_at": headers.triggered_at,
        "received_at": utcnow(),
        # Payloads are personal data: kept only for deliveries that will be processed.
        "payload": body.decode("utf-8") if status == "pending" else None,
        "status": status,
        "attempts": 0,
        "request_id": current_request_id(),
    }


@functools.cache
def _insert_statement(dialect: str) -> Any:
    """Built once per dialect: constructing the statement per request costs more than running it.
    Run with a list of rows, SQLAlchemy sends them as one multi-row INSERT."""
    table = table_of(WebhookEvent)
    return (
        (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
        .on_conflict_do_nothing(index_elements=["platform", "dedupe_key"])
        .returning(table.c.id, table.c.platform, table.c.dedupe_key)
    )


_SHOP_QUERY = select(Shop.id, Shop.status).where(
    Shop.platform == PLATFORM, Shop.domain == bindparam("domain")
)


def record_event(runtime: Kizuna, values: dict[str, Any]) -> int | None:
    """Insert one `webhook_events` row (committed before this returns, with the rows of
    concurrent requests); None when its dedupe key exists."""
    return _intake(runtime.db).record(values)


def ingest_shopify_webhook(
    runtime: Kizuna,
    headers: WebhookHeaders,
    body: bytes,
    payload: dict[str, Any] | None = None,
) -> IngestResult:
    """Record one verified delivery, committed before this returns; workers take it from there.

    `payload` is the parsed body when the caller has it already. Unknown or uninstalled shops
    are recorded as `ignored` without payload; compliance topics are always recorded `pending`.
    A duplicate delivery returns `duplicate=True`.
    """
    if payload is None:
        payload = json.loads(body)
    intake = _intake(runtime.db)
    if headers.topic in _STATUS_CHANGING_TOPICS and headers.shop_domain:
        intake.forget_shop(headers.shop_domain)
    shop = _find_shop(intake, headers.shop_domain)
    values = _event_values(headers, body, payload, shop)
    try:
        event_id = intake.record(values)
    except IntegrityError:
        # The cached shop row is gone (erased meanwhile): look it up again, once.
        intake.forget_shop(values["shop_domain"])
        shop = _find_shop(intake, headers.shop_domain)
        values = _event_values(headers, body, payload, shop)
        event_id = intake.record(values)
    if event_id is None:
        log.info("webhook duplicate topic=%s shop_id=%s", values["topic"], values["shop_id"])
        return IngestResult(event_id=None, duplicate=True)
    return IngestResult(event_id=event_id, duplicate=False)
