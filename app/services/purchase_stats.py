"""The precomputed history of a shop that the post-purchase flows read, and the per-customer
aggregates an order changes.

Layer: services, inside the caller's transaction. `save` replaces a shop's rows (the daily job);
`record_orders` keeps each customer's totals and bought products (`customer_products`) current
between those runs from a batch of order changes alone, by counting: an order costs the same at
1,000 and 1,000,000 orders of history. Reads go by primary key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from app.db import Money, UTCDateTime
from app.domain.recommendations import ProductHistory, rank_co_purchased
from app.models import (
    Customer,
    CustomerProduct,
    Order,
    OrderLine,
    ProductPurchaseStats,
    ShopPurchaseStats,
)

# A module reference: `upsert` calls `record_orders` in turn.
from app.services import upsert

BEST_SELLERS_KEPT = 50
K = TypeVar("K")
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
        upsert.dialect_insert(session, ShopPurchaseStats)
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
            upsert.dialect_insert(session, ProductPurchaseStats), rows[start : start + WRITE_CHUNK]
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


def cross_sells(
    session: Session, shop_id: int, anchors: Mapping[K, Collection[str]]
) -> dict[K, Candidates]:
    """For each key's anchors (an order's products): products bought with them, then the
    shop's best sellers, in three indexed reads for the whole batch. Several anchors add up
    their pair counts (an order holding two anchors counts twice: a close upper bound)."""
    shop = session.get(ShopPurchaseStats, shop_id)
    if shop is None or not anchors:
        return {key: Candidates([], {}) for key in anchors}
    every_anchor = {product for products in anchors.values() for product in products}
    anchored_histories = product_histories(session, shop_id, every_anchor)
    best = [str(product) for product in shop.best_sellers]
    together_by_key: dict[K, Counter[str]] = {}
    for key, products in anchors.items():
        wanted = set(products)
        together: Counter[str] = Counter()
        for product in wanted:
            history = anchored_histories.get(product)
            if history is not None:
                together.update(
                    {other: count for other, count in history.together if other not in wanted}
                )
        together_by_key[key] = together
    candidates = {p for together in together_by_key.values() for p in together} | set(best)
    histories = product_histories(session, shop_id, candidates)
    orders_with = {product: history.orders for product, history in histories.items()}
    intervals = {
        product: history.rebuy_interval
        for product, history in histories.items()
        if history.rebuy_interval is not None
    }
    found: dict[K, Candidates] = {}
    for key, products in anchors.items():
        anchored = sum(
            history.orders
            for product in set(products)
            if (history := anchored_histories.get(product)) is not None
        )
        ranked = rank_co_purchased(together_by_key[key], anchored, orders_with, shop.orders)
        found[key] = Candidates([*ranked, *best], intervals)
    return found


def cross_sell_candidates(session: Session, shop_id: int, anchors: Collection[str]) -> Candidates:
    """`cross_sells` for one order's anchors."""
    return cross_sells(session, shop_id, {0: anchors})[0]


# --- per-customer aggregates, kept by counting -----------------------------------------------

_CHUNK = 500


@dataclass(frozen=True)
class OrderState:
    """What one stored order adds to its customer's aggregates: one to `orders_count`, its
    total to `total_spent` unless cancelled, its time to first/last order, and (not cancelled)
    one order to each of its products in `customer_products`."""

    customer_id: int | None
    placed_at: datetime | None
    total: Decimal
    cancelled: bool
    products: frozenset[str] = field(default_factory=frozenset)

    @property
    def spent(self) -> Decimal:
        return Decimal(0) if self.cancelled else self.total

    @property
    def owned(self) -> frozenset[str]:
        return frozenset() if self.cancelled or self.customer_id is None else self.products


@dataclass(frozen=True)
class OrderChange:
    """An order as it was before a write (None: it is new) and as it is now."""

    before: OrderState | None
    after: OrderState


