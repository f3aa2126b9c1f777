"""Recommended products per campaign recipient, for a batch at once.

Layer: campaigns (reads only). Each recipient's anchors are the products they bought
(`customer_products`); the products come from the one recommendation path
(`services/recommendations.recommend`: cross-sells and best sellers, nothing they own unless it
is a consumable due again, nothing of a durable group they bought from within the hold). A fixed
number of reads per batch.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows.post_purchase import cards, load_products
from app.models import CustomerProduct, Shop
from app.services.recommendations import Request, recommend

# The most recent purchases a recipient's recommendations start from.
ANCHORS = 5


def recommended_ids(
    session: Session, shop: Shop, customer_ids: Collection[int], count: int, now: datetime
) -> dict[int, list[str]]:
    """customer id → up to `count` product external ids, best first."""
    if not customer_ids or count <= 0:
        return {}
    owned: dict[int, dict[str, datetime]] = {}
    for customer_id, product, at in session.execute(
        select(
            CustomerProduct.customer_id,
            CustomerProduct.product_external_id,
            CustomerProduct.last_ordered_at,
        ).where(
            CustomerProduct.shop_id == shop.id,
            CustomerProduct.customer_id.in_(sorted(customer_ids)),
        )
    ):
        owned.setdefault(int(customer_id), {})[str(product)] = at or now
    anchors = {
        customer_id: [
            product
            for product, _at in sorted(
                owned.get(customer_id, {}).items(), key=lambda item: item[1], reverse=True
            )[:ANCHORS]
        ]
        for customer_id in customer_ids
    }
    requests = {
        customer_id: Request(customer_id, tuple(anchors[customer_id]))
        for customer_id in customer_ids
    }
    return recommend(session, shop.id, requests, now, limit=count)


def recommended_cards(
    session: Session,
    shop: Shop,
    customer_ids: Collection[int],
    count: int,
    lang: str,
    now: datetime | None = None,
) -> dict[int, list[dict[str, Any]]]:
    """customer id → the cards (title, image, price, link) of their recommended products."""
    chosen = recommended_ids(session, shop, customer_ids, count, now or utcnow())
    wanted = {product for ids in chosen.values() for product in ids}
    products = load_products(session, shop.id, wanted)
    made: dict[str, list[dict[str, Any]]] = {}
    found: dict[int, list[dict[str, Any]]] = {}
    for customer_id, ids in chosen.items():
        shown: list[dict[str, Any]] = []
        for product in ids:
            if product not in made:
                made[product] = cards(shop, products, [product], lang)
            shown.extend(made[product])
        found[customer_id] = shown
    return found
