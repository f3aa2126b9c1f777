"""The webhook sweeper: re-enqueue webhook events still `pending` after a while (job
`jobs.sweeper.sweep_webhook_events`, queue `webhooks`, run by the scheduler).

Layer: services; reads only. The row is committed before its job is enqueued, so it is the trace
when Redis was down; re-enqueuing under `webhook-<event_id>` is a no-op while that job lives, and
processing claims the row, so it runs once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from app.db import utcnow
from app.kizuna import Kizuna
from app.models import WebhookEvent
from app.services.ingest_webhook import enqueue_webhook_event

log = logging.getLogger(__name__)

SWEEP_BATCH = 1_000


def sweep_webhook_events(runtime: Kizuna, older_than: float = 30.0, limit: int = 50_000) -> int:
    """Re-enqueue pending events received more than `older_than` seconds ago; returns how many.

    At most `limit` events per run, oldest first; the next run continues where this one stopped.
    """
    cutoff = utcnow() - timedelta(seconds=older_than)
    swept = 0
    after_id = 0
    while swept < limit:
        with runtime.db.session() as session:
            ids = list(
                session.scalars(
                    select(WebhookEvent.id)
                    .where(
                        WebhookEvent.status == "pending",
                        WebhookEvent.received_at < cutoff,
                        WebhookEvent.id > after_id,
                    )
                    .order_by(WebhookEvent.id)
                    .limit(min(SWEEP_BATCH, limit - swept))
                )
            )
        if not ids:
            break
        for event_id in ids:
            enqueue_webhook_event(runtime.redis, event_id)
        swept += len(ids)
        after_id = ids[-1]
    if swept:
        log.info("sweeper re-enqueued webhook events count=%s", swept)
    return swept
