"""Uninstalling a shop (Shopify `app/uninstalled`): stop all work and forget its credentials.

Layer: services; the caller commits. Safe to run any number of times, including after the shop
was erased. Customer data stays until `shop/redact` (sent 48 hours later) erases it, so a
merchant who reinstalls in between finds their CRM intact.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Shop
from app.services.shop_tokens import delete_tokens

log = logging.getLogger(__name__)


def uninstall_shop(session: Session, shop_id: int, *, occurred_at: datetime | None = None) -> bool:
    """Mark the shop uninstalled and delete its tokens; returns whether the shop was changed.

    `occurred_at` is when the platform fired the event: an uninstall older than the shop's
    current installation (a late retry after a reinstall) changes nothing.
    """
    shop = session.scalars(select(Shop).where(Shop.id == shop_id).with_for_update()).one_or_none()
    if shop is None:
        return False
    if (
        shop.status != "uninstalled"
        and occurred_at is not None
        and shop.installed_at is not None
        and occurred_at < shop.installed_at
    ):
        log.info("uninstall predates the current installation shop_id=%s: kept", shop_id)
        return False
    if shop.status != "uninstalled" or shop.uninstalled_at is None:
        shop.uninstalled_at = utcnow()
    shop.status = "uninstalled"
    shop.webhooks_subscribed = 0
    delete_tokens(shop)
    log.info("shop uninstalled shop_id=%s", shop_id)
    return True
