"""Installing a Shopify shop: store the grant, learn about the shop, subscribe, start the backfill.

Layer: services. One transaction stores account, shop (reused on reinstall) and tokens; SHOP and
the webhook subscriptions run after it, and their failure is recorded on the shop, not raised.
The backfill (job `backfill-<shop_id>`) is enqueued after the last commit.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Account, Shop
from app.services.backfill_requests import enqueue_backfill
from app.services.shop_errors import record_shop_error
from app.services.shop_tokens import shopify_client, store_grant
from app.services.sync import READ_ALL_ORDERS_NOTICE
from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.domains import normalize_shop_domain, shop_handle
from connectors.shopify.http import shopify_http_client
from connectors.shopify.inventory import create_web_pixel
from connectors.shopify.oauth import TokenGrant
from connectors.shopify.queries import SHOP
from connectors.shopify.subscriptions import subscribe_webhooks

log = logging.getLogger(__name__)

INSTALL_METHODS = ("managed", "code_grant", "custom_app")
SUBSCRIBING_METHODS = ("code_grant", "custom_app")
WEBHOOK_PATH = "/webhooks/shopify"
EVENTS_PATH = "/storefront/events"


class InstallError(Exception):
    """An install or connect attempt that cannot go on; `key` names the merchant's message
    (`app.i18n.KEYED_MESSAGES`) and `values` fill it in."""

    def __init__(self, key: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def _scopes_missing_all_orders(scopes: str) -> bool:
    granted = {scope.strip() for scope in scopes.split(",") if scope.strip()}
    return bool(granted) and "read_all_orders" not in granted


def _store_install(
    runtime: Kizuna, domain: str, grant: TokenGrant, method: str, account_id: int | None
) -> int:
    """The one transaction of an install: account, shop row, grant, status."""
    with runtime.db.session() as session:
        shop = session.scalars(
            select(Shop).where(Shop.platform == "shopify", Shop.domain == domain).with_for_update()
        ).one_or_none()
        if shop is not None and account_id is not None and shop.account_id != account_id:
            raise InstallError("install.connected_elsewhere", domain=domain)
        if shop is None:
            if account_id is None:
                account = Account(name=shop_handle(domain))
                session.add(account)
                session.flush()
                account_id = account.id
            shop = Shop(account_id=account_id, platform="shopify", domain=domain)
            shop.name = shop_handle(domain)
            session.add(shop)
        store_grant(session, runtime, shop, grant)
        shop.scopes = grant.scope or None  # a custom app's token does not say
        shop.status = "active"
        shop.install_method = method
        shop.installed_at = utcnow()
        shop.uninstalled_at = None
        shop.erased_at = None
        shop.last_error = None
        shop.last_error_at = None
        session.commit()
        return shop.id


def _describe_shop(runtime: Kizuna, shop: Shop, method: str) -> dict[str, Any]:
    """SHOP's name, currency and timezone, and the webhook subscriptions (when ours to make)."""
    facts: dict[str, Any] = {}
    with shopify_client(runtime, shop) as client:
        info = client.execute(SHOP).get("shop") or {}
        facts.update(
            name=info.get("name"),
            currency=info.get("currencyCode"),
            timezone=info.get("ianaTimezone"),
        )
        if method in SUBSCRIBING_METHODS:
            uri = f"{runtime.config.app_url}{WEBHOOK_PATH}"
            facts["webhooks_subscribed"] = subscribe_webhooks(client, uri)
        facts["web_pixel"] = _turn_on_web_pixel(runtime, shop, client)
    return facts


def _turn_on_web_pixel(runtime: Kizuna, shop: Shop, client: Any) -> bool:
    """The storefront web pixel (extensions/kizuna-pixel) on for the shop, posting to this app;
    best effort: a custom app has no extensions, and a pixel created before answers with an
    error too (product views then simply do not arrive, which the flow tolerates)."""
    try:
        create_web_pixel(client, {"endpoint": f"{runtime.config.app_url}{EVENTS_PATH}"})
    except ConnectorError as error:
        log.info("web pixel not created shop_id=%s error=%s", shop.id, error)
        return False
    return True


