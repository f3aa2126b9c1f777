"""The welcome series' and the birthday flow's shop, Shopify customer and order webhooks, and
their runs and messages.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Customer, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from tests.factories.shopify_webhooks import deliver, make_shop, sample_body

QUIET_FREE = {"holdout_percent": 0, "quiet_hours": None}


def flow_shop(db: Session, **flows: dict[str, Any]) -> Shop:
    """A Japanese Shopify shop with these flows' settings (holdout and quiet hours off)."""
    shop = make_shop(db)
    shop.name, shop.locale, shop.currency, shop.timezone = "絆ストア", "ja", "JPY", "Asia/Tokyo"
    for key, config in flows.items():
        db.add(FlowSetting(shop_id=shop.id, flow_key=key, enabled=True, config=config))
    db.commit()
    return shop


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def customer_body(
    customer_id: int,
    email: str,
    *,
    state: str | None = "subscribed",
    consent_at: datetime | None = None,
    first_name: str = "花子",
    last_name: str = "森",
) -> dict[str, Any]:
    """A customers/create body with its email marketing consent (as older API versions and
    the simulated store send it)."""
    body = copy.deepcopy(sample_body("customers.create.json"))
    now = datetime.now(UTC)
    body.update(
        id=customer_id,
        email=email,
        first_name=first_name,
        last_name=last_name,
        locale="ja",
        created_at=iso(now - timedelta(minutes=5)),
        updated_at=iso(now - timedelta(minutes=5)),
        admin_graphql_api_id=f"gid://shopify/Customer/{customer_id}",
    )
    if state is not None:
        body["email_marketing_consent"] = {
            "state": state,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": iso(consent_at or now - timedelta(minutes=5)),
        }
    return body


def order_body(order_id: int, customer_id: int, email: str, placed: datetime) -> dict[str, Any]:
    """A paid orders/create body of this customer, placed at `placed`."""
    body = copy.deepcopy(sample_body("orders.create.json"))
    body.update(
        id=order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        name=f"#{order_id}",
        email=email,
        created_at=iso(placed),
        processed_at=iso(placed),
        updated_at=iso(placed),
        financial_status="paid",
        cancelled_at=None,
        checkout_token=None,
        customer={"id": customer_id, "email": email, "first_name": "花子", "last_name": "森"},
    )
    return body


def deliver_customer(client: Any, body: dict[str, Any], topic: str = "customers/create") -> None:
    response = deliver(client, topic, body, webhook_id=f"wh-{topic}-{body['id']}")
    assert response.status_code == 200


def deliver_order(client: Any, body: dict[str, Any]) -> None:
    response = deliver(client, "orders/create", body, webhook_id=f"wh-order-{body['id']}")
    assert response.status_code == 200


def flow_runs(db: Session, flow_key: str) -> list[FlowRun]:
    db.expire_all()
    return list(
        db.scalars(select(FlowRun).where(FlowRun.flow_key == flow_key).order_by(FlowRun.id))
    )


def flow_messages(db: Session, flow_key: str) -> list[Message]:
    db.expire_all()
    return list(
        db.scalars(
            select(Message)
            .join(FlowRun, FlowRun.id == Message.flow_run_id)
            .where(FlowRun.flow_key == flow_key)
            .order_by(Message.id)
        )
    )


def stored_customer(db: Session, shop: Shop, external_id: int | str) -> Customer:
    db.expire_all()
    return db.scalars(
        select(Customer).where(
            Customer.shop_id == shop.id, Customer.external_id == str(external_id)
        )
    ).one()
