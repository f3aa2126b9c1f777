"""An appliance shelf for the post-purchase shop: two microwaves in one collection, a rice
cooker, coffee filters and a detergent with no collection, and histories that make the
microwaves durable and the filters consumable from the data.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from app.models import Product, ProductCollection, ProductVariant, Shop
from tests.factories.post_purchase import add_history

OVEN, MINI, RICE, FILTER, SOAP = "201", "202", "203", "204", "205"
MICROWAVES, RICE_COOKERS, FILTERS = "9001", "9002", "9003"

# external id → (title, handle, price, collection (external id, title) or None, product type)
APPLIANCES = {
    OVEN: ("オーブンレンジ ER-1", "oven-er1", 39800, (MICROWAVES, "電子レンジ"), "家電"),
    MINI: ("単機能レンジ MW-2", "mini-mw2", 12800, (MICROWAVES, "電子レンジ"), "家電"),
    RICE: ("炊飯器 RC-3", "rice-rc3", 24800, (RICE_COOKERS, "炊飯器"), "家電"),
    FILTER: ("コーヒーフィルター 100枚", "filter-100", 400, (FILTERS, "フィルター"), "消耗品"),
    SOAP: ("食器用洗剤 500ml", "soap-500", 300, None, "洗剤"),
}


def add_appliances(db: Session, shop: Shop) -> dict[str, Product]:
    """The shelf's products (on sale, with a variant and their collection)."""
    made = {}
    for external_id, (title, handle, price, collection, kind) in APPLIANCES.items():
        product = Product(
            shop_id=shop.id,
            external_id=external_id,
            title=title,
            handle=handle,
            status="active",
            product_type=kind,
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
        if collection is not None:
            db.add(
                ProductCollection(
                    shop_id=shop.id,
                    product_id=product.id,
                    collection_external_id=collection[0],
                    title=collection[1],
                    handle=handle,
                )
            )
        made[external_id] = product
    db.commit()
    return made


def appliance_history(db: Session, shop: Shop) -> None:
    """Twenty customers bought a microwave (`a1`… `a10` the oven, `a11`… `a20` the small one,
    the best seller); only `a1` bought another one later: 1 of 20 = 5 %, durable by default.
    Four bought filters every 30 days (the product is consumable; the collection's 4 buyers are
    too few for a default). Two bought the rice cooker."""
    for n in range(1, 21):
        add_history(db, shop, f"a{n}", 100 + n, [OVEN if n <= 10 else MINI])
    add_history(db, shop, "a1", 10, [MINI])
    for n in range(1, 5):
        for days in (95, 65, 35):
            add_history(db, shop, f"a{n}", days, [FILTER])
    add_history(db, shop, "a5", 50, [RICE])
    add_history(db, shop, "a6", 52, [RICE])
