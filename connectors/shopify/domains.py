"""Shopify shop domains: the one place that decides what a shop domain may look like.

Layer: connectors (pure, no I/O). The canonical form is the lowercase `handle.myshopify.com`.
Anything else — other hosts, look-alike suffixes, schemes, paths, ports, credentials — is refused,
because a shop domain ends up in URLs that Kizuna sends its client secret and tokens to.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MYSHOPIFY_SUFFIX = ".myshopify.com"
_SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")
_MAX_DOMAIN_LENGTH = 255


def normalize_shop_domain(value: str | None) -> str | None:
    """The canonical `handle.myshopify.com` for `value`, or None when it is not one."""
    if not isinstance(value, str):
        return None
    candidate = value.strip().lower()
    if len(candidate) > _MAX_DOMAIN_LENGTH or not _SHOP_DOMAIN.fullmatch(candidate):
        return None
    return candidate


def shop_handle(domain: str) -> str:
    """The subdomain of a shop domain (`demo-store`), the form `shopify_app` expects."""
    canonical = normalize_shop_domain(domain)
    if canonical is None:
        raise ValueError("not a valid *.myshopify.com shop domain")
    return canonical.removesuffix(MYSHOPIFY_SUFFIX)


def shop_domain_from_url(url: str | None) -> str | None:
    """The shop domain of an `https://handle.myshopify.com[/path]` URL, or None.

    Used for the `iss` and `dest` claims of session tokens: a port, credentials or another
    scheme make the URL unacceptable rather than being silently dropped.
    """
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or port is not None or "@" in parts.netloc:
        return None
    return normalize_shop_domain(parts.hostname)
