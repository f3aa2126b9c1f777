"""The one check of whether a string may be an email address, shared by every layer.

Layer: connectors (pure). Linear and bounded: length capped first (254), then plain string
operations, no regular expression, so no input can make it backtrack. Deliberately loose.
"""

from __future__ import annotations

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64
# Whitespace, control characters and the characters that delimit an address in a header.
_FORBIDDEN = frozenset(chr(code) for code in range(33)) | frozenset('\x7f<>()[],;:"\\')


def is_email_address(value: object) -> bool:
    """Whether `value` is shaped like `local@domain.tld` (at most 254 characters)."""
    if not isinstance(value, str) or not 3 <= len(value) <= MAX_EMAIL_LENGTH:
        return False
    local, at, domain = value.rpartition("@")
    if not at or not 1 <= len(local) <= MAX_LOCAL_PART_LENGTH or "@" in local:
        return False
    if not _FORBIDDEN.isdisjoint(value):
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(labels) and len(labels[-1]) >= 2
