"""The first backfill of a Shopify shop: customers, products, orders, abandoned checkouts.

Layer: jobs (queue `sync`, job id `backfill-<shop_id>`). Pages come through `paginate` and are
upserted "newer wins", one commit per page, so a re-run is harmless; progress in `sync_state`.
An uninstalled shop is a no-op (checked after every page). Resumable cursors come later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Shop
from app.services import upsert
from app.services.shop_tokens import shopify_client
from connectors.shopify import mapping, queries
from jobs.context import kizuna_job
from jobs.queues import SYNC, enqueue_after_commit, job_id

log = logging.getLogger(__name__)

BACKFILL_TIMEOUT_SECONDS = 4 * 3600
_ERROR_TEXT_LIMIT = 500


@dataclass(frozen=True)
class Stream:
    name: str
    document: str
    connection: str
    page_size: int
    variables: dict[str, Any]
    to_record: Callable[[dict[str, Any], Shop], Any]
    upsert: Callable[[Session, int, Sequence[Any]], int]


STREAMS: tuple[Stream, ...] = (
    Stream(
        "customers",
        queries.CUSTOMERS,
        "customers",
        queries.CUSTOMERS_PAGE_SIZE,
        {},
        lambda node, _shop: mapping.customer_from_node(node),
        upsert.upsert_customers,
    ),
    Stream(
        "products",
        queries.PRODUCTS,
        "products",
        queries.PRODUCTS_PAGE_SIZE,
        {"variants": queries.VARIANTS_PAGE_SIZE},
        lambda node, shop: mapping.product_from_node(node, shop.currency),
        upsert.upsert_products,
    ),
    Stream(
        "orders",
        queries.ORDERS,
        "orders",
        queries.ORDERS_PAGE_SIZE,
        {"lines": queries.ORDER_LINES_PAGE_SIZE},
        lambda node, _shop: mapping.order_from_node(node),
        upsert.upsert_orders,
    ),
    Stream(
        "checkouts",
        queries.ABANDONED_CHECKOUTS,
        "abandonedCheckouts",
        queries.CHECKOUTS_PAGE_SIZE,
        {"lines": queries.CHECKOUT_LINES_PAGE_SIZE},
        lambda node, _shop: mapping.checkout_from_node(node),
        upsert.upsert_checkouts,
    ),
)


def enqueue_backfill(runtime: Kizuna, session: Session, shop_id: int) -> None:
    """Queue the shop's backfill once `session` commits (a duplicate enqueue is a no-op)."""
    enqueue_after_commit(
        session,
        runtime.redis,
        SYNC,
        backfill_shop,
        shop_id,
        job_id=job_id("backfill", shop_id),
        job_timeout=BACKFILL_TIMEOUT_SECONDS,
    )


def _uninstalled(session: Session, shop_id: int) -> bool:
    status = session.scalar(select(Shop.status).where(Shop.id == shop_id))
    return status in (None, "uninstalled")


def _save_state(session: Session, shop: Shop, **changes: Any) -> None:
    # A new dict each time: the JSON column only notices reassignment.
    shop.sync_state = {**(shop.sync_state or {}), **changes}
    session.commit()


@kizuna_job
def backfill_shop(runtime: Kizuna, shop_id: int) -> dict[str, int]:
    """Pull every stream of the shop into the database; the row counts per stream."""
    done: dict[str, int] = {}
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.status == "uninstalled":
            log.info("backfill skipped shop_id=%s: not installed", shop_id)
            return done
        _save_state(
            session,
            shop,
            status="running",
            stream=None,
            done=done,
            started_at=utcnow().isoformat(),
            finished_at=None,
            error=None,
        )
        try:
            with shopify_client(runtime, shop) as client:
                for stream in STREAMS:
                    done[stream.name] = 0
                    _save_state(session, shop, stream=stream.name, done=dict(done))
                    for nodes in client.paginate(
                        stream.document, stream.connection, stream.variables, stream.page_size
                    ):
                        if _uninstalled(session, shop_id):
                            session.rollback()
                            log.info("backfill stopped shop_id=%s: uninstalled", shop_id)
                            return done
                        records = [stream.to_record(node, shop) for node in nodes]
                        stream.upsert(session, shop_id, records)
                        done[stream.name] += len(records)
                        _save_state(session, shop, done=dict(done))
        except Exception as error:
            session.rollback()
            message = f"Backfill failed: {error}"[:_ERROR_TEXT_LIMIT]
            log.warning("backfill failed shop_id=%s error=%s", shop_id, type(error).__name__)
            shop = session.get(Shop, shop_id)
            if shop is not None:
                shop.last_error = message
                shop.last_error_at = utcnow()
                _save_state(
                    session,
                    shop,
                    status="failed",
                    error=message,
                    finished_at=utcnow().isoformat(),
                )
            raise
        _save_state(session, shop, status="done", stream=None, finished_at=utcnow().isoformat())
        log.info("backfill done shop_id=%s counts=%s", shop_id, done)
        return done
