"""Products and collections found by name, for the segment builder's pickers.

Layer: services (reads only; the caller passes the session and the `Shop`, every query is scoped
to that shop). A product is picked by its Kizuna id and a collection by its platform id: the
values the segment rules `product_bought` and `collection_bought` store.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Product, ProductCollection, Shop

SEARCH_LIMIT = 20
MAX_QUERY = 100  # characters of a name search


@dataclass(frozen=True)
class Choice:
    value: str  # what the rule stores
    label: str  # what the merchant reads


def _pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _clean(q: str) -> str:
    return " ".join(q.split())[:MAX_QUERY]


def search_products(
    session: Session, shop: Shop, q: str, limit: int = SEARCH_LIMIT
) -> list[Choice]:
    """The shop's products whose title contains `q` (any case), by title; the first ones for ""."""
    query = select(Product.id, Product.title).where(Product.shop_id == shop.id)
    text = _clean(q)
    if text:
        query = query.where(func.lower(Product.title).like(_pattern(text.lower()), escape="\\"))
    rows = session.execute(query.order_by(Product.title, Product.id).limit(limit))
    return [Choice(str(pid), title) for pid, title in rows]


def search_collections(
    session: Session, shop: Shop, q: str, limit: int = SEARCH_LIMIT
) -> list[Choice]:
    """The shop's collections whose title contains `q` (any case), by title."""
    query = select(ProductCollection.collection_external_id, ProductCollection.title).where(
        ProductCollection.shop_id == shop.id
    )
    text = _clean(q)
    if text:
        query = query.where(
            func.lower(ProductCollection.title).like(_pattern(text.lower()), escape="\\")
        )
    rows = session.execute(
        query.group_by(ProductCollection.collection_external_id, ProductCollection.title)
        .order_by(ProductCollection.title, ProductCollection.collection_external_id)
        .limit(limit)
    )
    return [Choice(cid, title) for cid, title in rows]


def product_titles(session: Session, shop: Shop, ids: Collection[int]) -> dict[str, str]:
    """Kizuna product id (as the rule stores it, a string) → title, for the shop's products."""
    if not ids:
        return {}
    rows = session.execute(
        select(Product.id, Product.title).where(Product.shop_id == shop.id, Product.id.in_(ids))
    )
    return {str(pid): title for pid, title in rows}


def collection_titles(session: Session, shop: Shop, ids: Collection[str]) -> dict[str, str]:
    """Platform collection id → title, for the shop's collections."""
    if not ids:
        return {}
    rows = session.execute(
        select(ProductCollection.collection_external_id, ProductCollection.title)
        .where(
            ProductCollection.shop_id == shop.id,
            ProductCollection.collection_external_id.in_(ids),
        )
        .distinct()
    )
    return dict(rows.all())
