"""A shop's Shopify credentials: stored encrypted, handed out fresh, refreshed one at a time.

Layer: services; the only module touching the token columns (plaintext in memory only, never
logged). A refresh locks the shop row, re-reads it (another process may have refreshed: use
its token), stores the rotated pair and commits; `store_grant`/`delete_tokens` leave it to callers.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Shop
from app.services.shop_errors import record_shop_error
from connectors.base import AuthenticationError
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.http import shopify_http_client
from connectors.shopify.oauth import TokenGrant
from connectors.shopify.tokens import REVOKED_GRANT_CODES, refresh_grant

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)
REINSTALL_NEEDED = "shop_error.shopify_reinstall"
RECONNECT_NEEDED = "shop_error.shopify_reconnect"


def store_grant(session: Session, runtime: Kizuna, shop: Shop, grant: TokenGrant) -> None:
    """Put a grant on the shop, encrypted, with its expiry times; the caller commits."""
    cipher = runtime.cipher
    shop.access_token_encrypted = cipher.encrypt(grant.access_token)
    shop.access_token_expires_at = grant.expires_at
    shop.refresh_token_encrypted = (
        cipher.encrypt(grant.refresh_token) if grant.refresh_token else None
    )
    shop.refresh_token_expires_at = grant.refresh_token_expires_at if grant.refresh_token else None
    if grant.scope:
        shop.scopes = grant.scope
    session.add(shop)


def delete_tokens(shop: Shop) -> None:
    """Forget every credential of the shop (uninstall); the caller commits."""
    shop.access_token_encrypted = None
    shop.access_token_expires_at = None
    shop.refresh_token_encrypted = None
    shop.refresh_token_expires_at = None


def _expires_soon(shop: Shop, now: datetime) -> bool:
    expires_at = shop.access_token_expires_at
    return expires_at is not None and expires_at - now <= REFRESH_MARGIN


def _stored_token(runtime: Kizuna, shop: Shop | None) -> tuple[Shop, str]:
    """The shop and its decrypted access token; `AuthenticationError` when it has none."""
    if shop is None or shop.status == "uninstalled" or shop.access_token_encrypted is None:
        raise AuthenticationError("the shop has no Shopify access token", code="no_token")
    return shop, runtime.cipher.decrypt(shop.access_token_encrypted)


def access_token(runtime: Kizuna, shop_id: int) -> str:
    """The shop's access token, refreshed first when it expires within five minutes."""
    with runtime.db.session() as session:
        shop, current = _stored_token(runtime, session.get(Shop, shop_id))
        if not (_expires_soon(shop, utcnow()) and shop.refresh_token_encrypted):
            return current
    return refresh_access_token(runtime, shop_id, stale_token=current)


def _lock_shop(session: Session, shop_id: int) -> Shop | None:
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks; taking the write lock before reading serialises refreshes.
        session.execute(update(Shop).where(Shop.id == shop_id).values(id=Shop.id))
        return session.scalars(select(Shop).where(Shop.id == shop_id)).one_or_none()
    return session.scalars(select(Shop).where(Shop.id == shop_id).with_for_update()).one_or_none()


def _mark_error(session: Session, shop: Shop, code: str) -> None:
    shop.status = "error"
    record_shop_error(shop, code)
    session.commit()


def refresh_access_token(runtime: Kizuna, shop_id: int, *, stale_token: str | None = None) -> str:
    """Renew the shop's access token — once, however many processes ask at the same time.

    `stale_token` is the token the caller found wanting; when the stored token differs from it
    by the time the row lock is held, someone else refreshed and their token is returned. A
    revoked grant marks the shop "error" (reinstall needed) and raises `AuthenticationError`.
    """
    config = runtime.config
    with runtime.db.session() as session:
        if stale_token is None:
            _, stale_token = _stored_token(runtime, session.get(Shop, shop_id))
            session.rollback()  # the locked read below must not reuse this snapshot
        shop, current = _stored_token(runtime, _lock_shop(session, shop_id))
        if current != stale_token and not _expires_soon(shop, utcnow()):
            session.commit()
            return current
        if shop.refresh_token_encrypted is None:
            _mark_error(session, shop, RECONNECT_NEEDED)
            raise AuthenticationError("the access token was refused and cannot be refreshed")
        with shopify_http_client(config.shopify_sandbox_url) as http:
            try:
                grant = refresh_grant(
                    http,
                    config.shopify_api_key,
                    config.shopify_api_secret,
                    shop.domain,
                    runtime.cipher.decrypt(shop.refresh_token_encrypted),
                    expires_at=shop.access_token_expires_at,
                    refresh_token_expires_at=shop.refresh_token_expires_at,
                )
            except AuthenticationError as error:
                if error.code in REVOKED_GRANT_CODES:
                    log.warning("shopify refresh refused shop_id=%s code=%s", shop_id, error.code)
                    _mark_error(session, shop, REINSTALL_NEEDED)
                raise
        store_grant(session, runtime, shop, grant)
        session.commit()
        log.info("shopify token refreshed shop_id=%s", shop_id)
        return grant.access_token


class ShopTokenProvider:
    """The `token_provider` of a `ShopifyAdminClient` for one stored shop."""

    def __init__(self, runtime: Kizuna, shop_id: int) -> None:
        self.runtime = runtime
        self.shop_id = shop_id
        self._last_token: str | None = None

    def access_token(self) -> str:
        self._last_token = access_token(self.runtime, self.shop_id)
        return self._last_token

    def refresh(self) -> str:
        self._last_token = refresh_access_token(
            self.runtime, self.shop_id, stale_token=self._last_token
        )
        return self._last_token


def shopify_client(runtime: Kizuna, shop: Shop, **options: Any) -> ShopifyAdminClient:
    """An Admin API client for a stored shop (`options`: the client's retry settings); use it
    as a context manager to close it."""
    config = runtime.config
    return ShopifyAdminClient(
        shop.domain,
        config.shopify_api_version,
        shopify_http_client(config.shopify_sandbox_url),
        ShopTokenProvider(runtime, shop.id),
        **options,
    )
