"""Shopify OAuth: query-string signatures, the authorize URL, and the token endpoint.

Layer: connectors (no Flask, no database). Signature checks are pure, return a `Verification`,
accept the current and previous secret and compare in constant time. Kizuna asks only for
expiring offline tokens (`expiring=1`); a `TokenGrant`'s repr never shows a token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.shopify.domains import normalize_shop_domain

OAUTH_TIMESTAMP_MAX_AGE = 90  # seconds either way, as Shopify's own libraries allow
QueryParams = Mapping[str, str | list[str]]


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str | None = None


VERIFIED = Verification(ok=True)


@dataclass(frozen=True)
class TokenGrant:
    """An access token (and, for expiring tokens, its refresh token) as Shopify granted it."""

    access_token: str = field(repr=False)
    scope: str
    expires_at: datetime | None = None
    refresh_token: str | None = field(default=None, repr=False)
    refresh_token_expires_at: datetime | None = None


def _signing_message(params: QueryParams) -> bytes | None:
    """Shopify's canonical message: sorted, escaped `key=value` pairs joined with `&`.

    None when a plain (non-`[]`) key is repeated: we cannot know which value Shopify signed.
    """
    pairs = []
    for key, value in params.items():
        if key == "hmac":
            continue
        if key.endswith("[]"):
            values = value if isinstance(value, list) else [value]
            key = key.removesuffix("[]")
            text = json.dumps([str(item) for item in values])
        elif isinstance(value, list):
            if len(value) != 1:
                return None
            text = str(value[0])
        else:
            text = str(value)
        # Escaping the delimiters keeps a value from smuggling in a pair of its own.
        escaped_key = key.replace("%", "%25").replace("=", "%3D")
        escaped_value = text.replace("%", "%25")
        pairs.append(f"{escaped_key}={escaped_value}".replace("&", "%26"))
    return "&".join(sorted(pairs)).encode()


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def query_hmac(params: QueryParams, secret: str) -> str:
    """The `hmac` Shopify puts on a query with these parameters (everything except `hmac`)."""
    message = _signing_message(params)
    if message is None:
        raise ValueError("a query parameter is repeated")
    return _hex_hmac(secret, message)


def verify_query_hmac(params: QueryParams, secrets: Sequence[str]) -> Verification:
    """Check the `hmac` of an OAuth or install request against each secret, in constant time."""
    given = params.get("hmac")
    if isinstance(given, list):
        given = given[0] if len(given) == 1 else None
    if not given:
        return Verification(False, "missing hmac")
    message = _signing_message(params)
    if message is None:
        return Verification(False, "a query parameter is repeated")
    given_bytes = given.encode()
    # Every secret is tried, so the time taken does not reveal which one matched.
    matches = [
        hmac.compare_digest(_hex_hmac(secret, message).encode(), given_bytes)
        for secret in secrets
        if secret
    ]
    return VERIFIED if any(matches) else Verification(False, "hmac does not match")


def check_timestamp(
    timestamp: str | int | None, now: float, max_age: int = OAUTH_TIMESTAMP_MAX_AGE
) -> Verification:
    """The request's `timestamp` (unix seconds) lies within `max_age` of `now`, either way."""
    try:
        value = int(str(timestamp))
    except ValueError:
        return Verification(False, "missing or malformed timestamp")
    if abs(now - value) > max_age:
        return Verification(False, "timestamp too old or in the future")
    return VERIFIED


def authorize_url(shop: str, api_key: str, scopes: str, redirect_uri: str, state: str) -> str:
    """Where to send the merchant to approve the install (authorization-code grant)."""
    domain = normalize_shop_domain(shop)
    if domain is None:
        raise ValueError("not a valid *.myshopify.com shop domain")
    query = urlencode(
        {"client_id": api_key, "scope": scopes, "redirect_uri": redirect_uri, "state": state}
    )
    return f"https://{domain}/admin/oauth/authorize?{query}"


def grant_from_response(data: Mapping[str, Any], now: datetime | None = None) -> TokenGrant:
    """A `TokenGrant` from the token endpoint's JSON (`expires_in` etc. are seconds from now)."""
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ConnectorError("Shopify's token response has no access token", code="bad_response")
    moment = now or datetime.now(UTC)

    def after(seconds: Any) -> datetime | None:
        return moment + timedelta(seconds=int(seconds)) if seconds not in (None, "") else None

    refresh_token = data.get("refresh_token") or None
    return TokenGrant(
        access_token=access_token,
        scope=str(data.get("scope") or ""),
        expires_at=after(data.get("expires_in")),
        refresh_token=refresh_token,
        refresh_token_expires_at=after(data.get("refresh_token_expires_in"))
        if refresh_token
        else None,
    )


def post_token_request(client: httpx.Client, shop: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST to the shop's `/admin/oauth/access_token`; the parsed JSON of a 200 answer.

    Raises `AuthenticationError` (code = Shopify's `error`) when Shopify refuses the grant,
    `RetryableError` for 429, 5xx and network failures, `ConnectorError` otherwise.
    """
    domain = normalize_shop_domain(shop)
    if domain is None:
        raise ValueError("not a valid *.myshopify.com shop domain")
    try:
        response = client.post(
            f"https://{domain}/admin/oauth/access_token",
            json=dict(body),
            headers={"Accept": "application/json"},
        )
    except httpx.HTTPError as error:
        raise RetryableError(f"token request failed: {type(error).__name__}") from error
    if response.status_code == 200:
        try:
            payload = response.json()
        except ValueError as error:
            raise ConnectorError("Shopify's token response is not JSON", status=200) from error
        if not isinstance(payload, dict):
            raise ConnectorError("Shopify's token response is not an object", status=200)
        return payload
    status = response.status_code
    if status == 429 or status >= 500:
        raise RetryableError(f"token request answered {status}", status=status)
    try:
        code = str(response.json().get("error") or "")
    except (ValueError, AttributeError):
        code = ""
    if status in (400, 401, 403):
        raise AuthenticationError(
            f"Shopify refused the grant ({code or status})", status=status, code=code or None
        )
    raise ConnectorError(f"token request answered {status}", status=status, code=code or None)


def exchange_code(
    client: httpx.Client, shop: str, api_key: str, api_secret: str, code: str
) -> TokenGrant:
    """Trade an authorization code for an expiring offline access token and its refresh token."""
    payload = post_token_request(
        client,
        shop,
        {"client_id": api_key, "client_secret": api_secret, "code": code, "expiring": 1},
    )
    return grant_from_response(payload)
