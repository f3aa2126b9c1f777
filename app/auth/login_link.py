"""Login links for the standalone admin: single-use, 15 minutes.

Layer: web auth (Redis keeps the token's hash). The token rides after `#`, so it reaches no log;
a GET never signs in.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import redis

from app.config import Config

LINK_LIFETIME = 15 * 60
LINK_PREFIX = "kizuna:login-link"
ACCOUNT_LINKS_PREFIX = "kizuna:account-login-links"
MAX_TOKEN_LENGTH = 128
LINK_PATH = "/login/link"


def _link_key(token: str) -> str:
    return f"{LINK_PREFIX}:{hashlib.sha256(token.encode()).hexdigest()}"


def _account_links_key(account_id: int) -> str:
    return f"{ACCOUNT_LINKS_PREFIX}:{account_id}"


def make_login_token(client: redis.Redis, account_id: int, *, now: float | None = None) -> str:
    """A new single-use token signing in to `account_id`, valid LINK_LIFETIME seconds from `now`."""
    token = secrets.token_urlsafe(32)
    key = _link_key(token)
    issued_at = time.time() if now is None else now
    pipe = client.pipeline()
    # The issue time is checked on use: the expiry does not depend on Redis's clock alone.
    pipe.set(key, f"{account_id}:{issued_at}", ex=LINK_LIFETIME)
    pipe.sadd(_account_links_key(account_id), key)
    pipe.expire(_account_links_key(account_id), LINK_LIFETIME)
    pipe.execute()
    return token


def make_login_url(config: Config, client: redis.Redis, account_id: int) -> str:
    return f"{config.app_url}{LINK_PATH}#{make_login_token(client, account_id)}"


def redeem_login_token(client: redis.Redis, token: str, now: float) -> int | None:
    """The account id of a live token, which is used up by this call; None otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    pipe = client.pipeline(transaction=True)  # GET and DEL at once: two tabs cannot both win
    pipe.get(_link_key(token))
    pipe.delete(_link_key(token))
    raw: Any = pipe.execute()[0]
    if raw is None:
        return None
    try:
        account, _, issued = raw.decode().partition(":")
        account_id, issued_at = int(account), float(issued)
    except ValueError:
        return None
    if now - issued_at > LINK_LIFETIME:  # Redis's TTL bounds the other side, whatever the clocks
        return None
    return account_id


def revoke_login_links(client: redis.Redis, account_id: int) -> None:
    """Every unused link of the account stops working (sign-out, password change)."""
    index = _account_links_key(account_id)
    keys: Any = client.smembers(index)
    if keys:
        client.delete(*keys)
    client.delete(index)
