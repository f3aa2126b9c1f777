"""Offline access tokens: token exchange (managed install) and refresh, through `shopify_app`.

Layer: connectors. `shopify_app` refreshes only within 60 s of expiry; Kizuna refreshes earlier
(5 minutes ahead, or on a 401), so outside that window the same body is posted directly.
Refresh tokens rotate on every use: the caller stores the new pair atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from shopify_app import IdTokenDetails, ShopifyApp, TokenExchangeAccessToken, TokenExchangeResult

from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.shopify.domains import shop_handle
from connectors.shopify.oauth import TokenGrant, grant_from_response, post_token_request

SHOPIFY_APP_REFRESH_WINDOW = timedelta(seconds=60)
# `shopify_app` log codes that mean the grant itself is dead: the merchant must reinstall.
REVOKED_GRANT_CODES = frozenset({"invalid_grant", "refresh_token_expired"})
_RETRYABLE_CODES = frozenset({"network_error", "server_error", "rate_limit_exceeded"})
_SHOPIFY_APP_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime(_SHOPIFY_APP_TIME_FORMAT) if moment else None


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _grant_from_result(result: TokenExchangeResult, action: str) -> TokenGrant:
    if not result.ok or result.access_token is None:
        code = result.log.code
        if code in _RETRYABLE_CODES:
            raise RetryableError(f"{action} failed ({code})", code=code)
        if code in REVOKED_GRANT_CODES or code in ("invalid_subject_token", "invalid_client"):
            raise AuthenticationError(f"Shopify refused the {action} ({code})", code=code)
        raise ConnectorError(f"{action} failed ({code})", code=code)
    token = result.access_token
    return TokenGrant(
        access_token=token.token,
        scope=token.scope or "",
        expires_at=_parse_iso(token.expires),
        refresh_token=token.refresh_token or None,
        refresh_token_expires_at=_parse_iso(token.refresh_token_expires)
        if token.refresh_token
        else None,
    )


def exchange_session_token(
    http_client: httpx.Client,
    api_key: str,
    api_secret: str,
    shop_domain: str,
    session_token: str,
    claims: Mapping[str, Any],
) -> TokenGrant:
    """Trade a verified session token for an expiring offline access token (token exchange).

    `shop_domain` is the one our own verification derived from the token; it is what the
    exchange is sent to, whatever the claims say.
    """
    shop_handle(shop_domain)  # refuses anything but a canonical shop domain
    result = ShopifyApp(api_key, api_secret).exchange_using_token_exchange(
        access_mode="offline",
        id_token=IdTokenDetails(
            exchangeable=True,
            token=session_token,
            claims={**claims, "dest": f"https://{shop_domain}"},
        ),
        invalid_token_response=None,
        expiring=True,
        http_client=http_client,
    )
    return _grant_from_result(result, "token exchange")


def refresh_grant(
    http_client: httpx.Client,
    api_key: str,
    api_secret: str,
    shop_domain: str,
    refresh_token: str,
    *,
    expires_at: datetime | None,
    refresh_token_expires_at: datetime | None,
    now: datetime | None = None,
) -> TokenGrant:
    """A new access token and its rotated refresh token; `AuthenticationError` when revoked."""
    moment = now or datetime.now(UTC)
    if refresh_token_expires_at is not None and refresh_token_expires_at <= moment:
        raise AuthenticationError("the refresh token has expired", code="refresh_token_expired")
    if expires_at is None or expires_at <= moment + SHOPIFY_APP_REFRESH_WINDOW:
        result = ShopifyApp(api_key, api_secret).refresh_token_exchanged_access_token(
            TokenExchangeAccessToken(
                shop=shop_handle(shop_domain),
                token="",
                expires=_iso(expires_at),
                scope="",
                access_mode="offline",
                refresh_token=refresh_token,
                refresh_token_expires=_iso(refresh_token_expires_at),
                user=None,
            ),
            http_client=http_client,
        )
        return _grant_from_result(result, "token refresh")
    payload = post_token_request(
        http_client,
        shop_domain,
        {
            "client_id": api_key,
            "client_secret": api_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        },
    )
    return grant_from_response(payload, moment)
