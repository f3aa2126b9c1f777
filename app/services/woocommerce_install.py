"""Connecting a WooCommerce store (wc-auth), its stored credentials, and webhook intake.

Layer: services; each public function commits. The unsigned callback is trusted only through our
own single-use pending request; a store is bound only once its key works. Keys are stored
encrypted, never logged; jobs are enqueued after commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import select

from app.db import utcnow
from app.kizuna import Kizuna
from app.logs import current_request_id
from app.models import Shop
from app.models.woocommerce import PendingWooCommerceAuth, WooCommerceShop
from app.queueing import enqueue_after_commit, job_id
from app.services.ingest_webhook import IngestResult, record_event
from app.tasks import WOOCOMMERCE_KEY_CHECK, WOOCOMMERCE_SETUP
from connectors.base import AuthenticationError, ConnectorError
from connectors.outbound import (
    ADDRESS_NOT_ALLOWED,
    NO_ANSWER,
    NOT_A_STORE,
    AddressNotAllowed,
    check_url,
    merchant_reason,
)
from connectors.woocommerce.auth import KeyGrant, authorize_url, normalize_store_url
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.webhooks import dedupe_key, resource_id

log = logging.getLogger(__name__)

PLATFORM = "woocommerce"
PENDING_TTL = timedelta(minutes=15)
CALLBACK_PATH = "/auth/woocommerce/callback"
RETURN_PATH = "/connect/woocommerce/done"
WEBHOOK_PATH = "/webhooks/woocommerce"


CHECKING, CONNECTED, REFUSED = "checking", "connected", "refused"
KEY_CHECK_ATTEMPTS = 2
# Why a connect failed, as keys of the merchant's messages (`app.i18n.KEYED_MESSAGES`): kept
# on the pending request by a job, put into the merchant's language by the page.
KEY_REFUSED = "connect.key_refused"
CONNECTED_ELSEWHERE = "connect.connected_elsewhere"
NOT_A_STORE_ADDRESS = "connect.not_a_store_address"
_REASON_KEYS = {
    ADDRESS_NOT_ALLOWED: "connect.address_not_allowed",
    NO_ANSWER: "connect.no_answer",
    NOT_A_STORE: "connect.not_a_store",
}


def reason_key(error: BaseException) -> str:
    """The message key of the reason a merchant is shown for a failed call to their store
    (`connectors.outbound.merchant_reason`)."""
    return _REASON_KEYS[merchant_reason(error)]


class ConnectError(Exception):
    """A connect attempt that cannot go on; `key` names the merchant's message."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def webhook_delivery_url(runtime: Kizuna, shop_id: int) -> str:
    """Where the store delivers: our shop id, so the shop comes from our records."""
    return f"{runtime.config.app_url}{WEBHOOK_PATH}?shop={shop_id}"


def start_connect(runtime: Kizuna, account_id: int, store_url: str) -> str:
    """Record a pending wc-auth request; the store's authorize URL to send the browser to.

    Whether another account already has the store is not told here: anyone may ask, and the
    answer would say which stores use Kizuna. Ownership is proven by a working key, later."""
    url = normalize_store_url(store_url)
    if url is None:
        raise ConnectError(NOT_A_STORE_ADDRESS)
    try:
        check_url(url, runtime.config.outbound)
    except AddressNotAllowed as error:
        log.info("woocommerce connect refused reason=%s", error.code)
        raise ConnectError(reason_key(error)) from error
    except OSError as error:
        raise ConnectError(reason_key(error)) from error
    token = secrets.token_urlsafe(24)
    with runtime.db.session() as session:
        session.add(
            PendingWooCommerceAuth(
                token_hash=_token_hash(token),
                account_id=account_id,
                store_url=url,
                expires_at=utcnow() + PENDING_TTL,
            )
        )
        session.commit()
    app_url = runtime.config.app_url
    return authorize_url(url, token, f"{app_url}{RETURN_PATH}", f"{app_url}{CALLBACK_PATH}")


def accept_key_grant(runtime: Kizuna, grant: KeyGrant) -> int | None:
    """Keep the keys of a known, unexpired, unused request, encrypted, for the key check (job
    `wc-key-check-<pending id>`); the pending id, or None (refused). No store is bound here:
    the callback is unsigned, so its keys prove nothing until the store accepts them."""
    with runtime.db.session() as session:
        pending = session.scalars(
            select(PendingWooCommerceAuth)
            .where(PendingWooCommerceAuth.token_hash == _token_hash(grant.user_id))
            .with_for_update()
        ).one_or_none()
        now = utcnow()
        if pending is None or pending.used_at is not None or pending.expires_at <= now:
            reason = "unknown" if pending is None else "used" if pending.used_at else "expired"
            log.warning("woocommerce callback refused reason=%s", reason)
            session.rollback()
            return None
        pending.grant_encrypted = runtime.cipher.encrypt(
            json.dumps(
                {
                    "consumer_key": grant.consumer_key,
                    "consumer_secret": grant.consumer_secret,
                    "key_id": grant.key_id,
                    "permissions": grant.permissions,
                }
            )
        )
        pending.used_at = now
        pending.outcome = CHECKING
        pending_id = pending.id
        # On the webhooks queue: one short call, and the merchant is waiting for it.
        enqueue_after_commit(
            session,
            runtime.redis,
            WOOCOMMERCE_KEY_CHECK,
            pending_id,
            job_id=job_id("wc-key-check", pending_id),
        )
        session.commit()
    log.info("woocommerce keys received pending_id=%s", pending_id)
    return pending_id


