"""Shopify's app authentication: query HMACs, session tokens, and the access-token endpoint.

Layer: connectors/sandbox. Grants are kept by token hash; codes are single-use for 60 s; refresh
tokens rotate as Shopify's do. Secrets compared in constant time, never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - an OAuth URN
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105 - an OAuth URN
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"  # noqa: S105 - an OAuth URN
ONLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"  # noqa: S105 - an OAuth URN
CODE_TTL = 60
ONLINE_TOKEN_TTL = 86_399
PREVIOUS_REFRESH_GRACE = 30 * 24 * 3600
SESSION_TOKEN_LEEWAY = 10


def _escape(text: str, *, key: bool) -> str:
    escaped = text.replace("%", "%25").replace("&", "%26")
    return escaped.replace("=", "%3D") if key else escaped


def query_hmac(secret: str, params: Mapping[str, str]) -> str:
    """Hex HMAC-SHA256 over the sorted `k=v` pairs joined by `&`, `hmac` itself excluded.

    `%` and `&` (and `=` in keys) are percent-escaped first, so a value cannot forge a pair."""
    message = "&".join(
        f"{_escape(key, key=True)}={_escape(params[key], key=False)}"
        for key in sorted(params)
        if key != "hmac"
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_hs256(claims: Mapping[str, Any], secret: str) -> str:
    """A compact HS256 JWT. Written out here rather than with PyJWT, which warns about the
    short secrets tests use, and warnings are errors under the test suite's filters."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def decode_hs256(token: str, secret: str) -> dict[str, Any] | None:
    """The claims of an HS256 JWT whose signature matches `secret`, else None (no time checks)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_b64url_decode(parts[0]))
        signature = _b64url_decode(parts[2])
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return None
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    return claims if hmac.compare_digest(expected, signature) else None


def mint_session_token(
    shop_domain: str,
    *,
    api_key: str,
    secret: str,
    user_id: int = 1,
    ttl: int = 60,
    now: float | None = None,
    **claim_overrides: Any,
) -> str:
    """An HS256 session (ID) token with the claims App Bridge puts in it."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": api_key,
        "sub": str(user_id),
        "exp": issued + ttl,
        "nbf": issued,
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "sid": hashlib.sha256(f"{shop_domain}/{user_id}/{api_key}".encode()).hexdigest()[:32],
    }
    claims.update(claim_overrides)
    return encode_hs256(claims, secret)


