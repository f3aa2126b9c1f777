"""Processing recorded webhook deliveries in batches: claim, apply set-wise, mark, commit.

Layer: services; called by the workers' inbox loop (`jobs/webhook_inbox.py`), the sweeper and
the RQ entry `jobs.process_webhook.process_webhook_event` (one event, a batch of one). The inbox
is the queue: `process_pending` claims up to `BATCH_SIZE` due `pending` events in id order
(`FOR UPDATE SKIP LOCKED`: concurrent workers never take the same event) in the transaction that
applies them, so a worker lost mid-batch leaves them `pending` for the next claim, and an event
is applied once however often it was delivered. Customers, orders and checkouts of a batch are
upserted set-wise per shop ("newer wins" on `updated_at`, so order within and across batches
does not matter) and reach `flows.triggers` together; other topics are applied one by one, in
order, each as a barrier. Payloads are dropped when done. A batch that fails is run again in
halves, down to batches of one, so a poisoned event fails alone: it is retried with backoff
(`next_attempt_at`), then `failed` and shown on the shop's status.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows import triggers as flow_triggers
from app.flows.definition import Restock
from app.kizuna import Kizuna, kizuna
from app.logs import job_context
from app.metrics import record
from app.models import Customer, Shop, TimelineEvent, WebhookEvent
from app.services import stock_subscriptions, upsert
from app.services.redact import redact_customer, redact_shop
from app.services.shop_errors import platform_name, record_shop_error
from app.services.shop_tokens import shopify_client
from app.services.sync import bulk_operation_finished
from app.services.uninstall import uninstall_shop
from app.services.woocommerce_events import HANDLERS as WOOCOMMERCE_HANDLERS
from connectors.base import CheckoutRecord, CustomerRecord, OrderRecord
from connectors.shopify.inventory import item_variants
from connectors.shopify.webhooks import (
    CHECKOUT_TOPICS,
    CONSENT_TOPICS,
    CUSTOMER_TOPICS,
    INVENTORY_TOPICS,
    ORDER_TOPICS,
    WebhookPayloadError,
    checkout_from_payload,
    compliance_from_payload,
    consent_from_payload,
    customer_from_payload,
    external_id,
    inventory_level_from_payload,
    order_from_payload,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 100  # events per claim and transaction
RETRY_DELAYS = (10, 30, 60, 120, 300)  # seconds before each further attempt
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)
DATA_REQUESTS_KEPT = 20
_ERROR_TEXT_LIMIT = 500

Payload = dict[str, Any]
Handler = Callable[[Session, WebhookEvent, Shop | None, Payload], None]


class _Ignored(Exception):
    """The event is valid but there is nothing for Kizuna to do (recorded as `ignored`)."""


def _require_shop(shop: Shop | None) -> Shop:
    if shop is None or shop.status == "uninstalled":
        raise _Ignored
    return shop


def _customers(session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload) -> None:
    upsert.upsert_customers(session, _require_shop(shop).id, [customer_from_payload(payload)])


def _customer_deleted(
    session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload
) -> None:
    customer_id = external_id(payload)
    if customer_id is None:
        raise WebhookPayloadError("payload has no customer id")
    upsert.mark_customer_deleted(
        session, _require_shop(shop).id, customer_id, event.triggered_at or utcnow()
    )


def _consent(session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload) -> None:
    record = consent_from_payload(payload, triggered_at=event.triggered_at)
    upsert.upsert_customers(session, _require_shop(shop).id, [record])
    flow_triggers.after_customers(session, _require_shop(shop).id, [record.external_id])


def _orders(session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload) -> None:
    record = order_from_payload(payload)
    shop_id = _require_shop(shop).id
    upsert.upsert_orders(session, shop_id, [record])
    flow_triggers.after_orders(session, shop_id, [record])


def _checkouts(session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload) -> None:
    record = checkout_from_payload(payload)
    shop_id = _require_shop(shop).id
    upsert.upsert_checkouts(session, shop_id, [record])
    flow_triggers.after_checkouts(session, shop_id, [record])


def _uninstalled(
    session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload
) -> None:
    if shop is None:
        raise _Ignored
    uninstall_shop(session, shop.id, occurred_at=event.triggered_at)


def _data_request(
    session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload
) -> None:
    """Record the request where the merchant sees it: the customer's timeline and shop status.

    Kizuna holds no data of an unknown shop, so there is nothing to report for one.
    """
    if shop is None:
        return
    request = compliance_from_payload(payload)
    request_key = request.data_request_id or event.dedupe_key
    customer_id = None
    if request.customer_external_id:
        customer_id = session.scalar(
            select(Customer.id).where(
                Customer.shop_id == shop.id, Customer.external_id == request.customer_external_id
            )
        )
    if customer_id is not None:
        session.execute(
            upsert.dialect_insert(session, TimelineEvent)
            .values(
                shop_id=shop.id,
                customer_id=customer_id,
                kind="data_request",
                source_key=request_key[:120],
                occurred_at=event.triggered_at or event.received_at,
                detail={"request_id": request.data_request_id, "orders": list(request.order_ids)},
            )
            .on_conflict_do_nothing(index_elements=["shop_id", "kind", "source_key"])
        )
    state = dict(shop.sync_state or {})
    requests = [r for r in state.get("data_requests", []) if r.get("request_id") != request_key]
    requests.append(
        {
            "request_id": request_key,
            "customer_id": customer_id,
            "received_at": (event.triggered_at or event.received_at).isoformat(),
        }
    )
    # A new dict: the JSON column only notices reassignment.
    shop.sync_state = {**state, "data_requests": requests[-DATA_REQUESTS_KEPT:]}


def _customer_redact(
    session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload
) -> None:
    if shop is None:
        return  # no rows of an unknown shop: nothing to erase
    request = compliance_from_payload(payload)
    redact_customer(
        session,
        shop.id,
        request.customer_external_id,
        request.email,
        request.order_ids,
        keep_event_id=event.id,
    )


def _shop_redact(
    session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload
) -> None:
    redact_shop(session, event.shop_domain, occurred_at=event.triggered_at)


def _inventory(session: Session, event: WebhookEvent, shop: Shop | None, payload: Payload) -> None:
    """A location's stock of an inventory item changed: when units are for sale and someone
    waits for a product of the shop, the item's variants are read from the Admin API and
    their back-in-stock subscribers released (`stock_subscriptions.restock`)."""
    shop = _require_shop(shop)
    item, available = inventory_level_from_payload(payload)
    if available <= 0 or not stock_subscriptions.has_waiting(session, shop.id):
        return
    with shopify_client(kizuna(), shop) as client:
        variants = item_variants(client, item)
    restocks = [Restock(product, variant, available) for product, variant in variants]
    stock_subscriptions.restock(session, shop.id, restocks)


HANDLERS: dict[str, Handler] = {
    **dict.fromkeys(CUSTOMER_TOPICS, _customers),
    "customers/delete": _customer_deleted,
    **dict.fromkeys(CONSENT_TOPICS, _consent),
    **dict.fromkeys(ORDER_TOPICS, _orders),
    **dict.fromkeys(CHECKOUT_TOPICS, _checkouts),
    "app/uninstalled": _uninstalled,
    "customers/data_request": _data_request,
    "customers/redact": _customer_redact,
    "shop/redact": _shop_redact,
    "bulk_operations/finish": bulk_operation_finished,
    **dict.fromkeys(INVENTORY_TOPICS, _inventory),
}


# Topics applied set-wise: the record a payload maps to, by kind. Everything else goes through
# its handler, one event at a time.
_CUSTOMERS, _ORDERS, _CHECKOUTS = "customers", "orders", "checkouts"
Record = CustomerRecord | OrderRecord | CheckoutRecord


def _consent_record(event: WebhookEvent, payload: Payload) -> CustomerRecord:
    return consent_from_payload(payload, triggered_at=event.triggered_at)


SET_WISE: dict[tuple[str, str], tuple[str, Callable[[WebhookEvent, Payload], Record]]] = {
    **{
        ("shopify", t): (_CUSTOMERS, lambda _e, p: customer_from_payload(p))
        for t in CUSTOMER_TOPICS
    },
    **{("shopify", t): (_CUSTOMERS, _consent_record) for t in CONSENT_TOPICS},
    **{("shopify", t): (_ORDERS, lambda _e, p: order_from_payload(p)) for t in ORDER_TOPICS},
    **{
        ("shopify", t): (_CHECKOUTS, lambda _e, p: checkout_from_payload(p))
        for t in CHECKOUT_TOPICS
    },
}
# Handlers that erase payloads of other pending events (they are read again after these).
_ERASING_TOPICS = frozenset({"customers/redact", "shop/redact"})


def _handlers(platform: str) -> Mapping[str, Handler]:
    if platform == "woocommerce":
        return WOOCOMMERCE_HANDLERS
    return HANDLERS


def _describe(error: Exception) -> str:
    # Database errors quote the row they failed on: only our own mapping messages are safe.
    if isinstance(error, WebhookPayloadError):
        return f"{type(error).__name__}: {error}"[:_ERROR_TEXT_LIMIT]
    return type(error).__name__


@dataclass
class _Settled:
    """What a batch decided per event: its outcome, or the failure to record."""

    outcomes: dict[int, str] = field(default_factory=dict)
    failures: dict[int, Exception] = field(default_factory=dict)


class _Batch:
    """The claimed events of one transaction, applied in id order: runs of set-wise topics are
    gathered per shop and kind, and flushed before any other topic (a barrier) and at the end."""

    def __init__(self, session: Session, events: Sequence[WebhookEvent]) -> None:
        self.session, self.events = session, events
        self.payloads = {event.id: event.payload for event in events}
        self.shops: dict[int, Shop] = {}
        self.settled = _Settled()
        self.gathered: dict[tuple[int, str], list[tuple[int, Any]]] = {}
        self._load_shops([event.shop_id for event in events if event.shop_id is not None])

    def _load_shops(self, shop_ids: Sequence[int | None]) -> None:
        wanted = sorted({shop_id for shop_id in shop_ids if shop_id is not None})
        if not wanted:
            return
        found = self.session.scalars(
            select(Shop).where(Shop.id.in_(wanted)).execution_options(populate_existing=True)
        )
        self.shops.update({shop.id: shop for shop in found})

    def _payload(self, event: WebhookEvent) -> Payload | None:
        raw = self.payloads.get(event.id)
        if raw is None:
            return None
        try:
            payload = json.loads(raw)
        except ValueError as error:
            raise WebhookPayloadError("stored payload is not JSON") from error
        if not isinstance(payload, dict):
            raise WebhookPayloadError("stored payload is not an object")
        return payload

    def apply(self) -> _Settled:
        for position, event in enumerate(self.events):
            set_wise = SET_WISE.get((event.platform, event.topic))
            if set_wise is not None:
                self._gather(event, *set_wise)
                continue
            self.flush()
            self._apply_one(event)
            if event.topic in _ERASING_TOPICS or event.topic == "app/uninstalled":
                self._reread([e.id for e in self.events[position + 1 :]])
        self.flush()
        return self.settled

    def _gather(
        self, event: WebhookEvent, kind: str, to_record: Callable[[WebhookEvent, Payload], Record]
    ) -> None:
        shop = self.shops.get(event.shop_id) if event.shop_id is not None else None
        if shop is None or shop.status == "uninstalled":
            self.settled.outcomes[event.id] = "ignored"
            return
        try:
            payload = self._payload(event)
            if payload is None:  # erased by a redact before it was processed
                self.settled.outcomes[event.id] = "processed"
                return
            record = to_record(event, payload)
        except WebhookPayloadError as error:
            self.settled.failures[event.id] = error
            return
        gathered = self.gathered.setdefault((shop.id, kind), [])
        if any(other.external_id == record.external_id for _id, other in gathered):
            # A second change of the same checkout, order or customer: the flows see each in
            # turn (a cart run starts, then its checkout completes), as if delivered apart.
            self.flush()
            gathered = self.gathered.setdefault((shop.id, kind), [])
        gathered.append((event.id, record))

    def flush(self) -> None:
        """Apply what was gathered: per shop, customers, then checkouts (a cart run starts),
        then orders (which exit cart runs started before them, then start post-purchase)."""
        gathered, self.gathered = self.gathered, {}
        for shop_id in sorted({shop_id for shop_id, _kind in gathered}):
            customers = gathered.get((shop_id, _CUSTOMERS), [])
            checkouts = gathered.get((shop_id, _CHECKOUTS), [])
            orders = gathered.get((shop_id, _ORDERS), [])
            if customers:
                records = [r for _id, r in customers]
                upsert.upsert_customers(self.session, shop_id, records)
                flow_triggers.after_customers(
                    self.session, shop_id, [r.external_id for r in records]
                )
            if checkouts:
                records = [r for _id, r in checkouts]
                upsert.upsert_checkouts(self.session, shop_id, records)
                flow_triggers.after_checkouts(self.session, shop_id, records)
            if orders:
                records = [r for _id, r in orders]
                upsert.upsert_orders(self.session, shop_id, records)
                flow_triggers.after_orders(self.session, shop_id, records)
            for event_id, _record in (*customers, *checkouts, *orders):
                self.settled.outcomes[event_id] = "processed"

    def _apply_one(self, event: WebhookEvent) -> None:
        """One event through its handler, in a savepoint: an error undoes that event alone."""
        handler = _handlers(event.platform).get(event.topic)
        if handler is None:
            self.settled.outcomes[event.id] = "ignored"
            return
        shop = self.shops.get(event.shop_id) if event.shop_id is not None else None
        try:
            with self.session.begin_nested():
                payload = self._payload(event)
                if payload is None:  # erased by a redact before it was processed
                    self.settled.outcomes[event.id] = "processed"
                    return
                handler(self.session, event, shop, payload)
        except _Ignored:
            self.settled.outcomes[event.id] = "ignored"
        except Exception as error:
            self.settled.failures[event.id] = error
        else:
            self.settled.outcomes[event.id] = "processed"

    def _reread(self, event_ids: list[int]) -> None:
        """After a handler that changes shops or erases payloads: what the rest now meet."""
        if not event_ids:
            return
        rows = self.session.execute(
            select(WebhookEvent.id, WebhookEvent.payload).where(WebhookEvent.id.in_(event_ids))
        )
        self.payloads.update({row[0]: row[1] for row in rows})
        shop_ids = list(self.shops)
        self.shops.clear()
        self._load_shops(shop_ids)


def claim(
    session: Session, limit: int, now: datetime, where: Sequence[ColumnElement[bool]] = ()
) -> list[WebhookEvent]:
    """Take up to `limit` due pending events, oldest first, skipping rows another transaction
    holds; their attempts count up in this transaction (undone with it if it rolls back)."""
    due = (
        select(WebhookEvent.id)
        .where(
            WebhookEvent.status == "pending",
            or_(WebhookEvent.next_attempt_at.is_(None), WebhookEvent.next_attempt_at <= now),
            *where,
        )
        .order_by(WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.scalars(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(due.scalar_subquery()))
        .values(attempts=WebhookEvent.attempts + 1)
        .returning(WebhookEvent)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    return sorted(claimed, key=lambda event: event.id)


def _finish(session: Session, outcomes: Mapping[int, str], now: datetime) -> None:
    by_status: dict[str, list[int]] = {}
    for event_id, status in outcomes.items():
        by_status.setdefault(status, []).append(event_id)
    for status, event_ids in sorted(by_status.items()):
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_(sorted(event_ids)))
            .values(
                status=status,
                processed_at=now,
                payload=None,
                last_error=None,
                last_error_code=None,
                next_attempt_at=None,
            )
            .execution_options(synchronize_session=False)
        )


def _fail(
    session: Session, event: WebhookEvent, error: Exception, now: datetime, *, counted: bool
) -> bool:
    """Record a failed attempt of `event` (locked by the caller); → True when it is now
    `failed`: a payload that cannot be mapped fails at once, anything else after
    `MAX_ATTEMPTS`, each retry later than the last. `counted`: the attempt is counted already."""
    attempts = event.attempts if counted else event.attempts + 1
    final = isinstance(error, WebhookPayloadError) or attempts >= MAX_ATTEMPTS
    reason = (
        "webhook_error.unreadable"
        if isinstance(error, WebhookPayloadError)
        else "webhook_error.internal"
    )
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": _describe(error),
        "last_error_code": reason,
    }
    if final:
        # A failed payload is personal data with no further use: the next sync reconciles.
        values.update(status="failed", processed_at=now, payload=None, next_attempt_at=None)
    else:
        delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
        values["next_attempt_at"] = now + timedelta(seconds=delay)
    session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if final and event.shop_id is not None:
        shop = session.scalars(select(Shop).where(Shop.id == event.shop_id)).one_or_none()
        if shop is not None:
            record_shop_error(
                shop,
                "shop_error.webhook_failed",
                platform=platform_name(event.platform),
                topic=event.topic,
                event=event.id,
                attempts=attempts,
                reason_key=reason,
            )
    log.warning(
        "webhook failed event_id=%s topic=%s attempt=%s final=%s error=%s",
        event.id,
        event.topic,
        attempts,
        final,
        type(error).__name__,
    )
    return final


def webhook_job_id(event_id: int) -> str:
    """How the log lines of an event's processing name it (the id of its RQ job, once)."""
    return f"webhook-{event_id}"


