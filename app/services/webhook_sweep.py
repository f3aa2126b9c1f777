"""The webhook sweeper: process webhook events still `pending` a while after they arrived (job
`jobs.sweeper.sweep_webhook_events`, queue `webhooks`, run by the scheduler, and at once after
Redis comes back empty).

Layer: services. Every worker claims events from the inbox by itself; this is the backstop for a
deployment whose workers' inbox loops are not running (an older worker, a stuck one). It claims
like they do (`FOR UPDATE SKIP LOCKED`, due retries only), so an event is never processed twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from app.db import utcnow
from app.kizuna import Kizuna
from app.services.process_webhook import BATCH_SIZE, process_pending

log = logging.getLogger(__name__)


def sweep_webhook_events(runtime: Kizuna, older_than: float = 30.0, limit: int = 50_000) -> int:
    """Process due pending events received more than `older_than` seconds ago; → how many were
    claimed. At most `limit` per run, oldest first; the next run continues."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    swept = 0
    while swept < limit:
        claimed = process_pending(runtime, min(BATCH_SIZE, limit - swept), received_before=cutoff)
        if not claimed:
            break
        swept += claimed
    if swept:
        log.info("sweeper processed webhook events count=%s", swept)
    return swept
