"""The precomputed history stats of a shop that the post-purchase flows read.

Layer: services, inside the caller's transaction. `save` replaces a shop's rows; reads go by
primary key, so an order costs the same at 1,000 and 1,000,000 orders of history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.domain.recommendations import ProductHistory, rank_co_purchased
from app.models import ProductPurchaseStats, ShopPurchaseStats
from app.services.upsert import dialect_insert

BEST_SELLERS_KEPT = 50
WRITE_CHUNK = 1000


def save(
    session: Session,
    shop_id: int,
    orders: int,
    histories: Mapping[str, ProductHistory],
    now: datetime,
) -> None:
    """Replace the shop's stats with `histories` over `orders` orders (the caller commits)."""
    best = sorted(histories, key=lambda product: (-histories[product].orders, product))
    values = {"orders": orders, "best_sellers": best[:BEST_SELLERS_KEPT], "refreshed_at": now}
    session.execute(
        dialect_insert(session, ShopPurchaseStats)
        .values(shop_id=shop_id, **values)
        .on_conflict_do_update(index_elements=["shop_id"], set_=values)
    )
    session.execute(delete(ProductPurchaseStats).where(ProductPurchaseStats.shop_id == shop_id))
    rows = [
        {
            "shop_id": shop_id,
            "product_external_id": product,
            "orders": history.orders,
            "rebuy_interval_seconds": (
                None
                if history.rebuy_interval is None
                else int(history.rebuy_interval.total_seconds())
            ),
            "together": [list(pair) for pair in history.together],
        }
        for product, history in sorted(histories.items())
    ]
    for start in range(0, len(rows), WRITE_CHUNK):
        session.execute(
            dialect_insert(session, ProductPurchaseStats), rows[start : start + WRITE_CHUNK]
        )


def product_histories(
    session: Session, shop_id: int, products: Collection[str]
) -> dict[str, ProductHistory]:
    """The stored history of each of `products` that has one (one indexed read)."""
    if not products:
        return {}
    rows = session.scalars(
        select(ProductPurchaseStats).where(
            ProductPurchaseStats.shop_id == shop_id,
            ProductPurchaseStats.product_external_id.in_(sorted(products)),
        )
    )
    return {
        row.product_external_id: ProductHistory(
            orders=row.orders,
            rebuy_interval=(
                None
                if row.rebuy_interval_seconds is None
                else timedelta(seconds=row.rebuy_interval_seconds)
            ),
            together=tuple((str(other), int(count)) for other, count in row.together),
        )
        for row in rows
    }


def rebuy_intervals(
    session: Session, shop_id: int, products: Collection[str]
) -> dict[str, timedelta]:
    """The re-buy interval of each consumable product among `products`."""
    return {
        product: history.rebuy_interval
        for product, history in product_histories(session, shop_id, products).items()
        if history.rebuy_interval is not None
    }


@dataclass(frozen=True)
class Candidates:
    """Cross-sell candidates for an order, best first, with the re-buy interval of each."""

    ranked: list[str]
    intervals: dict[str, timedelta]


def cross_sell_candidates(session: Session, shop_id: int, anchors: Collection[str]) -> Candidates:
    """Products bought with `anchors`, then the shop's best sellers. Several anchors add up
    their pair counts (an order holding two anchors counts twice: a close upper bound)."""
    shop = session.get(ShopPurchaseStats, shop_id)
    if shop is None:
        return Candidates([], {})
    wanted = set(anchors)
    anchored_histories = product_histories(session, shop_id, wanted)
    together: Counter[str] = Counter()
    for history in anchored_histories.values():
        together.update({other: count for other, count in history.together if other not in wanted})
    best = [str(product) for product in shop.best_sellers]
    histories = product_histories(session, shop_id, set(together) | set(best))
    anchored = sum(history.orders for history in anchored_histories.values())
    orders_with = {product: history.orders for product, history in histories.items()}
    ranked = rank_co_purchased(together, anchored, orders_with, shop.orders)
    intervals = {
        product: history.rebuy_interval
        for product, history in histories.items()
        if history.rebuy_interval is not None
    }
    return Candidates([*ranked, *best], intervals)
