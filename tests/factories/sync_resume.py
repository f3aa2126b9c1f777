"""A WooCommerce store connected for sync tests, with small pages.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.kizuna import Kizuna
from app.models import Account, Shop
from app.models.woocommerce import WooCommerceShop
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.woocommerce.client import WooCommerceClient

PAGE = 5


def connect_woo_store(runtime: Kizuna, platform: SandboxWooCommerce, url: str, path: str) -> int:
    """A connected WooCommerce shop (keys stored as the wc-auth callback stores them)."""
    key, secret = platform.issue_key(path, "read_write")
    with runtime.db.session() as session:
        account = Account(name="Merchant")
        session.add(account)
        session.flush()
        shop = Shop(account_id=account.id, platform="woocommerce", domain=f"{url}/{path}")
        shop.status = "active"
        shop.currency = "JPY"
        shop.access_token_encrypted = runtime.cipher.encrypt(
            json.dumps({"consumer_key": key, "consumer_secret": secret})
        )
        session.add(shop)
        session.flush()
        session.add(WooCommerceShop(shop_id=shop.id, webhook_ids={}))
        session.commit()
        return shop.id


def woo_small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    paginate = WooCommerceClient.paginate

    def small(self: WooCommerceClient, endpoint: str, params: Any = None, per_page: int = 0) -> Any:
        return paginate(self, endpoint, params, PAGE)

    monkeypatch.setattr(WooCommerceClient, "paginate", small)