def verify_session_token(
    token: str, *, api_key: str, secret: str, shop_domain: str, now: float | None = None
) -> dict[str, Any] | None:
    """The claims of a valid session token for this shop and app, else None.

    Checks the signature, `aud`, `exp` and `nbf` (10 s leeway, as Shopify's libraries allow),
    and that `dest`/`iss` name this shop."""
    claims = decode_hs256(token, secret)
    if claims is None:
        return None
    moment = now if now is not None else time.time()
    try:
        expires, not_before = float(claims["exp"]), float(claims["nbf"])
    except (KeyError, TypeError, ValueError):
        return None
    if moment >= expires + SESSION_TOKEN_LEEWAY or moment < not_before - SESSION_TOKEN_LEEWAY:
        return None
    audience = claims.get("aud")
    if audience != api_key and not (isinstance(audience, list) and api_key in audience):
        return None
    if claims.get("dest") != f"https://{shop_domain}":
        return None
    if claims.get("iss") != f"https://{shop_domain}/admin" or not claims.get("sub"):
        return None
    return claims


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class OAuthError(Exception):
    """An error answer of the token endpoint: HTTP status and OAuth error body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


@dataclass
class AccessGrant:
    shop: str
    scope: str
    expires_at: float | None
    online_user: int | None = None
    revoked: bool = False

    def live(self, now: float) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


@dataclass
class RefreshGrant:
    shop: str
    scope: str
    expires_at: float
    previous: str | None  # digest of the refresh token this one replaced
    first_used_at: float | None = None
    superseded: bool = False  # its replacement has been used
    revoked: bool = False


@dataclass
class CodeGrant:
    shop: str
    scope: str
    issued_at: float
    online_user: int | None
    used: bool = False


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true")


class TokenAuthority:
    """Issues and checks the authorization codes, access tokens and refresh tokens of one app."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        token_ttl: int,
        refresh_token_ttl: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self._api_secret = api_secret
        self.token_ttl = token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self._clock = clock
        self._codes: dict[str, CodeGrant] = {}
        self._access: dict[str, AccessGrant] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._lock = threading.Lock()

    # ---- authorization code ----------------------------------------------------------------

    def issue_code(self, shop: str, scope: str, *, online_user: int | None = None) -> str:
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[_digest(code)] = CodeGrant(shop, scope, self._clock(), online_user)
        return code

    # ---- token endpoint --------------------------------------------------------------------

    def token_endpoint(
        self, shop: str, params: Mapping[str, Any], *, default_scope: str
    ) -> dict[str, Any]:
        """Answer `POST /admin/oauth/access_token`; raises `OAuthError` for an error answer."""
        self._check_client(params)
        grant_type = str(params.get("grant_type") or "")
        if grant_type == "refresh_token":
            return self._refresh_grant(shop, str(params.get("refresh_token") or ""))
        if grant_type == TOKEN_EXCHANGE_GRANT:
            return self._token_exchange(shop, params, default_scope)
        if grant_type in ("", "authorization_code"):
            return self._code_grant(
                shop, str(params.get("code") or ""), _flag(params.get("expiring"))
            )
        raise OAuthError(
            400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported"
        )

    def _check_client(self, params: Mapping[str, Any]) -> None:
        client_id = str(params.get("client_id") or "")
        client_secret = str(params.get("client_secret") or "")
        id_ok = hmac.compare_digest(client_id.encode(), self.api_key.encode())
        secret_ok = hmac.compare_digest(client_secret.encode(), self._api_secret.encode())
        if not (id_ok and secret_ok):
            raise OAuthError(401, "invalid_client", "Client credentials are invalid")

    def _code_grant(self, shop: str, code: str, expiring: bool) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            grant = self._codes.get(_digest(code))
            if (
                grant is None
                or grant.used
                or grant.shop != shop
                or now - grant.issued_at > CODE_TTL
            ):
                raise OAuthError(
                    400,
                    "invalid_request",
                    "The authorization code was not found or was already used",
                )
            grant.used = True
        if grant.online_user is not None:
            return self._online_token(shop, grant.scope, grant.online_user)
        return self._offline_token(shop, grant.scope, expiring)

    def _token_exchange(
        self, shop: str, params: Mapping[str, Any], default_scope: str
    ) -> dict[str, Any]:
        if params.get("subject_token_type") != ID_TOKEN_TYPE:
            raise OAuthError(400, "invalid_request", "subject_token_type must be an id_token")
        claims = verify_session_token(
            str(params.get("subject_token") or ""),
            api_key=self.api_key,
            secret=self._api_secret,
            shop_domain=shop,
            now=self._clock(),
        )
        if claims is None:
            raise OAuthError(400, "invalid_subject_token", "The subject token is invalid")
        requested = params.get("requested_token_type") or OFFLINE_TOKEN_TYPE
        if requested == ONLINE_TOKEN_TYPE:
            subject = str(claims["sub"])
            return self._online_token(shop, default_scope, int(subject) if subject.isdigit() else 1)
        if requested != OFFLINE_TOKEN_TYPE:
            raise OAuthError(400, "invalid_request", "requested_token_type is not supported")
        return self._offline_token(shop, default_scope, _flag(params.get("expiring")))

    def _refresh_grant(self, shop: str, token: str) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            grant = self._refresh.get(_digest(token))
            if grant is None or grant.shop != shop or not self._refresh_usable(grant, now):
                raise OAuthError(400, "invalid_grant", "The refresh token is invalid or expired")
            if grant.first_used_at is None:
                grant.first_used_at = now
            if grant.previous is not None:
                previous = self._refresh.get(grant.previous)
                if previous is not None:
                    previous.superseded = True
            used = _digest(token)
        return self._offline_token(shop, grant.scope, True, replaces=used)

    @staticmethod
    def _refresh_usable(grant: RefreshGrant, now: float) -> bool:
        if grant.revoked or grant.superseded or now >= grant.expires_at:
            return False
        return grant.first_used_at is None or now < grant.first_used_at + PREVIOUS_REFRESH_GRACE

    def _offline_token(
        self, shop: str, scope: str, expiring: bool, *, replaces: str | None = None
    ) -> dict[str, Any]:
        now = self._clock()
        access = f"shpat_{secrets.token_hex(16)}"
        body: dict[str, Any] = {"access_token": access, "scope": scope}
        with self._lock:
            expires_at = now + self.token_ttl if expiring else None
            self._access[_digest(access)] = AccessGrant(shop, scope, expires_at)
            if expiring:
                refresh = f"shprt_{secrets.token_hex(16)}"
                self._refresh[_digest(refresh)] = RefreshGrant(
                    shop, scope, now + self.refresh_token_ttl, previous=replaces
                )
                body.update(
                    expires_in=self.token_ttl,
                    refresh_token=refresh,
                    refresh_token_expires_in=self.refresh_token_ttl,
                )
        return body

    def _online_token(self, shop: str, scope: str, user_id: int) -> dict[str, Any]:
        access = f"shpua_{secrets.token_hex(16)}"
        with self._lock:
            self._access[_digest(access)] = AccessGrant(
                shop, scope, self._clock() + ONLINE_TOKEN_TTL, online_user=user_id
            )
        return {
            "access_token": access,
            "scope": scope,
            "expires_in": ONLINE_TOKEN_TTL,
            "associated_user_scope": scope,
            "associated_user": {
                "id": user_id,
                "first_name": "Store",
                "last_name": "Owner",
                "email": f"user{user_id}@example.com",
                "account_owner": user_id == 1,
                "locale": "ja",
                "collaborator": False,
                "email_verified": True,
            },
        }

    # ---- checks and administration ---------------------------------------------------------

    def authenticate(self, shop: str, access_token: str) -> AccessGrant | None:
        """The live grant behind an `X-Shopify-Access-Token` for this shop, else None."""
        with self._lock:
            grant = self._access.get(_digest(access_token))
            if grant is None or grant.shop != shop or not grant.live(self._clock()):
                return None
            return grant

    def expire_access_tokens(self, shop: str) -> None:
        now = self._clock()
        with self._lock:
            for grant in self._access.values():
                if grant.shop == shop:
                    grant.expires_at = now - 1

    def revoke_shop(self, shop: str) -> None:
        with self._lock:
            for access in self._access.values():
                if access.shop == shop:
                    access.revoked = True
            for refresh in self._refresh.values():
                if refresh.shop == shop:
                    refresh.revoked = True

    def access_token_count(self, shop: str) -> int:
        """Access tokens issued for `shop` and not revoked (expired ones included)."""
        with self._lock:
            return sum(
                1 for grant in self._access.values() if grant.shop == shop and not grant.revoked
            )
