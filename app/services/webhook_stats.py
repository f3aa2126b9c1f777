"""Webhook health for the merchant's status page: inbox counts and rejected deliveries.

Layer: services (read-only on the database). Rejected deliveries (bad signature) are counted in
Redis per installed shop (`kizuna:webhooks:rejected:<shop id>`, 30-day TTL), never per claimed
domain, so junk creates no keys. Best effort: a Redis failure never changes the answer, reads 0.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.i18n import stored_error_text
from app.models import WebhookEvent
from app.models.webhook_event import EVENT_STATUSES

log = logging.getLogger(__name__)

REJECTED_KEY_PREFIX = "kizuna:webhooks:rejected:"
REJECTED_KEY_TTL = 30 * 24 * 3600


def rejected_key(shop_id: int) -> str:
    return f"{REJECTED_KEY_PREFIX}{int(shop_id)}"


def count_rejected(connection: redis.Redis, shop_id: int) -> None:
    """Add one rejected delivery to an installed shop's count (never raises). The caller has
    found the shop installed: a claimed domain alone never reaches here."""
    key = rejected_key(shop_id)
    try:
        pipeline = connection.pipeline(transaction=False)
        pipeline.incr(key)
        pipeline.expire(key, REJECTED_KEY_TTL)
        pipeline.execute()
    except (redis.RedisError, OSError) as error:
        log.warning("rejected webhook not counted error=%s", type(error).__name__)


def rejected_count(connection: redis.Redis, shop_id: int) -> int:
    """Deliveries refused for a bad signature in the last 30 days of activity (0 if unknown)."""
    try:
        value: Any = connection.get(rejected_key(shop_id))
    except (redis.RedisError, OSError) as error:
        log.warning("rejected webhook count unavailable error=%s", type(error).__name__)
        return 0
    return int(value or 0)


def webhook_counts(session: Session, shop_id: int) -> dict[str, Any]:
    """Counts of the shop's recorded deliveries by status, the last arrival and the last error."""
    counts: dict[str, Any] = dict.fromkeys(EVENT_STATUSES, 0)
    by_status = session.execute(
        select(WebhookEvent.status, func.count(WebhookEvent.id))
        .where(WebhookEvent.shop_id == shop_id)
        .group_by(WebhookEvent.status)
    )
    for status, count in by_status:
        counts[status] = int(count)
    last_received_at: datetime | None = session.scalar(
        select(func.max(WebhookEvent.received_at)).where(WebhookEvent.shop_id == shop_id)
    )
    last_error = session.execute(
        select(WebhookEvent.last_error, WebhookEvent.last_error_code, WebhookEvent.topic)
        .where(WebhookEvent.shop_id == shop_id, WebhookEvent.last_error.is_not(None))
        .order_by(WebhookEvent.id.desc())
        .limit(1)
    ).first()
    return {
        "received": sum(counts[status] for status in EVENT_STATUSES),
        **counts,
        "last_received_at": last_received_at,
        # Worded in the request's language (an older row without a code: its stored text).
        "last_error": (
            stored_error_text(last_error.last_error, last_error.last_error_code, None)
            if last_error
            else None
        ),
        "last_error_code": last_error.last_error_code if last_error else None,
        "last_error_topic": last_error.topic if last_error else None,
    }
