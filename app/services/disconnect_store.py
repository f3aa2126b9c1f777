"""Disconnecting a WooCommerce store from its account: stop all work, remove what Kizuna set up
on the store, erase the store's data.

Layer: services; each step commits on its own, in this order, so a failure part-way leaves the
store stopped rather than half-running: (1) the shop is marked uninstalled and its key read
(no job acts on it from then on; a sync in progress stops at its next page), (2) our webhooks
are deleted on the store with the key (no transaction open meanwhile), (3) every row of the
shop is erased (`services.redact.redact_shop`) and its key forgotten. WooCommerce has no REST
endpoint to revoke an API key: the result says where the merchant revokes it. A Shopify store
is disconnected by uninstalling the app in Shopify (`app/uninstalled`, then `shop/redact`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from sqlalchemy import select

from app.kizuna import Kizuna
from app.models import Shop
from app.models.woocommerce import WooCommerceShop
from app.services.redact import redact_shop
from app.services.uninstall import uninstall_shop
from app.services.woocommerce_install import store_keys, webhook_delivery_url
from connectors.base import ConnectorError
from connectors.woocommerce.client import WooCommerceClient

log = logging.getLogger(__name__)

PLATFORM = "woocommerce"
KEYS_PAGE = "/wp-admin/admin.php?page=wc-settings&tab=advanced&section=keys"


@dataclass(frozen=True)
class Disconnected:
    domain: str
    webhooks_deleted: int
    webhooks_left: int  # ours still on the store: it could not be reached or refused the key
    key_id: int | None  # the key to revoke by hand, as WooCommerce numbers it
    keys_page: str  # where on the store the merchant revokes it


def store_label(domain: str) -> str:
    """What the merchant types to confirm: the store's address without the scheme."""
    return domain.split("://", 1)[-1].rstrip("/")


def confirmation_matches(domain: str, typed: str) -> bool:
    wanted = store_label(domain).lower()
    return store_label(typed.strip()).lower() == wanted and bool(wanted)


def connected_store(runtime: Kizuna, account_id: int, shop_id: int) -> Shop | None:
    """The account's store `shop_id` (either platform), not yet erased; None if not theirs."""
    with runtime.db.session() as session:
        shop = session.scalars(
            select(Shop).where(
                Shop.id == shop_id, Shop.account_id == account_id, Shop.erased_at.is_(None)
            )
        ).one_or_none()
        if shop is not None:
            session.expunge(shop)
        return shop


def _delete_our_webhooks(
    runtime: Kizuna, domain: str, keys: tuple[str, str], ids: set[int], delivery_url: str
) -> tuple[int, int]:
    """Delete our webhooks (the ids we kept, and any other aimed at our delivery URL)."""
    deleted = 0
    try:
        with WooCommerceClient(
            domain, keys[0], keys[1], outbound=runtime.config.outbound, max_attempts=2
        ) as client:
            for hook in client.list_webhooks():
                if str(hook.get("delivery_url", "")).split("?", 1)[0] == delivery_url.split("?", 1)[
                    0
                ] and isinstance(hook.get("id"), int):
                    ids.add(hook["id"])
            for webhook_id in sorted(ids):
                client.delete_webhook(webhook_id)
                deleted += 1
    except (ConnectorError, ValueError, requests.RequestException) as error:
        log.warning(
            "woocommerce webhooks not deleted error=%s status=%s",
            type(error).__name__,
            getattr(error, "status", None),
        )
        return deleted, max(len(ids) - deleted, 1)
    return deleted, 0


def disconnect_woocommerce(runtime: Kizuna, account_id: int, shop_id: int) -> Disconnected | None:
    """Disconnect and erase the account's WooCommerce store `shop_id` (the caller has the
    merchant's confirmation); None when it is not the account's connected WooCommerce store."""
    with runtime.db.session() as session:
        shop = session.scalars(
            select(Shop)
            .where(
                Shop.id == shop_id,
                Shop.account_id == account_id,
                Shop.platform == PLATFORM,
                Shop.erased_at.is_(None),
            )
            .with_for_update()
        ).one_or_none()
        if shop is None:
            return None
        domain = shop.domain
        wc = session.get(WooCommerceShop, shop_id)
        ids = {int(value) for value in (wc.webhook_ids or {}).values()} if wc else set()
        key_id = wc.key_id if wc else None
        try:
            keys: tuple[str, str] | None = store_keys(runtime, shop)
        except ConnectorError:
            keys = None  # already uninstalled or never keyed: nothing to call the store with
        uninstall_shop(session, shop_id)
        session.commit()
    deleted, left = 0, 0
    if keys is not None:
        deleted, left = _delete_our_webhooks(
            runtime, domain, keys, ids, webhook_delivery_url(runtime, shop_id)
        )
    with runtime.db.session() as session:
        redact_shop(session, domain, platform=PLATFORM)
        session.commit()
    log.info(
        "woocommerce store disconnected shop_id=%s webhooks_deleted=%s webhooks_left=%s",
        shop_id,
        deleted,
        left,
    )
    return Disconnected(domain, deleted, left, key_id, domain.rstrip("/") + KEYS_PAGE)
