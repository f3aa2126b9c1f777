"""A customer's data rights in the admin: a Shopify `customers/data_request` becomes a download of
everything Kizuna stores about them; a WooCommerce customer gets the same download and an erase
the account owner confirms, through the `customers/redact` path.

Real PostgreSQL and Redis; the webhook is signed and delivered over the app's HTTP interface.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Account, Customer, Order, Shop
from app.models.flow import Suppression
from app.queueing import WEBHOOKS
from app.services.upsert import upsert_customers, upsert_orders
from tests.factories.accounts import make_member, make_owner, sign_in
from tests.factories.admin import login
from tests.factories.redact import (
    DOMAIN,
    TARGET_ID,
    an_order,
    deliver,
    person,
    stocked,
    template,
)

__all__ = ["stocked"]  # the fixture, from the redact factories


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_a_data_request_is_listed_with_a_download_of_everything_held(
    client: Any, db: Session, runtime: Any, stocked: dict[str, Shop], drain_jobs: Any
) -> None:
    shop = stocked["shop"]
    deliver(
        client,
        "customers/data_request",
        template("customers_data_request.body.json"),
        "wh-x",
        DOMAIN,
    )
    drain_jobs(WEBHOOKS)
    target = db.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == TARGET_ID)
    ).one()
    db.add(Suppression(shop_id=shop.id, email_normalized="john@example.com", reason="bounce"))
    db.commit()

    login(client, runtime, db.get_one(Account, shop.account_id))
    page = client.get("/app/privacy", headers={"Accept-Language": "ja"}).get_data(as_text=True)
    assert 'data-request="9999"' in page
    assert "データの開示請求" in page
    download = f"/app/customers/{target.id}/export.json"
    assert download in page

    response = client.get(download)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "private, no-store"
    export = json.loads(response.get_data(as_text=True))
    data = export["data"]
    assert export["customer_external_id"] == TARGET_ID
    assert data["customers"][0]["email"] == "John@Example.com"
    assert data["customers"][0]["phone"] == "555-625-1199"
    assert [o["external_id"] for o in data["orders"]] == ["1001"]
    assert [line["title"] for line in data["order_lines"]] == ["Genmaicha"]
    assert {c["external_id"] for c in data["checkouts"]} == {"tok-target", "tok-guest"}
    assert "data_request" in {e["kind"] for e in data["timeline_events"]}
    assert [s["reason"] for s in data["suppressions"]] == ["bounce"]
    # Nobody else's data: not the bystander, not the same person in another shop.
    text = json.dumps(export)
    assert "mary@example.com" not in text
    assert all(row.get("shop_id", shop.id) == shop.id for rows in data.values() for row in rows)

    # Another shop's customer id is not found through this shop.
    other = stocked["other"]
    stranger = db.scalars(select(Customer).where(Customer.shop_id == other.id)).first()
    assert stranger is not None
    assert client.get(f"/app/customers/{stranger.id}/export.json").status_code == 404
    # A Shopify customer is erased by Shopify's own redact, not from here.
    assert client.get(f"/app/customers/{target.id}/erase").status_code == 404


def test_a_woocommerce_customer_is_erased_once_the_owner_types_their_address(
    client: Any, db: Session, runtime: Any
) -> None:
    account = Account(name="Tea")
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id,
        platform="woocommerce",
        domain="https://tea.example",
        status="active",
    )
    db.add(shop)
    db.flush()
    target = person("41", "hana@example.jp", "Hana", "Mori")
    upsert_customers(db, shop.id, [target, person("42", "ken@example.jp", "Ken", "Ito")])
    upsert_orders(db, shop.id, [an_order("501", target, "hana@example.jp", "Hana Mori")])
    db.commit()
    customer = db.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.external_id == "41")
    ).one()
    login(client, runtime, account)

    page = client.get(f"/app/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="customer-erase"' in page
    assert f"/app/customers/{customer.id}/export.json" in page
    form = client.get(f"/app/customers/{customer.id}/erase").get_data(as_text=True)

    # A wrong address erases nothing.
    refused = client.post(
        f"/app/customers/{customer.id}/erase",
        data={"confirm_email": "someone@example.jp", "csrf_token": _csrf(form)},
    )
    assert refused.status_code == 400
    assert "data-erase-mismatch" in refused.get_data(as_text=True)
    db.expire_all()
    assert db.get_one(Customer, customer.id).email == "hana@example.jp"
    # Nor does a post without the form's CSRF token.
    assert client.post(
        f"/app/customers/{customer.id}/erase", data={"confirm_email": "hana@example.jp"}
    ).status_code in (400, 403)

    erased = client.post(
        f"/app/customers/{customer.id}/erase",
        data={"confirm_email": " HANA@example.jp ", "csrf_token": _csrf(form)},
    )
    assert erased.status_code == 302
    assert "erased=1" in erased.headers["Location"]
    db.expire_all()
    gone = db.get_one(Customer, customer.id)
    assert (gone.email, gone.first_name, gone.last_name) == (None, None, None)
    assert gone.redacted_at is not None
    order = db.scalars(select(Order).where(Order.shop_id == shop.id)).one()
    assert (order.email, order.billing_name) == (None, None)
    assert (
        "hana"
        not in client.get(f"/app/customers/{customer.id}/export.json")
        .get_data(as_text=True)
        .lower()
    )
    # The other customer is untouched, and an erased customer cannot be erased again.
    assert db.scalars(select(Customer).where(Customer.external_id == "42")).one().email
    assert client.get(f"/app/customers/{customer.id}/erase").status_code == 404


def test_staff_cannot_erase_a_customer(client: Any, db: Session, runtime: Any) -> None:
    account = make_owner(db, "owner@tea.example", "owner-password-123")
    shop = Shop(
        account_id=account.id, platform="woocommerce", domain="https://tea.example", status="active"
    )
    db.add(shop)
    db.flush()
    upsert_customers(db, shop.id, [person("41", "hana@example.jp", "Hana", "Mori")])
    db.commit()
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()
    make_member(db, account, "staff@tea.example", "staff-password-123")
    assert sign_in(client, "staff@tea.example", "staff-password-123").status_code == 302

    page = client.get(f"/app/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="customer-erase"' not in page
    assert client.get(f"/app/customers/{customer.id}/erase").status_code == 404
    csrf = _csrf(page)
    refused = client.post(
        f"/app/customers/{customer.id}/erase",
        data={"confirm_email": "hana@example.jp", "csrf_token": csrf},
    )
    assert refused.status_code == 404
    db.expire_all()
    assert db.get_one(Customer, customer.id).email == "hana@example.jp"