def _record_failure(runtime: Kizuna, event_id: int, error: Exception) -> str:
    """Count a failed attempt of an event whose transaction rolled back → failed or retry."""
    with runtime.db.session() as session:
        event = session.scalars(
            select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
        ).one_or_none()
        if event is None or event.status != "pending":
            return "skipped"
        now = utcnow()
        failed = _fail(session, event, error, now, counted=False)
        timing = [(event.platform, event.received_at, now if failed else None)]
        session.commit()
    outcome = "failed" if failed else "retry"
    _record_metrics(runtime, timing, Counter({(event.platform, outcome): 1}), None)
    return outcome


def _record_metrics(
    runtime: Kizuna,
    settled: Sequence[tuple[str, datetime, datetime | None]],
    outcomes: Counter[tuple[str, str]],
    started: float | None,
) -> None:
    """Count the outcomes; time the batch per event and the lag since receipt (settled events),
    in one Redis round trip."""
    counts = [
        ("kizuna_webhook_processed", {"platform": platform, "outcome": outcome})
        for (platform, outcome), n in outcomes.items()
        for _ in range(n)
    ]
    observations: list[tuple[str, dict[str, str], float]] = []
    if started is not None and settled:
        per_event = (time.perf_counter() - started) / len(settled)
        observations.extend(
            ("kizuna_webhook_processing_seconds", {"platform": platform}, per_event)
            for platform, _received, _processed in settled
        )
    for platform, received_at, processed_at in settled:
        if processed_at is not None:
            lag = max(0.0, (processed_at - received_at).total_seconds())
            observations.append(("kizuna_webhook_lag_seconds", {"platform": platform}, lag))
    record(runtime.redis, counts=counts, observations=observations)


