"""Password hashing for standalone admin accounts: scrypt, `scrypt$n$r$p$salt$hash`.

Layer: pure (no Flask, no I/O). Comparison is constant time, and a missing or malformed hash
costs the same work as a real one, so a login does not reveal which emails exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_LENGTH = 8
MAX_LENGTH = 1024  # scrypt reads the whole password; refuse megabyte "passwords"
_MAXMEM = 64 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=HASH_BYTES
    )


def password_problem(password: str) -> str | None:
    """Why this password cannot be set (a message key suffix), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    return None


def hash_password(password: str) -> str:
    """A new `scrypt$n$r$p$salt$hash` string for this password, with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, N, R, P)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
    # Parameters far from ours would be a stored-data bug or an attempt to make logins slow.
    if not (2 <= n <= 2**17 and n & (n - 1) == 0 and 1 <= r <= 16 and 1 <= p <= 4 and digest):
        return None
    return n, r, p, salt, digest


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches the stored hash; False for no hash or a malformed one."""
    parsed = _parse(stored) if stored else None
    if parsed is None or len(password) > MAX_LENGTH:
        # Same cost as a real check, so timing does not tell "no such account".
        _scrypt(password[:MAX_LENGTH], b"\0" * SALT_BYTES, N, R, P)
        return False
    n, r, p, salt, digest = parsed
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), digest)
