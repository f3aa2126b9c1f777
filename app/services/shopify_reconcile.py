"""Reconcile: re-read each Shopify shop from its saved cursors every 15 minutes (jobs
`jobs.reconcile.reconcile_all` and `reconcile_shop`, queue `sync`, job id `reconcile-<shop_id>`).

Layer: services; each page commits through the `SyncRun` that `sync.locked_sync_run` sets up.
Upserts are "newer wins", so an overlap rewrites nothing and a lost webhook is repaired. Runs
only after a finished backfill and never beside another sync of the shop (Redis lock).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Shop
from app.queueing import enqueue, job_id
from app.services.sync import STREAMS, locked_sync_run, save_state, saved_cursors
from app.tasks import RECONCILE_SHOP

log = logging.getLogger(__name__)

RECONCILE_EVERY_SECONDS = 15 * 60.0


def reconcile_all(runtime: Kizuna, every: float = RECONCILE_EVERY_SECONDS) -> int:
    """Enqueue a reconcile of every active Shopify shop; how many were enqueued."""
    with runtime.db.session() as session:
        shop_ids = list(
            session.scalars(
                select(Shop.id)
                .where(Shop.platform == "shopify", Shop.status == "active")
                .order_by(Shop.id)
            )
        )
    for shop_id in shop_ids:
        enqueue(runtime.redis, RECONCILE_SHOP, shop_id, job_id=job_id("reconcile", shop_id))
    log.info("reconcile enqueued shops=%d every=%.0fs", len(shop_ids), every)
    return len(shop_ids)


def reconcile_shop(runtime: Kizuna, shop_id: int) -> dict[str, int]:
    """Re-read every stream from its cursor; rows read per stream ({} when skipped)."""
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.status != "active" or shop.platform != "shopify":
            return {}
        state = shop.sync_state or {}
        if state.get("status") != "done":
            log.info("reconcile skipped shop_id=%s: backfill not finished", shop_id)
            return {}
        with locked_sync_run(
            runtime,
            session,
            shop,
            lock_wait=None,
            report=False,
            bulk_threshold=None,
            cursors=saved_cursors(state),
        ) as run:
            if run is None:
                log.info("reconcile skipped shop_id=%s: a sync is running", shop_id)
                return {}
            done = run.run(STREAMS)
            if not run.stopped:
                save_state(
                    session,
                    shop,
                    reconciled={
                        "started_at": run.started_at.isoformat(),
                        "finished_at": utcnow().isoformat(),
                        "read": done,
                    },
                )
        log.info("reconcile done shop_id=%s read=%s", shop_id, done)
        return done
