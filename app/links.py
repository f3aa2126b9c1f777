"""Links built from platform or shopper data: only absolute http(s) URLs reach an email or page.

Layer: web glue (pure, no I/O). `safe_url` drops `javascript:`, `data:`, scheme-relative or
malformed values (or puts a fallback, usually `shop_home_url`, in their place); it is also the
`safe_url` Jinja filter of every template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, overload
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from app.models import Shop

_SCHEMES = ("http", "https")


@overload
def safe_url(url: object, fallback: str) -> str: ...
@overload
def safe_url(url: object, fallback: None = None) -> str | None: ...
def safe_url(url: object, fallback: str | None = None) -> str | None:
    """`url` when it is an absolute http(s) URL with a host, else `fallback`."""
    if not isinstance(url, str):
        return fallback
    candidate = url.strip()
    # Browsers ignore tabs and newlines inside a URL (`java\tscript:`): refuse any control or space.
    if not candidate or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
        return fallback
    try:
        parts = urlsplit(candidate)
        hostname = parts.hostname
    except ValueError:
        return fallback
    if parts.scheme.lower() not in _SCHEMES or not hostname:
        return fallback
    return candidate


def shop_home_url(shop: Shop) -> str:
    """The storefront's home page. Shopify shops are stored by their `handle.myshopify.com`
    domain (it redirects to the shop's own), WooCommerce shops by their URL, scheme included;
    both are checked at install."""
    domain = shop.domain.strip().rstrip("/")
    return domain if domain.startswith(("https://", "http://")) else f"https://{domain}"
