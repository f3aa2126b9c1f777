"""Accounts, shops, customers and orders for the admin pages, signing a merchant in, and the
app switched to the real SendGrid for the Outbox.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.models import (
    Account,
    Customer,
    Order,
    OrderLine,
    Shop,
)
from tests.conftest import sign_in_with_link
from tests.factories.shops import build_shop

NOW = datetime.now(UTC)


def make_account(db: Session, name: str = "Merchant") -> Account:
    account = Account(name=name)
    db.add(account)
    db.commit()
    return account


def make_shop(db: Session, account: Account, domain: str, **values: Any) -> Shop:
    defaults: dict[str, Any] = {
        "name": domain.split(".")[0].title(),
        "install_method": "managed",
        "scopes": "read_customers,write_customers,read_orders,read_products,read_checkouts",
        "installed_at": NOW - timedelta(hours=2),
        "timezone": "Asia/Tokyo",
        "currency": "JPY",
        "locale": "en",
    }
    return build_shop(db, domain, account=account, **{**defaults, **values})


_serial = iter(range(1, 10**9))


def make_customer(db: Session, shop: Shop, **values: Any) -> Customer:
    n = next(_serial)
    defaults: dict[str, Any] = {
        "external_id": str(9000 + n),
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "email": f"customer{n}@example.com",
        "currency": shop.currency,
    }
    customer = Customer(shop_id=shop.id, **{**defaults, **values})
    customer.email_normalized = customer.email.lower() if customer.email else None
    db.add(customer)
    db.commit()
    return customer


def make_order(
    db: Session,
    shop: Shop,
    customer: Customer,
    name: str,
    lines: list[tuple[str, int, str]],
    **kw: Any,
) -> Order:
    n = next(_serial)
    order = Order(
        shop_id=shop.id,
        external_id=str(5000 + n),
        customer_id=customer.id,
        name=name,
        currency=kw.pop("currency", shop.currency),
        total_price=sum((Decimal(price) * qty for _, qty, price in lines), Decimal(0)),
        **kw,
    )
    for i, (title, qty, price) in enumerate(lines):
        order.lines.append(
            OrderLine(
                shop_id=shop.id,
                external_id=f"{order.external_id}-{i}",
                title=title,
                quantity=qty,
                price=Decimal(price),
                currency=order.currency,
                sku=f"SKU-{i}",
            )
        )
    db.add(order)
    db.commit()
    return order


def login(client: Any, runtime: Any, account: Account) -> None:
    response = sign_in_with_link(client, runtime, account.id)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/app")


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def with_real_sendgrid(monkeypatch: Any, runtime: Any) -> None:
    """The app configured for the real SendGrid, which keeps no copy of what it sends: the
    Outbox renders a sent email again instead of showing the simulated SendGrid's copy."""
    monkeypatch.setattr(
        runtime,
        "config",
        replace(runtime.config, sendgrid_api_key="SG.test", sendgrid_sandbox_url=None),
    )


def pages_in_both_languages(
    client: Any, runtime: Any, db: Session, shop_id: int, path: str = "/app"
) -> dict[str, str]:
    """The admin page at `path` as the shop's owner reads it, by language (`en`, `ja`), with
    HTML entities decoded so a test can look for the sentence a merchant sees."""
    login(client, runtime, db.get_one(Account, db.get_one(Shop, shop_id).account_id))
    pages = {}
    for language in ("en", "ja"):
        response = client.get(path, headers={"Accept-Language": language})
        assert response.status_code == 200, (path, language)
        pages[language] = html.unescape(text_of(response))
    return pages