def _check_key(runtime: Kizuna, store_url: str, grant: dict[str, Any]) -> str | None:
    """None when an authenticated read with the key succeeds at `store_url`, else the reason's
    message key."""
    try:
        with WooCommerceClient(
            store_url,
            str(grant["consumer_key"]),
            str(grant["consumer_secret"]),
            outbound=runtime.config.outbound,
            max_attempts=KEY_CHECK_ATTEMPTS,
        ) as client:
            status = client.get("system_status")
    except AuthenticationError:
        return KEY_REFUSED
    except (ConnectorError, ValueError, requests.RequestException) as error:
        return reason_key(error)
    if not isinstance(status, dict) or not isinstance(status.get("environment"), dict):
        return _REASON_KEYS[NOT_A_STORE]
    return None


def bind_checked_store(runtime: Kizuna, pending_id: int) -> int | None:
    """Check a received key against the pending store URL, then bind the store to the account
    that asked and queue its setup; the shop id, or None (outcome `refused`, reason kept).

    A store bound to another account stays there; only someone whose key the store accepted
    learns that. No transaction is held open while the store is called."""
    with runtime.db.session() as session:
        pending = session.get(PendingWooCommerceAuth, pending_id)
        if pending is None or pending.outcome != CHECKING or pending.grant_encrypted is None:
            return None
        store_url = pending.store_url
        grant = json.loads(runtime.cipher.decrypt(pending.grant_encrypted))
    failure = _check_key(runtime, store_url, grant)
    with runtime.db.session() as session:
        pending = session.scalars(
            select(PendingWooCommerceAuth)
            .where(PendingWooCommerceAuth.id == pending_id)
            .with_for_update()
        ).one_or_none()
        if pending is None or pending.outcome != CHECKING:
            return None
        pending.grant_encrypted = None  # the key lives on the shop, or nowhere
        shop = None
        if failure is None:
            shop = session.scalars(
                select(Shop)
                .where(Shop.platform == PLATFORM, Shop.domain == store_url)
                .with_for_update()
            ).one_or_none()
            if shop is not None and shop.account_id != pending.account_id:
                if shop.erased_at is None:
                    failure = CONNECTED_ELSEWHERE
                else:  # disconnected and erased: nothing of the old account is left on it
                    shop.account_id = pending.account_id
        if failure is not None:
            pending.outcome = REFUSED
            pending.failure = failure
            session.commit()
            log.info("woocommerce key check refused pending_id=%s", pending_id)
            return None
        now = utcnow()
        if shop is None:
            shop = Shop(account_id=pending.account_id, platform=PLATFORM, domain=store_url)
            shop.name = store_url.split("://", 1)[-1]
            session.add(shop)
            session.flush()
        cipher = runtime.cipher
        shop.access_token_encrypted = cipher.encrypt(
            json.dumps(
                {
                    "consumer_key": grant["consumer_key"],
                    "consumer_secret": grant["consumer_secret"],
                }
            )
        )
        permissions = str(grant.get("permissions") or "") or None
        key_id = grant.get("key_id")
        shop.access_token_expires_at = None
        shop.scopes = permissions
        shop.status = "installing"
        shop.install_method = "wc_auth"
        shop.installed_at = now
        shop.uninstalled_at = None
        shop.erased_at = None
        shop.name = shop.name or store_url.split("://", 1)[-1]
        shop.last_error = None
        shop.last_error_at = None
        wc = session.get(WooCommerceShop, shop.id)
        if wc is None:
            wc = WooCommerceShop(shop_id=shop.id, webhook_ids={})
            session.add(wc)
        wc.key_id = key_id if isinstance(key_id, int) else None
        wc.key_permissions = permissions
        if wc.webhook_secret_encrypted is None:
            # Alphanumeric: WooCommerce runs the secret through wp_specialchars_decode.
            wc.webhook_secret_encrypted = cipher.encrypt(secrets.token_hex(32))
        pending.outcome = CONNECTED
        pending.shop_id = shop.id
        shop_id = shop.id
        enqueue_after_commit(
            session, runtime.redis, WOOCOMMERCE_SETUP, shop_id, job_id=job_id("wc-setup", shop_id)
        )
        session.commit()
    log.info("woocommerce keys stored shop_id=%s", shop_id)
    return shop_id


