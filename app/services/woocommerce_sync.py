"""Syncing a WooCommerce store: setup, backfill and incremental sync, periodic reconcile.

Layer: services; the RQ entries in `jobs.woocommerce` (queue `sync`) bind the app context and
call `setup_shop`, `reconcile_shop` and `reconcile_woocommerce` here. Upserts are "newer wins",
one commit per page; the watermark `synced_until` is the time the sync started. The reconcile
re-activates the webhooks WooCommerce disables and reads from `modified_after` = the last watermark.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows import triggers as flow_triggers
from app.kizuna import Kizuna
from app.models import Shop
from app.models.woocommerce import WooCommerceShop
from app.queueing import enqueue, job_id
from app.services import bulk_load, upsert
from app.services.shop_errors import record_shop_error, record_skipped_records
from app.services.woocommerce_install import (
    reason_key,
    webhook_delivery_url,
    webhook_secret,
    woocommerce_client,
)
from app.tasks import WOOCOMMERCE_RECONCILE_SHOP
from connectors.base import AuthenticationError, ConnectorError
from connectors.woocommerce import mapping, reading
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.webhooks import TOPICS

log = logging.getLogger(__name__)

# Page-number pagination can skip rows that change mid-sync; the overlap re-reads them.
WATERMARK_OVERLAP = timedelta(minutes=5)
RECONCILE_EVERY = 900.0
RECONNECT_NEEDED = "shop_error.woocommerce_reconnect"
# What a call to the store can fail with; the merchant sees only its reason class.
STORE_CALL_ERRORS = (ConnectorError, requests.RequestException, OSError, ValueError)


def _failure_reason(error: BaseException) -> dict[str, str]:
    """The values of a failed store call's message: a reason class, never the store's answer."""
    if isinstance(error, STORE_CALL_ERRORS):
        return {"reason_key": reason_key(error)}
    return {"reason_key": "shop_error.reason.internal"}


def _save_state(session: Session, shop: Shop, **changes: Any) -> None:
    # A new dict each time: the JSON column only notices reassignment.
    shop.sync_state = {**(shop.sync_state or {}), **changes}
    session.commit()


def _fail(
    session: Session,
    shop_id: int,
    code: str,
    params: dict[str, str] | None = None,
    *,
    status: str | None = None,
) -> None:
    session.rollback()
    shop = session.get(Shop, shop_id)
    if shop is None or shop.status == "uninstalled":  # disconnected meanwhile: nothing to say
        return
    record_shop_error(shop, code, **(params or {}))
    if status:
        shop.status = status
    _save_state(
        session, shop, status="failed", error=shop.last_error, finished_at=utcnow().isoformat()
    )


# --- webhooks --------------------------------------------------------------------------------


class StoreDisconnected(Exception):
    """The store was disconnected while Kizuna was setting up its webhooks there."""


def ensure_webhooks(
    client: WooCommerceClient,
    delivery_url: str,
    secret: str,
    *,
    connected: Callable[[], bool] = lambda: True,
) -> tuple[dict[str, int], int]:
    """Our webhooks, one per topic, active and with our secret; (topic → id, re-enabled).

    `connected` is asked before the first write to the store and after each one: once it says
    the store was disconnected, the webhooks this call created are deleted again and
    `StoreDisconnected` is raised. A disconnect lists the store's webhooks only after it has
    committed, so whichever side is second removes the last webhook made."""
    existing: dict[str, dict[str, Any]] = {}
    for hook in client.list_webhooks():
        if hook.get("delivery_url") == delivery_url and hook.get("topic") in TOPICS:
            existing.setdefault(hook["topic"], hook)
    ids: dict[str, int] = {}
    created: list[int] = []
    reenabled = 0
    checked = False
    for topic in TOPICS:
        found = existing.get(topic)
        if found is not None and found.get("status") == "active":
            ids[topic] = int(found["id"])
            continue
        if not checked:
            _stop_if_disconnected(client, connected, created)
            checked = True
        try:
            if found is None:
                hook = client.create_webhook(topic, delivery_url, secret)
                created.append(int(hook["id"]))
            else:
                hook = client.update_webhook(int(found["id"]), status="active", secret=secret)
                reenabled += 1
                log.info("woocommerce webhook re-enabled id=%s topic=%s", hook.get("id"), topic)
        except STORE_CALL_ERRORS:
            _stop_if_disconnected(client, connected, created)
            raise
        _stop_if_disconnected(client, connected, created)
        ids[topic] = int(hook["id"])
    return ids, reenabled


def _stop_if_disconnected(
    client: WooCommerceClient, connected: Callable[[], bool], created: list[int]
) -> None:
    """Raise `StoreDisconnected` (after deleting the webhooks in `created`) once the store is
    no longer connected."""
    if connected():
        return
    for webhook_id in created:
        try:
            client.delete_webhook(webhook_id)
        except STORE_CALL_ERRORS as error:
            log.warning(
                "woocommerce webhook not deleted id=%s error=%s", webhook_id, type(error).__name__
            )
    raise StoreDisconnected


# --- sync ------------------------------------------------------------------------------------

# What each stream writes (WooCommerce's orders stream carries the open checkouts too).
WOOCOMMERCE_LOADED_TABLES = {
    **bulk_load.LOADED_TABLES,
    "orders": (*bulk_load.LOADED_TABLES["orders"], "checkouts"),
}


class Skipped:
    """Records a sync could not map, per stream: a count and short reasons (no record data)."""

    def __init__(self) -> None:
        self.streams: dict[str, dict[str, Any]] = {}

    def add(self, stream: str, error: Exception) -> None:
        code = getattr(error, "code", None) or "malformed"
        entry = self.streams.setdefault(stream, {"count": 0, "reasons": {}})
        entry["count"] += 1
        entry["reasons"][code] = entry["reasons"].get(code, 0) + 1

    def total(self) -> int:
        return sum(int(entry["count"]) for entry in self.streams.values())


def _mapped(
    stream: str,
    page: list[dict[str, Any]],
    to_record: Callable[[dict[str, Any]], Any],
    skipped: Skipped | None,
) -> list[Any]:
    """Each item mapped; one that cannot be is counted in `skipped`, the others kept."""
    records = []
    for item in page:
        try:
            records.append(to_record(item))
        except (mapping.MappingError, ValueError, TypeError, AttributeError) as error:
            if skipped is None:
                raise
            skipped.add(stream, error)
    return records


def _apply_orders(
    session: Session,
    shop_id: int,
    page: list[dict[str, Any]],
    triggers: bool,
    skipped: Skipped | None = None,
    write_orders: Callable[[Session, int, list[Any]], int] = upsert.upsert_orders,
    write_checkouts: Callable[[Session, int, list[Any]], int] = upsert.upsert_checkouts,
) -> int:
    open_ones = [o for o in page if mapping.is_open_checkout(o)]
    paid = [o for o in page if not mapping.is_open_checkout(o)]
    orders = _mapped("orders", paid, mapping.order_from_resource, skipped)
    checkouts = _mapped("checkouts", open_ones, mapping.checkout_from_resource, skipped)
    write_orders(session, shop_id, orders)
    write_checkouts(session, shop_id, checkouts)
    if triggers:
        flow_triggers.after_orders(session, shop_id, orders)
        flow_triggers.after_checkouts(session, shop_id, checkouts)
    return len(page)


def _still_connected(session: Session, shop_id: int) -> bool:
    status = session.scalar(select(Shop.status).where(Shop.id == shop_id).with_for_update())
    return status is not None and status != "uninstalled"


def run_sync(runtime: Kizuna, shop_id: int, *, incremental: bool) -> dict[str, int]:
    """Pull customers, products and orders (all, or modified since the watermark)."""
    done: dict[str, int] = {}
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        wc = session.get(WooCommerceShop, shop_id)
        if shop is None or wc is None or shop.status == "uninstalled":
            log.info("woocommerce sync skipped shop_id=%s: not connected", shop_id)
            return done
        started = utcnow()
        since = wc.synced_until - WATERMARK_OVERLAP if incremental and wc.synced_until else None
        _save_state(
            session,
            shop,
            status="running",
            mode="incremental" if since else "backfill",
            stream=None,
            done=done,
            started_at=started.isoformat(),
            finished_at=None,
            error=None,
            skipped={},
        )
        skipped = Skipped()
        # A first backfill on PostgreSQL writes every stream set-wise (COPY + merge per page,
        # products and checkouts too); customers' totals are recomputed once, after the last
        # page of orders.
        set_wise = since is None and bulk_load.copy_supported(session)
        totals_later: set[int] = set()
        write_customers = bulk_load.load_customers if set_wise else upsert.upsert_customers
        write_orders = (
            bulk_load.loader_for("orders", totals_later) if set_wise else upsert.upsert_orders
        )
        write_products = bulk_load.load_products if set_wise else upsert.upsert_products
        write_checkouts = bulk_load.load_checkouts if set_wise else upsert.upsert_checkouts
        streams: tuple[tuple[str, Callable[[WooCommerceClient], Any], Any], ...] = (
            (
                "customers",
                lambda c: reading.customer_pages(c, since),
                lambda page: write_customers(
                    session,
                    shop_id,
                    _mapped("customers", page, mapping.customer_from_resource, skipped),
                ),
            ),
            (
                "products",
                lambda c: reading.product_pages(c, since),
                lambda page: write_products(
                    session,
                    shop_id,
                    _mapped(
                        "products",
                        page,
                        lambda x: mapping.product_from_resource(x, shop.currency),
                        skipped,
                    ),
                ),
            ),
            (
                "orders",
                lambda c: reading.order_pages(c, since),
                lambda page: _apply_orders(
                    session,
                    shop_id,
                    page,
                    triggers=since is not None,
                    skipped=skipped,
                    write_orders=write_orders,
                    write_checkouts=write_checkouts,
                ),
            ),
        )
        try:
            with woocommerce_client(runtime, shop) as client:
                for name, pages, apply in streams:
                    done[name] = 0
                    statistics = bulk_load.GrowingStatistics(
                        WOOCOMMERCE_LOADED_TABLES.get(name, ()) if set_wise else ()
                    )
                    _save_state(session, shop, stream=name, done=dict(done))
                    for page in pages(client):
                        # Locks the shop row until this page commits: a disconnect either
                        # waits and erases the page too, or is seen here and stops the sync.
                        if not _still_connected(session, shop_id):
                            session.rollback()
                            log.info("woocommerce sync stopped shop_id=%s: disconnected", shop_id)
                            return done
                        apply(page)
                        done[name] += len(page)
                        statistics.add(session, len(page))
                        _save_state(session, shop, done=dict(done), skipped=skipped.streams)
                    if name == "orders" and totals_later:
                        bulk_load.refresh_totals(session, shop_id, totals_later)
                    if since is None:  # a backfill: the planner learns what was just loaded
                        bulk_load.analyze_loaded_tables(
                            session, WOOCOMMERCE_LOADED_TABLES.get(name, ())
                        )
                    session.commit()
        except AuthenticationError:
            _fail(session, shop_id, RECONNECT_NEEDED, status="error")
            raise
        except Exception as error:
            log.warning(
                "woocommerce sync failed shop_id=%s error=%s", shop_id, type(error).__name__
            )
            _fail(session, shop_id, "shop_error.sync_failed", _failure_reason(error))
            raise
        if not _still_connected(session, shop_id):
            session.rollback()
            return done
        session.refresh(shop)
        wc.synced_until = started
        if skipped.total():
            # The sync still succeeds: report what was left out, without any record data.
            log.warning("woocommerce sync skipped shop_id=%s records=%s", shop_id, skipped.total())
            record_skipped_records(shop, skipped.streams)
        if shop.status == "installing":
            shop.status = "active"
        _save_state(session, shop, status="done", stream=None, finished_at=utcnow().isoformat())
        log.info("woocommerce sync done shop_id=%s counts=%s", shop_id, done)
        return done


def _connected_now(runtime: Kizuna, shop_id: int) -> bool:
    """Whether the store is still connected, read under its row lock (so a disconnect being
    committed is waited for); the lock is released at once."""
    with runtime.db.session() as session:
        return _still_connected(session, shop_id)


def _setup_webhooks(runtime: Kizuna, shop_id: int) -> int:
    """Check the key, then create or re-activate our webhooks; the number re-enabled.

    Safe against a disconnect at any moment: each write to the store is checked against the
    shop's state (`ensure_webhooks`), and the ids are saved under the shop's row lock, so the
    disconnect either finds them or has already happened and nothing is saved."""
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        wc = session.get(WooCommerceShop, shop_id)
        if shop is None or wc is None or shop.status == "uninstalled":
            return 0
        try:
            with woocommerce_client(runtime, shop) as client:
                status = client.get("system_status")  # also proves the key works
                ids, reenabled = ensure_webhooks(
                    client,
                    webhook_delivery_url(runtime, shop_id),
                    webhook_secret(runtime, wc),
                    connected=lambda: _connected_now(runtime, shop_id),
                )
        except StoreDisconnected:
            session.rollback()
            log.info("woocommerce setup stopped shop_id=%s: disconnected", shop_id)
            return 0
        except AuthenticationError:
            _fail(session, shop_id, RECONNECT_NEEDED, status="error")
            raise
        except STORE_CALL_ERRORS as error:
            log.warning(
                "woocommerce setup failed shop_id=%s error=%s status=%s",
                shop_id,
                type(error).__name__,
                getattr(error, "status", None),
            )
            _fail(session, shop_id, "shop_error.webhook_setup_failed", _failure_reason(error))
            raise
        currency = (
            (status.get("settings") or {}).get("currency") if isinstance(status, dict) else None
        )
        if not _still_connected(session, shop_id):  # held until the commit below
            session.rollback()
            log.info("woocommerce setup stopped shop_id=%s: disconnected", shop_id)
            return 0
        if isinstance(currency, str) and len(currency) == 3:
            shop.currency = currency
        wc.webhook_ids = dict(ids)
        shop.webhooks_subscribed = len(ids)
        session.commit()
        return reenabled


def setup_shop(runtime: Kizuna, shop_id: int) -> dict[str, int]:
    """After connect: check the key, create webhooks, first backfill."""
    _setup_webhooks(runtime, shop_id)
    return run_sync(runtime, shop_id, incremental=False)


def reconcile_shop(runtime: Kizuna, shop_id: int) -> dict[str, int]:
    """Re-enable disabled (or re-create missing) webhooks, then backfill the gap."""
    reenabled = _setup_webhooks(runtime, shop_id)
    done = run_sync(runtime, shop_id, incremental=True)
    return {**done, "webhooks_reenabled": reenabled}


def reconcile_woocommerce(runtime: Kizuna, every: float = RECONCILE_EVERY) -> int:
    """Periodic: queue `reconcile_shop` for every connected WooCommerce store."""
    with runtime.db.session() as session:
        shop_ids = list(
            session.scalars(
                select(Shop.id).where(
                    Shop.platform == "woocommerce", Shop.status.in_(("active", "installing"))
                )
            )
        )
    for shop_id in shop_ids:
        enqueue(
            runtime.redis,
            WOOCOMMERCE_RECONCILE_SHOP,
            shop_id,
            job_id=job_id("wc-reconcile", shop_id),
        )
    return len(shop_ids)
