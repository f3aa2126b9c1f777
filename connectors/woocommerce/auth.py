"""wc-auth key exchange (`/wc-auth/v1/authorize`) and store URL normalisation.

Layer: connectors (pure). The callback WooCommerce POSTs is unsigned and does not name the
store: the only link is the `user_id` we chose, so callers pass a single-use random token and
resolve it from their own records. `KeyGrant.parse` validates the callback body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

APP_NAME = "Kizuna"
SCOPE = "read_write"  # creating webhooks needs write
_HOST = re.compile(r"^[a-z0-9.-]+(:\d{1,5})?$")


def normalize_store_url(value: str | None) -> str | None:
    """`https://Shop.example.com/path/` → `https://shop.example.com/path`; None if not a URL.

    Only the form: whether Kizuna may call the address is `connectors.outbound.check_url`'s."""
    if not value:
        return None
    value = value.strip()
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    host = parts.netloc.lower()
    if parts.scheme not in ("http", "https") or not _HOST.match(host):
        return None
    if parts.query or parts.fragment or "@" in parts.netloc:
        return None
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{host}{path}"


def authorize_url(store_url: str, user_id: str, return_url: str, callback_url: str) -> str:
    query = urlencode(
        {
            "app_name": APP_NAME,
            "scope": SCOPE,
            "user_id": user_id,
            "return_url": return_url,
            "callback_url": callback_url,
        }
    )
    return f"{store_url}/wc-auth/v1/authorize?{query}"


@dataclass(frozen=True)
class KeyGrant:
    key_id: int | None
    user_id: str
    consumer_key: str
    consumer_secret: str
    permissions: str

    @classmethod
    def parse(cls, body: Any) -> KeyGrant | None:
        """The callback's JSON, or None when it is not a key grant."""
        if not isinstance(body, dict):
            return None
        ck, cs, user_id = body.get("consumer_key"), body.get("consumer_secret"), body.get("user_id")
        if not (isinstance(ck, str) and ck.startswith("ck_") and 3 < len(ck) <= 200):
            return None
        if not (isinstance(cs, str) and cs.startswith("cs_") and 3 < len(cs) <= 200):
            return None
        if not isinstance(user_id, str | int) or not str(user_id) or len(str(user_id)) > 200:
            return None
        key_id = body.get("key_id")
        return cls(
            key_id=key_id if isinstance(key_id, int) else None,
            user_id=str(user_id),
            consumer_key=ck,
            consumer_secret=cs,
            permissions=str(body.get("key_permissions") or ""),
        )
