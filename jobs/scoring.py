"""Scoring jobs (queue `sync`): each shop at its local hour, once after its first sync, and a
rescore after the merchant changes the RFM boundaries.

Layer: jobs, thin: the work is `services.scoring`. Job ids name the shop and day (or thresholds
version), so a rerun is a no-op while the first is queued. Not retried: the next day scores again.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.flows.post_purchase import refresh_history_stats
from app.kizuna import Kizuna
from app.models import Shop
from app.services.scoring import enqueue_scoring, rescore_rfm, score_shop
from app.services.tag_write_back import start_if_enabled as start_tag_write_back
from jobs.context import kizuna_job

log = logging.getLogger(__name__)

SCORE_EVERY = 24 * 3600.0


@kizuna_job
def score_active_shops(runtime: Kizuna, every: float = SCORE_EVERY) -> int:
    """Enqueue one scoring job per active shop; returns how many shops were enqueued."""
    with runtime.db.session() as session:
        shop_ids = list(
            session.scalars(select(Shop.id).where(Shop.status == "active").order_by(Shop.id))
        )
    for shop_id in shop_ids:
        enqueue_scoring(runtime.redis, shop_id)
    log.info("scoring enqueued shops=%s", len(shop_ids))
    return len(shop_ids)


@kizuna_job
def score_shop_job(runtime: Kizuna, shop_id: int) -> int:
    """Score one shop now, refresh its purchase history stats (re-buy intervals, products
    bought together) and write its segments back to the store when the merchant asked for it;
    returns the number of customers scored (0 for a shop gone)."""
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.status != "active":
            log.info("scoring skipped shop=%s: not active", shop_id)
            return 0
        customers = score_shop(session, shop_id).customers
        products = refresh_history_stats(session, shop_id)
        log.info("history stats refreshed shop=%s products=%s", shop_id, products)
        if start_tag_write_back(session, runtime, shop_id):  # fresh scores: fresh tags
            session.commit()
        return customers


@kizuna_job
def rescore_rfm_job(runtime: Kizuna, shop_id: int) -> int:
    """Rescore one shop's RFM cells under its current boundaries; returns the customers."""
    with runtime.db.session() as session:
        if session.get(Shop, shop_id) is None:
            log.info("rescoring skipped shop=%s: gone", shop_id)
            return 0
        return rescore_rfm(session, shop_id)
