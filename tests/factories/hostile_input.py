"""The tenant the hostile-input tests probe (the `tenant` fixture) and its storefront origin.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.models import Shop
from tests.factories.tenants import (
    Tenant,
    add_generic_ids,
    populate,
)

WC_ORIGIN = "https://hostile-shop.example"


@pytest.fixture
def tenant(db: Session, runtime: Any) -> Tenant:
    found = populate(db, "hostile-input", "Hana")
    shop = db.get(Shop, found.shop_id)
    assert shop is not None
    shop.access_token_encrypted = runtime.cipher.encrypt(f"shpat_{found.shop_id}")
    store = Shop(
        account_id=found.account_id,
        platform="woocommerce",
        domain=WC_ORIGIN,
        name="Hostile Woo",
        status="active",
        currency="JPY",
        timezone="Asia/Tokyo",
    )
    db.add(store)
    db.commit()
    found.ids["woocommerce_shop"] = store.id
    add_generic_ids(found, runtime.db.engine)
    return found