def order_states(
    session: Session, shop_id: int, order_ids: Collection[int]
) -> dict[int, OrderState]:
    """The stored state of each of the shop's orders `order_ids` (their rows and lines only)."""
    ids = sorted(set(order_ids))
    placed = func.coalesce(Order.processed_at, Order.platform_created_at, Order.created_at)
    rows: dict[int, tuple[int | None, datetime | None, Decimal, bool]] = {}
    products: dict[int, set[str]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for order_id, customer_id, at, total, cancelled_at in session.execute(
            select(
                Order.id, Order.customer_id, placed, Order.total_price, Order.cancelled_at
            ).where(Order.shop_id == shop_id, Order.id.in_(chunk))
        ):
            rows[order_id] = (customer_id, at, Decimal(total or 0), cancelled_at is not None)
        for order_id, product in session.execute(
            select(OrderLine.order_id, OrderLine.product_external_id).where(
                OrderLine.shop_id == shop_id,
                OrderLine.order_id.in_(chunk),
                OrderLine.product_external_id.is_not(None),
            )
        ):
            products.setdefault(order_id, set()).add(str(product))
    return {
        order_id: OrderState(
            customer_id, at, total, cancelled, frozenset(products.get(order_id, ()))
        )
        for order_id, (customer_id, at, total, cancelled) in rows.items()
    }


@dataclass
class _CustomerDelta:
    orders: int = 0
    spent: Decimal = Decimal(0)
    first: datetime | None = None
    last: datetime | None = None

    def placed(self, at: datetime | None) -> None:
        if at is None:
            return
        self.first = at if self.first is None else min(self.first, at)
        self.last = at if self.last is None else max(self.last, at)


def record_orders(session: Session, shop_id: int, changes: Iterable[OrderChange]) -> None:
    """Apply what a batch of order writes changed to the customers' totals and bought products,
    set-wise and without reading their history: a new order adds itself, an edit adds the
    difference (its total, cancellation, lines). An order that moved to another customer or
    to another time, or took a product away, recomputes just the customers or (customer,
    product) rows concerned from their orders. Safe to call once per write; the caller holds
    the orders' rows (the upserts lock them)."""
    recompute: set[int] = set()
    customers: dict[int, _CustomerDelta] = {}
    pairs: Counter[tuple[int, str]] = Counter()
    latest: dict[tuple[int, str], datetime | None] = {}
    for change in changes:
        before, after = change.before, change.after
        if before is not None and (
            before.customer_id != after.customer_id or before.placed_at != after.placed_at
        ):
            recompute.update(c for c in (before.customer_id, after.customer_id) if c is not None)
            continue
        if after.customer_id is None:
            continue
        delta = customers.setdefault(after.customer_id, _CustomerDelta())
        if before is None:
            delta.orders += 1
            delta.placed(after.placed_at)
        delta.spent += after.spent - (before.spent if before is not None else Decimal(0))
        for product in before.owned if before is not None else ():
            pairs[(after.customer_id, product)] -= 1
        for product in after.owned:
            key = (after.customer_id, product)
            pairs[key] += 1
            known = latest.get(key)
            if after.placed_at is not None and (known is None or after.placed_at > known):
                latest[key] = after.placed_at
    added = [
        (customer_id, product, count)
        for (customer_id, product), count in sorted(pairs.items())
        if count > 0 and customer_id not in recompute
    ]
    taken = [
        (customer_id, product)
        for (customer_id, product), count in sorted(pairs.items())
        if count < 0 and customer_id not in recompute
    ]
    _add_customer_products(session, shop_id, added, latest)
    _recount_customer_products(session, shop_id, taken)
    _add_to_totals(
        session,
        shop_id,
        {cid: delta for cid, delta in sorted(customers.items()) if cid not in recompute},
    )
    if recompute:
        upsert.refresh_customer_totals(session, shop_id, recompute)


def _add_customer_products(
    session: Session,
    shop_id: int,
    added: Sequence[tuple[int, str, int]],
    latest: Mapping[tuple[int, str], datetime | None],
) -> None:
    if not added:
        return
    table = upsert.table_of(CustomerProduct)
    statement = upsert.dialect_insert(session, CustomerProduct)
    incoming = statement.excluded.last_ordered_at
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "product_external_id", "customer_id"],
        set_={
            "orders": table.c.orders + statement.excluded.orders,
            "last_ordered_at": case(
                (incoming > table.c.last_ordered_at, incoming),
                else_=func.coalesce(table.c.last_ordered_at, incoming),
            ),
        },
    )
    rows = [
        {
            "shop_id": shop_id,
            "product_external_id": product,
            "customer_id": customer_id,
            "orders": count,
            "last_ordered_at": latest.get((customer_id, product)),
        }
        for customer_id, product, count in added
    ]
    for start in range(0, len(rows), _CHUNK):
        session.execute(statement, rows[start : start + _CHUNK])


def _recount_customer_products(
    session: Session, shop_id: int, pairs: Sequence[tuple[int, str]]
) -> None:
    """(customer, product) rows an order stopped contributing to, counted again from the
    customer's orders of that product."""
    placed = func.coalesce(Order.processed_at, Order.platform_created_at, Order.created_at)
    for start in range(0, len(pairs), _CHUNK):
        chunk = list(pairs[start : start + _CHUNK])
        session.execute(
            delete(CustomerProduct).where(
                CustomerProduct.shop_id == shop_id,
                tuple_(CustomerProduct.customer_id, CustomerProduct.product_external_id).in_(chunk),
            )
        )
        counted = (
            select(
                Order.shop_id,
                OrderLine.product_external_id,
                Order.customer_id,
                func.count(func.distinct(Order.id)),
                func.max(placed),
            )
            .join(OrderLine, and_(OrderLine.order_id == Order.id, OrderLine.shop_id == shop_id))
            .where(
                Order.shop_id == shop_id,
                Order.customer_id.in_({customer_id for customer_id, _product in chunk}),
                Order.cancelled_at.is_(None),
                tuple_(Order.customer_id, OrderLine.product_external_id).in_(chunk),
            )
            .group_by(Order.shop_id, OrderLine.product_external_id, Order.customer_id)
        )
        session.execute(
            insert(CustomerProduct).from_select(
                ["shop_id", "product_external_id", "customer_id", "orders", "last_ordered_at"],
                counted,
            )
        )


def _add_to_totals(session: Session, shop_id: int, deltas: Mapping[int, _CustomerDelta]) -> None:
    if not deltas:
        return
    table = upsert.table_of(Customer)
    first = bindparam("first", type_=UTCDateTime)
    last = bindparam("last", type_=UTCDateTime)
    statement = (
        update(table)
        .where(table.c.id == bindparam("customer_id"), table.c.shop_id == shop_id)
        .values(
            orders_count=table.c.orders_count + bindparam("orders"),
            total_spent=table.c.total_spent + bindparam("spent", type_=Money),
            first_order_at=case(
                (
                    or_(table.c.first_order_at.is_(None), table.c.first_order_at > first),
                    func.coalesce(first, table.c.first_order_at),
                ),
                else_=table.c.first_order_at,
            ),
            last_order_at=case(
                (
                    or_(table.c.last_order_at.is_(None), table.c.last_order_at < last),
                    func.coalesce(last, table.c.last_order_at),
                ),
                else_=table.c.last_order_at,
            ),
        )
    )
    rows = [
        {
            "customer_id": customer_id,
            "orders": delta.orders,
            "spent": delta.spent,
            "first": delta.first,
            "last": delta.last,
        }
        for customer_id, delta in deltas.items()
    ]
    session.execute(statement, rows)
