"""Processing one recorded webhook delivery: claim it, apply it, mark it processed.

Layer: services; the RQ entry `jobs.process_webhook.process_webhook_event` (queue `webhooks`,
job id `webhook-<event_id>`) binds the app context and calls it here. The claim (`pending` →
processing) is in the transaction that applies it, so a delivery enqueued twice is applied once;
the payload is dropped when done. Retried with backoff; after the last attempt the event is
`failed`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows import triggers as flow_triggers
from app.kizuna import Kizuna
from app.metrics import record
from app.models import Customer, Shop, TimelineEvent, WebhookEvent
from app.services import upsert
from app.services.redact import redact_customer, redact_shop
from app.services.sync import bulk_operation_finished
from app.services.uninstall import uninstall_shop
from app.services.woocommerce_events import HANDLERS as WOOCOMMERCE_HANDLERS
from app.tasks import PROCESS_WEBHOOK
from connectors.shopify.webhooks import (
    CHECKOUT_TOPICS,
    CONSENT_TOPICS,
    CUSTOMER_TOPICS,
    ORDER_TOPICS,
    WebhookPayloadError,
    checkout_from_payload,
    compliance_from_payload,
    consent_from_payload,
    customer_from_payload,
    external_id,
    order_from_payload,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 1 + len(PROCESS_WEBHOOK.retry_intervals)
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
}


def _claim(session: Session, event_id: int) -> WebhookEvent | None:
    """Take the event if it is still pending; a concurrent claimer waits, then finds it done."""
    claimed = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, WebhookEvent.status == "pending")
        .values(attempts=WebhookEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        return None
    return session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.id == event_id)
        .execution_options(populate_existing=True)
    ).one()


def _finish(event: WebhookEvent, status: str) -> None:
    event.status = status
    event.processed_at = utcnow()
    event.payload = None
    event.last_error = None


def _handlers(platform: str) -> Mapping[str, Handler]:
    if platform == "woocommerce":
        return WOOCOMMERCE_HANDLERS
    return HANDLERS


def _apply(session: Session, event: WebhookEvent) -> str:
    shop = None
    if event.shop_id is not None:
        shop = session.scalars(select(Shop).where(Shop.id == event.shop_id)).one_or_none()
    handler = _handlers(event.platform).get(event.topic)
    if handler is None:
        return "ignored"
    if event.payload is None:
        return "processed"  # erased by a redact before it was processed: nothing left to apply
    try:
        payload = json.loads(event.payload)
    except ValueError as error:
        raise WebhookPayloadError("stored payload is not JSON") from error
    if not isinstance(payload, dict):
        raise WebhookPayloadError("stored payload is not an object")
    try:
        handler(session, event, shop, payload)
    except _Ignored:
        return "ignored"
    return "processed"


def _describe(error: Exception) -> str:
    # Database errors quote the row they failed on: only our own mapping messages are safe.
    if isinstance(error, WebhookPayloadError):
        return f"{type(error).__name__}: {error}"[:_ERROR_TEXT_LIMIT]
    return type(error).__name__


def _record_failure(runtime: Kizuna, event_id: int, error: Exception, *, final: bool) -> bool:
    """Count the failed attempt; returns True when the event is now `failed` (no more retries)."""
    with runtime.db.session() as session:
        event = session.scalars(
            select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
        ).one_or_none()
        if event is None or event.status != "pending":
            return True
        event.attempts += 1
        event.last_error = _describe(error)
        failed = final or event.attempts >= MAX_ATTEMPTS
        if failed:
            event.status = "failed"
            event.processed_at = utcnow()
            # A failed payload is personal data with no further use: the next sync reconciles.
            event.payload = None
            if event.shop_id is not None:
                shop = session.scalars(select(Shop).where(Shop.id == event.shop_id)).one_or_none()
                if shop is not None:
                    shop.last_error = (
                        f"A {event.platform.title()} {event.topic} webhook (event {event.id}) "
                        f"could not be processed after {event.attempts} attempt(s): "
                        f"{event.last_error}. The next sync reconciles the data."
                    )[:_ERROR_TEXT_LIMIT]
                    shop.last_error_at = utcnow()
        timing = (event.platform, event.received_at, event.processed_at)
        session.commit()
        _record_metrics(runtime, timing, "failed" if failed else "retry", None)
        log.warning(
            "webhook failed event_id=%s topic=%s attempt=%s final=%s error=%s",
            event_id,
            event.topic,
            event.attempts,
            failed,
            type(error).__name__,
        )
        return failed


def _record_metrics(
    runtime: Kizuna,
    timing: tuple[str, datetime, datetime | None],
    outcome: str,
    started: float | None,
) -> None:
    """Count the outcome; time the processing and the lag since receipt (settled events)."""
    platform, received_at, processed_at = timing
    labels = {"platform": platform}
    observations = []
    if started is not None:
        observations.append(
            ("kizuna_webhook_processing_seconds", labels, time.perf_counter() - started)
        )
    if processed_at is not None:
        lag = (processed_at - received_at).total_seconds()
        observations.append(("kizuna_webhook_lag_seconds", labels, max(0.0, lag)))
    record(
        runtime.redis,
        counts=[("kizuna_webhook_processed", {**labels, "outcome": outcome})],
        observations=observations,
    )


def process_webhook_event(runtime: Kizuna, event_id: int) -> str:
    """Apply one recorded delivery; returns its outcome (processed, ignored, skipped, failed)."""
    started = time.perf_counter()
    try:
        with runtime.db.session() as session:
            event = _claim(session, event_id)
            if event is None:
                session.rollback()
                log.debug("webhook skipped event_id=%s: not pending", event_id)
                return "skipped"
            outcome = _apply(session, event)
            _finish(event, outcome)
            timing = (event.platform, event.received_at, event.processed_at)
            session.commit()
            _record_metrics(runtime, timing, outcome, started)
            log.info(
                "webhook %s event_id=%s topic=%s shop_id=%s",
                outcome,
                event_id,
                event.topic,
                event.shop_id,
            )
            return outcome
    except WebhookPayloadError as error:
        _record_failure(runtime, event_id, error, final=True)
        return "failed"
    except Exception as error:
        if _record_failure(runtime, event_id, error, final=False):
            return "failed"
        raise
