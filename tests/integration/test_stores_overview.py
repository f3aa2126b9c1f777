"""The all-stores page: per-store numbers and per-currency totals, people shared between the
account's stores, and nothing from another account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.services import people
from tests.factories.admin import login, make_account, make_customer, make_order, make_shop, text_of

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def test_every_store_of_the_account_together(client: Any, runtime: Any, db: Session) -> None:
    account = make_account(db)
    tokyo = make_shop(db, account, "tokyo-tea.myshopify.com", name="Tokyo Tea")
    paris = make_shop(
        db, account, "paris-the.example", name="Paris Thé", platform="woocommerce", currency="EUR"
    )
    hanako = make_customer(db, tokyo, email="hanako@example.jp")
    make_customer(db, tokyo)
    twin = make_customer(db, paris, email="HANAKO@example.jp", currency="EUR")
    make_order(
        db, tokyo, hanako, "#1", [("Sencha", 2, "1200")], processed_at=NOW - timedelta(days=3)
    )
    make_order(
        db, tokyo, hanako, "#0", [("Sencha", 1, "1200")], processed_at=NOW - timedelta(days=90)
    )
    make_order(
        db, paris, twin, "#P1", [("Thé vert", 1, "12.50")], processed_at=NOW - timedelta(days=1)
    )
    rival = make_shop(db, make_account(db, "Rival"), "rival.myshopify.com", name="Rival Store")
    make_order(
        db,
        rival,
        make_customer(db, rival, email="hanako@example.jp"),
        "#R",
        [("X", 1, "99999")],
        processed_at=NOW,
    )
    for shop in (tokyo, paris, rival):
        people.link_shop(db, shop.id)
    db.commit()

    login(client, runtime, account)
    page = text_of(client.get("/app/stores"))
    assert f'data-shop-id="{tokyo.id}"' in page
    assert f'data-shop-id="{paris.id}"' in page
    assert "Rival Store" not in page
    assert f'data-shop-id="{rival.id}"' not in page
    assert 'data-field="stores">2<' in page
    assert 'data-field="customers">3<' in page
    assert 'data-field="shared-people">1<' in page  # the rival's Hanako is another account's
    assert 'data-total="JPY">¥2,400<' in page  # the 90-day-old order is outside the window
    assert 'data-total="EUR">€12.50<' in page
    assert "99,999" not in page

    japanese = text_of(client.get("/app/stores", headers={"Accept-Language": "ja"}))
    assert "複数のストアで購入している人" in japanese
