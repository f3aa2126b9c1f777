"""Shop domains: only canonical `handle.myshopify.com` passes; everything else is refused."""

from __future__ import annotations

import pytest

from connectors.shopify.domains import normalize_shop_domain, shop_domain_from_url, shop_handle


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("demo-store.myshopify.com", "demo-store.myshopify.com"),
        ("Demo-Store.MyShopify.com", "demo-store.myshopify.com"),
        ("  shop1.myshopify.com ", "shop1.myshopify.com"),
        ("a.myshopify.com", "a.myshopify.com"),
    ],
)
def test_valid_domains_are_normalized(value: str, expected: str) -> None:
    assert normalize_shop_domain(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "evil.com",
        "x.myshopify.com.evil.com",
        "-x.myshopify.com",
        ".myshopify.com",
        "myshopify.com",
        "https://x.myshopify.com",
        "x.myshopify.com/admin",
        "x.myshopify.com:443",
        "user@x.myshopify.com",
        "x.y.myshopify.com",
        "x_y.myshopify.com",
        "x.myshopify.com\nevil.com",
        "x.myshopify.com%2f",
        "xn--.myshopify.comx",
        "a" * 300 + ".myshopify.com",
    ],
)
def test_anything_else_is_refused(value: str) -> None:
    assert normalize_shop_domain(value) is None


def test_non_strings_are_refused() -> None:
    assert normalize_shop_domain(None) is None
    assert normalize_shop_domain(42) is None  # type: ignore[arg-type]


def test_shop_handle_is_the_subdomain() -> None:
    assert shop_handle("Demo-Store.myshopify.com") == "demo-store"
    with pytest.raises(ValueError, match="myshopify"):
        shop_handle("evil.com")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://demo.myshopify.com/admin", "demo.myshopify.com"),
        ("https://demo.myshopify.com", "demo.myshopify.com"),
        ("http://demo.myshopify.com", None),
        ("https://demo.myshopify.com:8443", None),
        ("https://demo.myshopify.com@evil.com/admin", None),
        ("https://evil.com/demo.myshopify.com", None),
        ("demo.myshopify.com", None),
        ("https://[::1", None),
        (None, None),
    ],
)
def test_shop_domain_from_url(url: str | None, expected: str | None) -> None:
    assert shop_domain_from_url(url) == expected
