"""The one recommendation path: products to offer each customer, for every email that shows
recommendations (the thank-you, campaign product grids, browse emails).

Layer: services, inside the caller's transaction, read-only. `recommend` takes a batch of
requests (a customer and the products they just bought or viewed) and answers each from the
shop's precomputed cross-sells (`purchase_stats`), what each customer owns (`customer_products`)
and the durable-goods rule (`domain.durable_goods`), in a fixed number of queries whatever the
batch size. The decision itself is `domain.recommendations.choose`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.domain.durable_goods import (
    BY_COLLECTION,
    BY_PRODUCT_TYPE,
    DURABLE,
    DurableRule,
    RebuyCounts,
    effective_kind,
    group_key,
    groups_of_product,
)
from app.domain.recommendations import choose, rank_with_views
from app.models import CustomerProduct, Product, ProductCollection
from app.models.recommendation_settings import ProductGroup
from app.services import purchase_stats, recommendation_settings, storefront_views

K = TypeVar("K")

# Available products: Shopify's `active`, WooCommerce's `publish` (unknown counts as available).
AVAILABLE_STATUSES = ("active", "publish")
LIMIT = 3
_CHUNK = 500


@dataclass(frozen=True)
class Request:
    """Recommendations for `customer_id` (None: nobody known, nothing owned), after `anchors`
    (an order's products, viewed products; none: the shop's best sellers)."""

    customer_id: int | None
    anchors: tuple[str, ...] = ()


def _chunks(values: Collection[str]) -> list[list[str]]:
    ordered = sorted(values)
    return [ordered[start : start + _CHUNK] for start in range(0, len(ordered), _CHUNK)]


def product_groups(
    session: Session, shop_id: int, products: Collection[str], grouping: str
) -> dict[str, tuple[str, ...]]:
    """Each of the shop's `products` (external ids) → its group keys (`groups_of_product`)."""
    types: dict[str, str | None] = {}
    collections: dict[str, list[str]] = {}
    for chunk in _chunks(products):
        for external_id, product_type in session.execute(
            select(Product.external_id, Product.product_type).where(
                Product.shop_id == shop_id, Product.external_id.in_(chunk)
            )
        ):
            types[external_id] = product_type
        if grouping == BY_COLLECTION:
            for external_id, collection in session.execute(
                select(Product.external_id, ProductCollection.collection_external_id)
                .join(
                    ProductCollection,
                    (ProductCollection.product_id == Product.id)
                    & (ProductCollection.shop_id == shop_id),
                )
                .where(Product.shop_id == shop_id, Product.external_id.in_(chunk))
            ):
                collections.setdefault(external_id, []).append(collection)
    return {
        product: groups_of_product(collections.get(product, ()), product_type, grouping)
        for product, product_type in types.items()
    }


def durable_groups(session: Session, shop_id: int, keys: Collection[str]) -> frozenset[str]:
    """The durable ones among group `keys` (`group_key` form): the merchant's mark, else the
    default from the stored re-buy counts."""
    wanted: dict[str, set[str]] = {}
    for key in keys:
        prefix, _, name = key.partition(":")
        wanted.setdefault(BY_PRODUCT_TYPE if prefix == "type" else BY_COLLECTION, set()).add(name)
    durable: set[str] = set()
    for grouping, names in wanted.items():
        for chunk in _chunks(names):
            for row in session.scalars(
                select(ProductGroup).where(
                    ProductGroup.shop_id == shop_id,
                    ProductGroup.grouping == grouping,
                    ProductGroup.group_key.in_(chunk),
                )
            ):
                counts = RebuyCounts(row.buyers, row.repeat_buyers)
                if effective_kind(row.kind, counts) == DURABLE:
                    durable.add(group_key(grouping, row.group_key))
    return frozenset(durable)


