"""Shopify session tokens (App Bridge ID tokens) for the embedded admin.

Layer: connectors (pure). HS256 with the current or previous secret, `exp`/`nbf` with 10 s
leeway, `aud` = our API key — and, beyond `shopify_app`, `iss` and `dest` must both be valid
myshopify URLs of the same shop, so a token is never replayed against another shop's data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt

from connectors.shopify.domains import shop_domain_from_url

LEEWAY_SECONDS = 10
REQUIRED_CLAIMS = ("iss", "dest", "aud", "sub", "exp", "nbf", "jti", "sid")
_MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True)
class SessionTokenResult:
    ok: bool
    reason: str | None = None
    shop_domain: str | None = None
    user_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)


def _refuse(reason: str) -> SessionTokenResult:
    return SessionTokenResult(ok=False, reason=reason)


def _decode(token: str, api_key: str, secrets: Sequence[str]) -> dict[str, Any] | str:
    """The verified claims, or the reason they cannot be trusted."""
    for secret in (s for s in secrets if s):
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                audience=api_key,
                # Time claims are checked by the caller against an injectable `now`.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            continue  # maybe signed with the previous secret
        except jwt.InvalidAudienceError:
            return "wrong audience"
        except jwt.MissingRequiredClaimError as error:
            return f"missing claim {error.claim}"
        except jwt.InvalidAlgorithmError:
            return "algorithm not allowed"
        except jwt.PyJWTError:
            return "malformed token"
        return claims
    return "bad signature"


def verify_session_token(
    token: str | None, api_key: str, secrets: Sequence[str], *, now: float | None = None
) -> SessionTokenResult:
    """Verify a session token; `ok` with the shop domain and user id, or a reason."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return _refuse("missing token")
    decoded = _decode(token, api_key, secrets)
    if isinstance(decoded, str):
        return _refuse(decoded)
    claims = decoded
    moment = time.time() if now is None else now
    try:
        expires, not_before = float(claims["exp"]), float(claims["nbf"])
    except (TypeError, ValueError):
        return _refuse("malformed time claims")
    if expires <= moment - LEEWAY_SECONDS:
        return _refuse("expired")
    if not_before > moment + LEEWAY_SECONDS:
        return _refuse("not yet valid")
    issuer_shop = shop_domain_from_url(claims["iss"])
    if issuer_shop is None:
        return _refuse("invalid issuer")
    destination_shop = shop_domain_from_url(claims["dest"])
    if destination_shop is None:
        return _refuse("invalid destination")
    if issuer_shop != destination_shop:
        return _refuse("issuer and destination name different shops")
    return SessionTokenResult(
        ok=True,
        shop_domain=destination_shop,
        user_id=str(claims["sub"]),
        claims=claims,
    )
