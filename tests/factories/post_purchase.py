"""The post-purchase shop, its catalogue and order history, and order webhooks.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.orchestration import POST_PURCHASE_DEFAULTS
from app.models import Customer, Order, OrderLine, Product, ProductVariant, Shop
from app.models.flow import FlowRun, FlowSetting
from app.queueing import WEBHOOKS
from app.services.upsert import refresh_customer_products
from tests.factories.shopify_webhooks import DOMAIN, deliver, make_shop

CUSTOMER = 7001


# external id → (title, handle, price in JPY)
CATALOGUE = {
    "101": ("抹茶碗", "matcha-bowl", 4800),
    "102": ("茶筅", "chasen", 2500),
    "103": ("宇治抹茶 30g", "uji-matcha", 1200),
    "104": ("茶杓", "chashaku", 900),
    "105": ("盆", "tray", 3000),
}


BOWL, WHISK, TEA, SCOOP, TRAY = CATALOGUE


def item(product: str) -> tuple[str, str, int]:
    """(title, handle, price) of a catalogue product; a product added by a test's own builder
    gets a plain title and ¥1,000."""
    return CATALOGUE.get(product) or (f"Product {product}", f"product-{product}", 1000)


def now() -> datetime:
    return datetime.now(UTC)


def setup_shop(
    db: Session, *, consent: str = "SUBSCRIBED", holdout_percent: int = 0, domain: str = DOMAIN
) -> tuple[Shop, Customer]:
    shop = make_shop(db, domain)
    shop.timezone, shop.locale, shop.currency, shop.name = "UTC", "ja", "JPY", "絆ストア"
    customer = Customer(
        shop_id=shop.id,
        external_id=str(CUSTOMER),
        email="hanako@example.jp",
        email_normalized="hanako@example.jp",
        first_name="花子",
        last_name="山田",
        locale="ja",
        email_marketing_state=consent,
    )
    db.add(customer)
    for flow_key, defaults in POST_PURCHASE_DEFAULTS.items():
        config = {**defaults, "holdout_percent": holdout_percent, "quiet_hours": None}
        db.add(FlowSetting(shop_id=shop.id, flow_key=flow_key, config=config))
    for external_id, (title, handle, price) in CATALOGUE.items():
        product = Product(
            shop_id=shop.id,
            external_id=external_id,
            title=title,
            handle=handle,
            status="active",
            image_url=f"https://cdn.example/{handle}.jpg",
        )
        db.add(product)
        db.flush()
        db.add(
            ProductVariant(
                shop_id=shop.id,
                product_id=product.id,
                external_id=f"{external_id}1",
                price=Decimal(price),
                currency="JPY",
            )
        )
    db.commit()
    return shop, customer


def add_history(
    db: Session,
    shop: Shop,
    customer_external_id: str,
    days_ago: float,
    products: list[str],
    base: datetime | None = None,
    quantity: int = 1,
) -> Order:
    """A paid order placed `days_ago` before `base` (now), written as rows (not a trigger),
    with the customer's bought products (`customer_products`) recounted as an upsert keeps
    them."""
    customer = db.scalars(
        select(Customer).where(
            Customer.shop_id == shop.id, Customer.external_id == customer_external_id
        )
    ).one_or_none()
    if customer is None:
        customer = Customer(shop_id=shop.id, external_id=customer_external_id)
        db.add(customer)
        db.flush()
    count = db.scalar(select(Order.id).order_by(Order.id.desc()).limit(1)) or 0
    placed = (base or now()) - timedelta(days=days_ago)
    order = Order(
        shop_id=shop.id,
        external_id=f"h{count + 1}",
        customer_id=customer.id,
        currency="JPY",
        total_price=Decimal(1000),
        financial_status="paid",
        processed_at=placed,
        platform_updated_at=placed,
    )
    db.add(order)
    db.flush()
    for product in products:
        db.add(
            OrderLine(
                shop_id=shop.id,
                order_id=order.id,
                external_id=f"{order.external_id}-{product}",
                product_external_id=product,
                title=item(product)[0],
                quantity=quantity,
                price=Decimal(item(product)[2]),
                currency="JPY",
            )
        )
    db.flush()
    refresh_customer_products(db, shop.id, [customer.id])
    db.commit()
    return order


def order_body(
    order_id: int,
    products: list[str],
    *,
    placed: datetime | None = None,
    updated: datetime | None = None,
    financial_status: str = "paid",
    fulfilled_at: datetime | None = None,
    cancelled: bool = False,
    quantity: int = 1,
) -> dict[str, Any]:
    placed = placed or now() - timedelta(minutes=5)
    updated = updated or placed
    total = sum(item(product)[2] * quantity for product in products)
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_id}",
        "email": "hanako@example.jp",
        "currency": "JPY",
        "total_price": str(total),
        "subtotal_price": str(total),
        "financial_status": financial_status,
        "fulfillment_status": "fulfilled" if fulfilled_at else None,
        "fulfillments": [{"id": 1, "created_at": fulfilled_at.isoformat()}] if fulfilled_at else [],
        "cancelled_at": placed.isoformat() if cancelled else None,
        "created_at": placed.isoformat(),
        "processed_at": placed.isoformat(),
        "updated_at": updated.isoformat(),
        "checkout_token": None,
        "customer": {"id": CUSTOMER, "email": "hanako@example.jp", "first_name": "花子"},
        "line_items": [
            {
                "id": order_id * 10 + index,
                "product_id": int(product),
                "variant_id": int(f"{product}1"),
                "title": item(product)[0],
                "quantity": quantity,
                "price": str(item(product)[2]),
            }
            for index, product in enumerate(products)
        ],
    }


def deliver_order(
    client: Any, drain_jobs: Any, body: dict[str, Any], topic: str = "", domain: str = DOMAIN
) -> None:
    topic = topic or "orders/create"
    webhook_id = f"wh-{topic}-{body['id']}-{body['updated_at']}"
    response = deliver(client, topic, body, webhook_id=webhook_id, domain=domain)
    assert response.status_code == 200
    drain_jobs(WEBHOOKS)


def runs(db: Session, flow_key: str) -> list[FlowRun]:
    db.expire_all()
    return list(
        db.scalars(select(FlowRun).where(FlowRun.flow_key == flow_key).order_by(FlowRun.id))
    )


def due_runs(
    db: Session,
    shop: Shop,
    flow_key: str,
    count: int,
    *,
    products: list[str] | None = None,
    first_names: tuple[str | None, ...] = ("花子", None, "Tom & <Jerry>"),
    locales: tuple[str, ...] = ("ja", "ja", "en"),
) -> list[FlowRun]:
    """`count` subscribed customers, each with a paid, fulfilled order (`products`) and a
    `flow_key` run for it whose step 1 is due now (names and languages vary by position)."""
    moment = now()
    made = []
    for n in range(count):
        external_id = f"pp-{flow_key}-{n}"
        customer = Customer(
            shop_id=shop.id,
            external_id=external_id,
            email=f"{flow_key}{n}@example.jp",
            email_normalized=f"{flow_key}{n}@example.jp",
            first_name=first_names[n % len(first_names)],
            locale=locales[n % len(locales)],
            email_marketing_state="SUBSCRIBED",
        )
        db.add(customer)
        db.flush()
        bought = products or [BOWL, TEA]
        order = add_history(db, shop, external_id, 1, bought)
        order.name = f"#{9000 + n}"
        order.fulfilled_at = moment - timedelta(days=8)
        trigger = {
            "thank_you": f"order:{order.id}",
            "review_request": f"fulfilled:{order.id}",
            "replenishment": f"replenish:{bought[-1]}:{order.id}",
        }[flow_key]
        run = FlowRun(
            shop_id=shop.id,
            flow_key=flow_key,
            customer_id=customer.id,
            trigger_key=trigger,
            status="running",
            next_step=1,
            next_step_at=moment - timedelta(seconds=5),
            started_at=moment - timedelta(hours=2),
        )
        db.add(run)
        made.append(run)
    db.commit()
    return made
