"""Two fully populated tenants for the shop-isolation and hostile-input tests.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jwt
from sqlalchemy import MetaData, Table, select
from sqlalchemy.orm import Session

from app import passwords
from app.models import (
    Account,
    AccountMember,
    Campaign,
    Checkout,
    Customer,
    FlowRun,
    FlowSetting,
    Inquiry,
    Message,
    Order,
    OrderLine,
    Product,
    Shop,
    Suppression,
    TimelineEvent,
)
from app.models.product import ProductCollection
from app.services import segments
from app.services.scoring import score_shop
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET

NOW = datetime.now(UTC)


PASSWORD = "isolation test password"


# Merchant-facing routes of other blueprints (session cookie required).
MERCHANT_ENDPOINTS = frozenset(
    {
        "auth.change_password",
        "auth.connect_shopify",
        "auth.connect_woocommerce",
        "auth.woocommerce_done",
    }
)


# Path argument → the table whose row of the target shop it names. New tenant objects in routes
# need a line here and a row in `populate` (for both shops).
ID_TABLES = {
    "customer_id": "customers",
    "inquiry_id": "inquiries",
    "message_id": "messages",
    "order_id": "orders",
    "checkout_id": "checkouts",
    "flow_run_id": "flow_runs",
    "run_id": "flow_runs",
    "product_id": "products",
    "segment_id": "saved_segments",
    "snapshot_id": "rfm_snapshots",
    "event_id": "webhook_events",
    "shop_id": "shops",
    "member_id": "account_members",
    "campaign_id": "campaigns",
}


# Path arguments that are not tenant ids: the same value is used for both shops.
PLAIN_ARGUMENTS = {"key": "cart", "flow_key": "cart"}


# Matches every customer of the shop it runs in: any row of another shop in its answers is a leak.
EVERYONE = {"match": "all", "rules": [{"field": "orders_count", "op": "gte", "value": "0"}]}


@dataclass
class Tenant:
    account_id: int
    email: str
    shop_id: int
    domain: str
    ids: dict[str, int] = field(default_factory=dict)  # table → one row id
    secrets: tuple[str, ...] = ()  # strings only this tenant's data contains


def populate(db: Session, tag: str, person: str) -> Tenant:
    """An account with a password and one Shopify shop holding a little of every kind of data."""
    account = Account(
        name=f"{person} Holdings",
        email=f"owner@{tag}.example",
        password_hash=passwords.hash_password(PASSWORD),
    )
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id,
        platform="shopify",
        domain=f"{tag}.myshopify.com",
        name=f"{person} Store",
        status="active",
        install_method="managed",
        scopes="read_customers,write_customers,read_orders,read_products",
        installed_at=NOW - timedelta(days=30),
        timezone="Asia/Tokyo",
        currency="JPY",
        locale="en",
        webhooks_subscribed=5,
        sync_state={"status": "done", "done": {"customers": 3}},
    )
    db.add(shop)
    db.flush()
    customers = []
    for n in range(3):
        customer = Customer(
            shop_id=shop.id,
            external_id=f"{tag}-c{n}",
            first_name=f"{person}first{n}",
            last_name=f"{person}last{n}",
            email=f"{person.lower()}{n}@{tag}.example",
            email_marketing_state="SUBSCRIBED",
            currency="JPY",
            orders_count=2,
            total_spent=Decimal(6000),
        )
        customer.email_normalized = customer.email.lower() if customer.email else None
        db.add(customer)
        db.flush()
        customers.append(customer)
        for k in range(2):
            order = Order(
                shop_id=shop.id,
                external_id=f"{tag}-o{n}-{k}",
                customer_id=customer.id,
                name=f"#{person}{n}{k}",
                email=customer.email,
                billing_name=f"{person}billing{n}",
                currency="JPY",
                financial_status="paid",
                total_price=Decimal(3000),
                processed_at=NOW - timedelta(days=40 + 90 * k + n),
            )
            order.lines.append(
                OrderLine(
                    shop_id=shop.id,
                    external_id=f"{order.external_id}-l",
                    title=f"{person}product",
                    quantity=1,
                    price=Decimal(3000),
                    currency="JPY",
                )
            )
            db.add(order)
            db.flush()
            db.add(
                TimelineEvent(
                    shop_id=shop.id,
                    customer_id=customer.id,
                    kind="order_placed",
                    source_key=order.external_id,
                    occurred_at=order.processed_at,
                    detail={"name": order.name, "total_price": "3000", "currency": "JPY"},
                )
            )
    first = customers[0]
    checkout = Checkout(
        shop_id=shop.id,
        external_id=f"{tag}-tok",
        customer_id=first.id,
        email=first.email,
        currency="JPY",
        total_price=Decimal(2400),
        recovery_url=f"https://{tag}.example/recover",
        line_items=[{"title": f"{person}product", "quantity": 1}],
    )
    inquiry = Inquiry(
        shop_id=shop.id,
        customer_id=first.id,
        channel="email",
        kind="question",
        subject=f"{person} inquiry subject",
        notes=f"{person} inquiry notes",
        account_id=account.id,
    )
    setting = FlowSetting(
        shop_id=shop.id, flow_key="cart", enabled=True, config={"holdout_percent": 10}
    )
    run = FlowRun(
        shop_id=shop.id,
        flow_key="cart",
        customer_id=first.id,
        trigger_key=checkout.external_id,
        status="running",
        next_step=2,
    )
    db.add_all([checkout, inquiry, setting, run])
    db.flush()
    message = Message(
        shop_id=shop.id,
        flow_run_id=run.id,
        step=1,
        customer_id=first.id,
        status="sent",
        subject=f"{person} message subject",
        sent_at=NOW - timedelta(hours=3),
    )
    suppression = Suppression(
        shop_id=shop.id, email_normalized=customers[2].email_normalized or "", reason="bounce"
    )
    catalogue = Product(shop_id=shop.id, external_id=f"{tag}-p", title=f"{person}product")
    db.add_all([message, suppression, catalogue])
    db.flush()
    db.add(
        ProductCollection(
            shop_id=shop.id,
            product_id=catalogue.id,
            collection_external_id="1",
            title=f"{person} collection",
        )
    )
    member = AccountMember(
        account_id=account.id, email=f"{person}.staff@{tag}.example".lower(), role="staff"
    )
    db.add(member)
    saved = segments.save_segment(db, shop.id, f"{person} everyone", EVERYONE)
    assert saved.segment is not None, saved.problems
    campaign = Campaign(
        shop_id=shop.id,
        name=f"{person} campaign",
        status="draft",
        audience={"segments": [saved.segment.id], "rfm_groups": []},
        content={
            "coupon": None,
            "en": {"subject": f"{person} campaign subject", "preheader": "", "blocks": []},
            "ja": {"subject": "", "preheader": "", "blocks": []},
        },
        holdout_percent=0,
    )
    db.add(campaign)
    db.commit()
    score_shop(db, shop.id)
    secrets = (
        account.name,
        account.email or "",
        shop.name or "",
        shop.domain,
        inquiry.subject,
        inquiry.notes,
        message.subject or "",
        campaign.name,
        f"{person} campaign subject",
        f"{person}product",
        f"{person}billing",
        f"{person} collection",
        *(c.first_name or "" for c in customers),
        *(c.last_name or "" for c in customers),
        *(c.email or "" for c in customers),
    )
    return Tenant(
        account_id=account.id,
        email=account.email or "",
        shop_id=shop.id,
        domain=shop.domain,
        ids={
            "customers": first.id,
            "orders": _first_id(db, Order, shop.id),
            "checkouts": checkout.id,
            "inquiries": inquiry.id,
            "flow_runs": run.id,
            "messages": message.id,
            "saved_segments": saved.segment.id,
            "shops": shop.id,
            "account_members": member.id,
            "campaigns": campaign.id,
        },
        secrets=secrets,
    )


def _first_id(db: Session, model: Any, shop_id: int) -> int:
    found = db.scalars(select(model.id).where(model.shop_id == shop_id).order_by(model.id)).first()
    assert isinstance(found, int)
    return found


def add_generic_ids(tenant: Tenant, engine: Any) -> None:
    """Ids of the other tables a route may name (rows made by scoring or by newer features)."""
    tables = _reflect(engine)
    with engine.connect() as connection:
        for table_name in set(ID_TABLES.values()) - tenant.ids.keys():
            table = tables.get(table_name)
            if table is None or "shop_id" not in table.c:
                continue
            found = connection.execute(
                select(table.c.id).where(table.c.shop_id == tenant.shop_id).order_by(table.c.id)
            ).first()
            if found is not None:
                tenant.ids[table_name] = found[0]


_REFLECTED: dict[str, Table] = {}


def _reflect(engine: Any) -> dict[str, Table]:
    """The migrated schema as the database has it (dependency order), newer features included."""
    if not _REFLECTED:
        metadata = MetaData()
        metadata.reflect(engine)
        _REFLECTED.update((table.name, table) for table in metadata.sorted_tables)
    return _REFLECTED


def password_login(client: Any, email: str) -> str:
    """Sign in through the login form; the new session's CSRF token."""
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": found.group(1)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with client.session_transaction() as session:
        token = session["csrf_token"]
    assert isinstance(token, str)
    return token


def session_token(domain: str) -> str:
    """A session token for `domain`, signed as App Bridge's would be."""
    now = int(time.time())
    claims = {
        "iss": f"https://{domain}/admin",
        "dest": f"https://{domain}",
        "aud": SHOPIFY_API_KEY,
        "sub": "42",
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": "isolation",
    }
    return jwt.encode(claims, SHOPIFY_API_SECRET, algorithm="HS256")