def _run_batch(runtime: Kizuna, where: Sequence[ColumnElement[bool]], limit: int) -> dict[int, str]:
    """Claim and apply one batch in one transaction → each claimed event's outcome. A batch
    that fails as a whole is rolled back and run again in halves; a single event that fails
    has its attempt recorded (retry later, or `failed`)."""
    started = time.perf_counter()
    now = utcnow()
    with runtime.db.session() as session:
        events = claim(session, limit, now, where)
        if not events:
            session.rollback()
            return {}
        ids = [event.id for event in events]
        # Jobs the batch schedules carry the delivering request's id when there is one.
        request_ids = {event.request_id for event in events}
        shared = request_ids.pop() if len(request_ids) == 1 else None
        try:
            with job_context(None, {"request_id": shared}):
                settled = _Batch(session, events).apply()
            _finish(session, settled.outcomes, now)
            by_id = {event.id: event for event in events}
            failed = {
                event_id: _fail(session, by_id[event_id], error, now, counted=True)
                for event_id, error in settled.failures.items()
            }
            timing = [
                (by_id[i].platform, by_id[i].received_at, now)
                for i in [*settled.outcomes, *(i for i, final in failed.items() if final)]
            ]
            with job_context(None, {"request_id": shared}):
                session.commit()
        except Exception as error:
            session.rollback()
            if len(ids) == 1:
                return {ids[0]: _record_failure(runtime, ids[0], error)}
            log.warning(
                "webhook batch failed, halving it events=%s error=%s",
                len(ids),
                type(error).__name__,
            )
            # Halves, so a poisoned event is isolated in a few rounds, and a batch that only
            # lost a deadlock is done in two.
            outcomes: dict[int, str] = {}
            for half in (ids[: len(ids) // 2], ids[len(ids) // 2 :]):
                outcomes.update(_run_batch(runtime, [WebhookEvent.id.in_(half)], len(half)))
            return outcomes
    outcomes = dict(settled.outcomes)
    outcomes.update({i: "failed" if final else "retry" for i, final in failed.items()})
    counted = Counter((by_id[i].platform, outcome) for i, outcome in outcomes.items())
    _record_metrics(runtime, timing, counted, started)
    for event in events:
        with job_context(webhook_job_id(event.id), {"request_id": event.request_id}):
            log.info(
                "webhook %s event_id=%s topic=%s shop_id=%s",
                outcomes[event.id],
                event.id,
                event.topic,
                event.shop_id,
            )
    return outcomes


def process_pending(
    runtime: Kizuna, limit: int = BATCH_SIZE, *, received_before: datetime | None = None
) -> int:
    """Claim up to `limit` due pending events (received before `received_before`, when given)
    and apply them; → how many were claimed (0: nothing due, or all held by other workers)."""
    where = [] if received_before is None else [WebhookEvent.received_at < received_before]
    return len(_run_batch(runtime, where, limit))


def process_webhook_event(runtime: Kizuna, event_id: int) -> str:
    """Apply one recorded delivery now, as a batch of one → processed, ignored, retry, failed,
    or skipped (not pending, not due yet, or being processed by another worker)."""
    outcomes = _run_batch(runtime, [WebhookEvent.id == event_id], 1)
    return outcomes.get(event_id, "skipped")