def durable_rule(
    session: Session, shop_id: int, products: Collection[str], hold: timedelta, grouping: str
) -> DurableRule:
    """The durable-goods rule over `products` (candidates and what customers bought)."""
    groups = product_groups(session, shop_id, products, grouping)
    every_group = {group for keys in groups.values() for group in keys}
    return DurableRule(groups, durable_groups(session, shop_id, every_group), hold)


def _owned(
    session: Session,
    shop_id: int,
    customers: Collection[int],
    candidates: Collection[str],
    since: datetime,
    now: datetime,
) -> dict[int, dict[str, datetime]]:
    """Customer → product → latest purchase: the candidates they bought (ever) and every
    product they bought since `since` (what a durable hold may come from)."""
    owned: dict[int, dict[str, datetime]] = {}
    if not customers:
        return owned
    bought_candidate = (
        CustomerProduct.product_external_id.in_(sorted(candidates)) if candidates else None
    )
    recent = CustomerProduct.last_ordered_at >= since
    condition = recent if bought_candidate is None else or_(bought_candidate, recent)
    for customer_id, product, at in session.execute(
        select(
            CustomerProduct.customer_id,
            CustomerProduct.product_external_id,
            CustomerProduct.last_ordered_at,
        ).where(
            CustomerProduct.shop_id == shop_id,
            CustomerProduct.customer_id.in_(sorted(customers)),
            condition,
        )
    ):
        owned.setdefault(int(customer_id), {})[str(product)] = at or now
    return owned


def on_sale(session: Session, shop_id: int, products: Collection[str]) -> set[str]:
    """The ones among `products` that are on sale (unknown status counts as on sale)."""
    found: set[str] = set()
    for chunk in _chunks(products):
        found.update(
            session.scalars(
                select(Product.external_id).where(
                    Product.shop_id == shop_id,
                    Product.external_id.in_(chunk),
                    or_(Product.status.is_(None), Product.status.in_(AVAILABLE_STATUSES)),
                )
            )
        )
    return found


def recommend(
    session: Session,
    shop_id: int,
    requests: Mapping[K, Request],
    now: datetime,
    *,
    limit: int = LIMIT,
) -> dict[K, list[str]]:
    """Up to `limit` products (external ids, best first) for each request: products the
    customer viewed recently on the storefront, then products bought with its anchors, then the
    shop's best sellers; on sale; never an anchor; an owned product
    only when consumable and due again; no item of a durable group the customer bought from
    within the shop's hold. The same batch always gives the same answer."""
    if not requests:
        return {}
    settings = recommendation_settings.load(session, shop_id)
    hold = timedelta(days=settings.durable_hold_days)
    found = purchase_stats.cross_sells(
        session, shop_id, {key: request.anchors for key, request in requests.items()}
    )
    customers = {r.customer_id for r in requests.values() if r.customer_id is not None}
    viewed = storefront_views.recent_views(session, shop_id, customers, now)
    ranked = {product for candidates in found.values() for product in candidates.ranked}
    ranked |= {product for products in viewed.values() for product in products}
    owned = _owned(session, shop_id, customers, ranked, now - hold, now)
    bought = {product for products in owned.values() for product in products}
    rule = durable_rule(session, shop_id, ranked | bought, hold, settings.grouping)
    available = on_sale(session, shop_id, ranked)
    answers: dict[K, list[str]] = {}
    for key, request in requests.items():
        candidates = found.get(key)
        seen = viewed.get(request.customer_id, []) if request.customer_id is not None else []
        if candidates is None or not (candidates.ranked or seen):
            answers[key] = []
            continue
        answers[key] = choose(
            request.anchors,
            rank_with_views(candidates.ranked, seen),
            owned.get(request.customer_id, {}) if request.customer_id is not None else {},
            now,
            intervals=candidates.intervals,
            available=available,
            limit=limit,
            durables=rule,
        )
    return answers


def recommend_one(
    session: Session, shop_id: int, request: Request, now: datetime, *, limit: int = LIMIT
) -> list[str]:
    """`recommend` for a batch of one."""
    return recommend(session, shop_id, {0: request}, now, limit=limit)[0]
