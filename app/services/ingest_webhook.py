"""Recording a verified Shopify webhook delivery in the inbox, then queueing its processing.

Layer: services; commits. One INSERT … ON CONFLICT DO NOTHING on (platform, dedupe_key), so a
redelivery is acknowledged, never processed twice; the job is enqueued after commit, and a row
left `pending` (Redis down) is swept up. The hot path loads no ORM objects.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Connection, Engine, Row, bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from app.db import Database, utcnow
from app.kizuna import Kizuna
from app.models import Shop, WebhookEvent
from app.queueing import enqueue, job_id
from app.services.upsert import table_of
from app.tasks import PROCESS_WEBHOOK
from connectors.shopify.webhooks import (
    COMPLIANCE_TOPICS,
    SUPPORTED_TOPICS,
    WebhookHeaders,
    resource_id,
)

log = logging.getLogger(__name__)

PLATFORM = "shopify"
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


def webhook_job_id(event_id: int) -> str:
    return job_id("webhook", event_id)


def enqueue_webhook_event(connection: redis.Redis, event_id: int) -> None:
    """Queue processing of one recorded event (a no-op while the same job is still queued).
    One Redis round trip: RQ's unique enqueue checks, saves and pushes in one script."""
    enqueue(connection, PROCESS_WEBHOOK, event_id, job_id=webhook_job_id(event_id))


class _Intake:
    """The intake's per-process state for one database: active shops, and one connection per
    thread kept between requests.

    Checking a connection out of the pool per request costs a ping and a reset, more CPU than
    the insert itself; intake runs single statements in autocommit, so a held connection never
    sits in a transaction. A connection found broken is replaced and the statement retried once.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.shops: dict[str, tuple[float, int, str]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.invalidated:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._local.connection = connection
        return connection

    def execute(self, statement: Any, parameters: dict[str, Any] | None = None) -> list[Row]:
        for attempt in (1, 2):
            connection = self._connection()
            try:
                rows = list(connection.execute(statement, parameters))
                connection.commit()  # ends SQLAlchemy's bookkeeping; the driver autocommitted
                return rows
            except DBAPIError as error:
                connection.rollback()
                if not error.connection_invalidated or attempt == 2:
                    raise
                connection.close()
                self._local.connection = None
        raise AssertionError("unreachable")

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
    }


@functools.cache
def _insert_statement(dialect: str) -> Any:
    """Built once per dialect: constructing the statement per request costs more than running it."""
    table = table_of(WebhookEvent)
    return (
        (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
        .on_conflict_do_nothing(index_elements=["platform", "dedupe_key"])
        .returning(table.c.id)
    )


_SHOP_QUERY = select(Shop.id, Shop.status).where(
    Shop.platform == PLATFORM, Shop.domain == bindparam("domain")
)


def _insert_event(intake: _Intake, values: dict[str, Any]) -> int | None:
    """One statement in autocommit: the insert is its own transaction, one round trip."""
    rows = intake.execute(_insert_statement(intake.engine.dialect.name), values)
    return int(rows[0][0]) if rows else None


def record_event(runtime: Kizuna, values: dict[str, Any]) -> int | None:
    """Insert one `webhook_events` row (committed at once); None when its dedupe key exists."""
    return _insert_event(_intake(runtime.db), values)


def ingest_shopify_webhook(
    runtime: Kizuna,
    headers: WebhookHeaders,
    body: bytes,
    payload: dict[str, Any] | None = None,
) -> IngestResult:
    """Record one verified delivery (committed) and enqueue its processing.

    `payload` is the parsed body when the caller has it already. Unknown or uninstalled shops
    are recorded as `ignored` without payload; compliance topics are always recorded `pending`.
    A duplicate delivery returns `duplicate=True` and enqueues nothing.
    """
    if payload is None:
        payload = json.loads(body)
    intake = _intake(runtime.db)
    if headers.topic in _STATUS_CHANGING_TOPICS and headers.shop_domain:
        intake.forget_shop(headers.shop_domain)
    shop = _find_shop(intake, headers.shop_domain)
    values = _event_values(headers, body, payload, shop)
    try:
        event_id = _insert_event(intake, values)
    except IntegrityError:
        # The cached shop row is gone (erased meanwhile): look it up again, once.
        intake.forget_shop(values["shop_domain"])
        shop = _find_shop(intake, headers.shop_domain)
        values = _event_values(headers, body, payload, shop)
        event_id = _insert_event(intake, values)
    topic, status = values["topic"], values["status"]
    if event_id is None:
        log.info("webhook duplicate topic=%s shop_id=%s", topic, values["shop_id"])
        return IngestResult(event_id=None, duplicate=True)
    if status == "pending":
        try:
            enqueue_webhook_event(runtime.redis, event_id)
        except (redis.RedisError, OSError) as error:
            log.warning(
                "webhook enqueue deferred to sweeper event_id=%s error=%s",
                event_id,
                type(error).__name__,
            )
    return IngestResult(event_id=event_id, duplicate=False)
