"""Fixed-window request limits: the account forms (sign-up, reset, invitations) and the
storefront endpoints (cart capture, product views, back-in-stock requests).

Layer: web auth (Redis; keys hold a hash of what they count, never an address). A window starts
at its first hit and does not slide. Limits on a client address answer 429; limits on an email
address are kept silently by the caller, so the answer never says an address exists. The
storefront's limits give way when Redis does not answer (`over_limit`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import redis

_PREFIX = "kizuna:throttle"

# (limit, window seconds) per kind of counter.
SIGNUP_PER_ADDRESS = (10, 3600)  # sign-ups from one client address
EMAILS_PER_RECIPIENT = (3, 3600)  # account emails to one email address
RESETS_PER_ADDRESS = (10, 3600)  # reset requests from one client address
INVITES_PER_ACCOUNT = (20, 3600)


def _key(bucket: str, subject: str) -> str:
    digest = hashlib.sha256(subject.lower().encode("utf-8")).hexdigest()[:32]
    return f"{_PREFIX}:{bucket}:{digest}"


def hit(client: redis.Redis, bucket: str, subject: str, limit: tuple[int, int]) -> int:
    """Count one attempt; 0 when it is within the limit, else the seconds until the window ends."""
    allowed, window = limit
    key = _key(bucket, subject)
    pipe = client.pipeline()
    pipe.incr(key)
    pipe.ttl(key)
    results: list[Any] = pipe.execute()
    count, ttl = int(results[0]), int(results[1])
    if count == 1 or ttl < 0:
        client.expire(key, window)
        ttl = window
    return 0 if count <= allowed else max(ttl, 1)


def over_limit(client: redis.Redis, bucket: str, subject: str, limit: tuple[int, int]) -> bool:
    """`hit` → whether the attempt is over the limit; False when Redis does not answer (for the
    storefront: losing a limit is better than losing a shopper's cart or events)."""
    try:
        return hit(client, bucket, subject, limit) > 0
    except (redis.RedisError, OSError):
        return False
