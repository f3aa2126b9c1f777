"""`safe_url` lets only absolute http(s) URLs through; `shop_home_url` never doubles a scheme."""

from __future__ import annotations

import pytest

from app.links import safe_url, shop_home_url
from app.models import Shop

HOME = "https://tea.myshopify.com"


@pytest.mark.parametrize(
    "url",
    [
        "https://tea.myshopify.com/checkouts/abc/recover?key=k&x=1",
        "http://woo.example:8080/shop/?p=1",
        "HTTPS://CDN.example/a.png",
    ],
)
def test_web_urls_pass_unchanged(url: str) -> None:
    assert safe_url(url) == url
    assert safe_url(f"  {url}\n") == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "/relative/path",
        "https://",
        "https:///path-only",
        "https://[::1",
        "https://tea.example/a b",
        "https://tea.example/\x00",
        "mailto:someone@example.com",
        "",
        None,
        42,
    ],
)
def test_anything_else_is_dropped_or_replaced(url: object) -> None:
    assert safe_url(url) is None
    assert safe_url(url, HOME) == HOME


@pytest.mark.parametrize(
    ("platform", "domain", "home"),
    [
        ("shopify", "tea.myshopify.com", "https://tea.myshopify.com"),
        ("woocommerce", "http://woo.example:8080/shop", "http://woo.example:8080/shop"),
        ("woocommerce", "https://woo.example/", "https://woo.example"),
    ],
)
def test_shop_home_url(platform: str, domain: str, home: str) -> None:
    assert shop_home_url(Shop(platform=platform, domain=domain)) == home
