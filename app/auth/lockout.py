"""Failed password sign-ins, counted per (email, client address), with exponential backoff.

Layer: web auth (Redis; keys hold a hash of the email). Only that address is held back for that
email, so the owner still signs in from elsewhere; the wait is capped.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import redis

FREE_FAILURES = 5
BASE_DELAY = 30
MAX_DELAY = 15 * 60
FAILURE_MEMORY = 24 * 3600
ADDRESS_MAX_FAILURES = 50
ADDRESS_WINDOW = 15 * 60
_PREFIX = "kizuna:login-lock"


def delay_after(failures: int) -> int:
    """Seconds an (email, address) pair waits after its `failures`-th wrong password."""
    if failures < FREE_FAILURES:
        return 0
    return min(MAX_DELAY, BASE_DELAY * 2 ** min(failures - FREE_FAILURES, 30))


def _pair_key(email: str, address: str) -> str:
    email_hash = hashlib.sha256(email.lower().encode("utf-8")).hexdigest()[:32]
    return f"{_PREFIX}:pair:{email_hash}:{address}"


def _address_key(address: str) -> str:
    return f"{_PREFIX}:address:{address}"


def retry_after(client: redis.Redis, email: str, address: str, now: float) -> int:
    """Seconds until this address may try this email again; 0 when it may now."""
    pipe = client.pipeline()
    pipe.hget(_pair_key(email, address), "until")
    pipe.get(_address_key(address))
    pipe.ttl(_address_key(address))
    until, address_failures, address_ttl = pipe.execute()
    waits = [0]
    if until is not None:
        waits.append(math.ceil(float(until) - now))
    if address_failures is not None and int(address_failures) >= ADDRESS_MAX_FAILURES:
        waits.append(max(int(address_ttl), 1))
    return max(waits)


def record_failure(client: redis.Redis, email: str, address: str, now: float) -> int:
    """Count a wrong password; the wait it imposes on the pair (0 while failures are free)."""
    pair = _pair_key(email, address)
    pipe = client.pipeline()
    pipe.hincrby(pair, "failures", 1)
    pipe.expire(pair, FAILURE_MEMORY)
    pipe.incr(_address_key(address))
    results: list[Any] = pipe.execute()
    if int(results[2]) == 1:  # the address window starts at its first failure, it does not slide
        client.expire(_address_key(address), ADDRESS_WINDOW)
    delay = delay_after(int(results[0]))
    if delay:
        client.hset(pair, "until", str(now + delay))
    return delay


def clear_failures(client: redis.Redis, email: str, address: str) -> None:
    """A correct password: this pair starts afresh (the address count stays)."""
    client.delete(_pair_key(email, address))