@dataclass(frozen=True)
class ConnectStatus:
    outcome: str | None  # None: the store has not sent the key (yet)
    failure: str | None  # a message key (requests refused by earlier versions: English text)


def connect_status(runtime: Kizuna, account_id: int, token: str) -> ConnectStatus | None:
    """Where the account's connect request named by `token` stands; None if not theirs."""
    with runtime.db.session() as session:
        pending = session.scalars(
            select(PendingWooCommerceAuth).where(
                PendingWooCommerceAuth.token_hash == _token_hash(token),
                PendingWooCommerceAuth.account_id == account_id,
            )
        ).one_or_none()
        if pending is None:
            return None
        return ConnectStatus(pending.outcome, pending.failure)


# --- credentials ---------------------------------------------------------------------------


def store_keys(runtime: Kizuna, shop: Shop) -> tuple[str, str]:
    """The shop's consumer key and secret (plaintext in memory only)."""
    if shop.status == "uninstalled" or shop.access_token_encrypted is None:
        raise AuthenticationError("the shop has no WooCommerce key", code="no_token")
    data = json.loads(runtime.cipher.decrypt(shop.access_token_encrypted))
    return str(data["consumer_key"]), str(data["consumer_secret"])


def woocommerce_client(runtime: Kizuna, shop: Shop, **options: Any) -> WooCommerceClient:
    """A REST client for a stored shop; use it as a context manager to close it."""
    consumer_key, consumer_secret = store_keys(runtime, shop)
    options.setdefault("outbound", runtime.config.outbound)
    return WooCommerceClient(shop.domain, consumer_key, consumer_secret, **options)


def webhook_secret(runtime: Kizuna, wc: WooCommerceShop) -> str:
    if wc.webhook_secret_encrypted is None:
        raise AuthenticationError("the shop has no webhook secret", code="no_secret")
    return runtime.cipher.decrypt(wc.webhook_secret_encrypted)


@dataclass(frozen=True)
class WebhookShop:
    shop_id: int
    domain: str
    status: str
    secrets: tuple[str, ...]  # current first, then the previous one during a rotation


def webhook_shop(runtime: Kizuna, shop_id: int | None) -> WebhookShop | None:
    """The shop a delivery URL names, with its webhook secrets; None if unknown."""
    if shop_id is None:
        return None
    with runtime.db.session() as session:
        row = session.execute(
            select(Shop.domain, Shop.status, WooCommerceShop)
            .join(WooCommerceShop, WooCommerceShop.shop_id == Shop.id)
            .where(Shop.id == shop_id, Shop.platform == PLATFORM)
        ).one_or_none()
        if row is None:
            return None
        domain, status, wc = row
        found = [
            runtime.cipher.decrypt(value)
            for value in (wc.webhook_secret_encrypted, wc.webhook_secret_previous_encrypted)
            if value is not None
        ]
    return WebhookShop(shop_id, domain, status, tuple(found))


def ingest_webhook(
    runtime: Kizuna,
    shop: WebhookShop,
    topic: str,
    body: bytes,
    payload: dict[str, Any],
    *,
    delivery_id: str | None,
    handled: bool,
) -> IngestResult:
    """Record one verified delivery (committed; workers claim it from the inbox); duplicates
    are acknowledged.

    `handled`: Kizuna has a handler for the topic; other topics are recorded `ignored`.
    """
    from connectors.woocommerce.mapping import MappingError, parse_gmt

    status = "pending" if handled and shop.status != "uninstalled" else "ignored"
    try:
        triggered_at = parse_gmt(payload.get("date_modified_gmt"))
    except MappingError:
        triggered_at = None
    values = {
        "platform": PLATFORM,
        "dedupe_key": dedupe_key(shop.shop_id, topic, payload, body),
        "shop_id": shop.shop_id,
        "shop_domain": shop.domain[:255],
        "topic": topic[:80],
        "event_id": (delivery_id or "")[:100] or None,
        "api_version": "wc/v3",
        "resource_id": (resource_id(payload) or "")[:64] or None,
        "triggered_at": triggered_at,
        "received_at": utcnow(),
        "payload": body.decode("utf-8") if status == "pending" else None,
        "status": status,
        "attempts": 0,
        "request_id": current_request_id(),
    }
    event_id = record_event(runtime, values)
    if event_id is None:
        log.info("woocommerce webhook duplicate topic=%s shop_id=%s", topic, shop.shop_id)
        return IngestResult(event_id=None, duplicate=True)
    return IngestResult(event_id=event_id, duplicate=False)