def _follow_up_reason(failure: ConnectorError) -> str:
    """The message key of why reading the shop after its install failed (never Shopify's text)."""
    if isinstance(failure, AuthenticationError):
        return "shop_error.reason.token_refused"
    if isinstance(failure, RetryableError):
        return "connect.no_answer"
    return "shop_error.reason.unexpected"


def complete_install(
    runtime: Kizuna,
    shop_domain: str,
    grant: TokenGrant,
    method: str,
    *,
    account_id: int | None = None,
) -> int:
    """Record an install (or reinstall) and start the shop's first backfill; the shop id."""
    domain = normalize_shop_domain(shop_domain)
    if domain is None:
        raise InstallError("install.not_a_shop_domain")
    if method not in INSTALL_METHODS:
        raise ValueError(f"unknown install method {method!r}")
    try:
        shop_id = _store_install(runtime, domain, grant, method, account_id)
    except IntegrityError:
        # Two installs of a new shop raced; the loser reuses the row the winner created.
        shop_id = _store_install(runtime, domain, grant, method, account_id)

    with runtime.db.session() as session:
        installed = session.get_one(Shop, shop_id)
    # The platform calls run outside any transaction; their outcome is written afterwards.
    facts: dict[str, Any] = {}
    failure: ConnectorError | None = None
    try:
        facts = _describe_shop(runtime, installed, method)
    except ConnectorError as error:
        log.warning("shopify install follow-up failed shop_id=%s code=%s", shop_id, error.code)
        failure = error

    with runtime.db.session() as session:
        shop = session.get_one(Shop, shop_id)
        if failure is not None:
            record_shop_error(
                shop, "shop_error.install_follow_up_failed", reason_key=_follow_up_reason(failure)
            )
        shop.name = facts.get("name") or shop.name
        shop.currency = facts.get("currency") or shop.currency
        shop.timezone = facts.get("timezone") or shop.timezone
        if "webhooks_subscribed" in facts:
            shop.webhooks_subscribed = facts["webhooks_subscribed"]
        state = {key: value for key, value in (shop.sync_state or {}).items() if key != "notice"}
        if _scopes_missing_all_orders(shop.scopes or ""):
            state["notice"] = READ_ALL_ORDERS_NOTICE
        shop.sync_state = state
        enqueue_backfill(runtime, session, shop_id)
        session.commit()
    log.info("shopify install complete shop_id=%s method=%s", shop_id, method)
    return shop_id


class _FixedToken:
    """A token provider for a token that cannot be refreshed (custom apps)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh(self) -> str:
        raise AuthenticationError("Shopify refused the access token", status=401)


def connect_custom_app(
    runtime: Kizuna, domain: str, token: str, *, account_id: int | None = None
) -> int:
    """Connect a shop through a custom app's Admin API token; the shop id.

    The token is tried against the shop (SHOP) first: a refused token raises `InstallError`
    and nothing is stored.
    """
    shop_domain = normalize_shop_domain(domain)
    if shop_domain is None:
        raise InstallError("install.enter_domain")
    token = (token or "").strip()
    if not token:
        raise InstallError("install.enter_token")
    config = runtime.config
    client = ShopifyAdminClient(
        shop_domain,
        config.shopify_api_version,
        shopify_http_client(config.shopify_sandbox_url),
        _FixedToken(token),
        max_attempts=2,
    )
    with client:
        try:
            client.execute(SHOP)
        except AuthenticationError as error:
            raise InstallError("install.token_refused", domain=shop_domain) from error
        except ConnectorError as error:
            log.info("custom app connect failed shop=%s code=%s", shop_domain, error.code)
            raise InstallError("install.unreachable", domain=shop_domain) from error
    return complete_install(
        runtime,
        shop_domain,
        TokenGrant(access_token=token, scope=""),
        "custom_app",
        account_id=account_id,
    )
