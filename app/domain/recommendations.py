"""Cross-sell recommendations and re-order timing, from a shop's order history.

Layer: domain (pure: callers pass `now` and the purchases). Never a product the customer owns
unless it is consumable and due again, never one of the order itself, never an item of a
durable group the customer bought from within its hold (`durable_goods.DurableRule`); ties
broken by product id, so the same history always gives the same list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.domain.durable_goods import DurableRule

# Two purchases of a product less than this apart are one purchase (a split or amended order).
SAME_OCCASION = timedelta(days=1)


@dataclass(frozen=True)
class Purchase:
    """`product_id` bought in order `order_id` by `customer_id` (None: a guest) at `at`."""

    customer_id: int | None
    order_id: int
    product_id: str
    at: datetime


@dataclass(frozen=True)
class ConsumableRule:
    """A product is consumable when at least `min_repeat_buyers` customers, and at least
    `min_repeat_share` of its buyers, bought it again on a later occasion."""

    min_repeat_share: float = 0.3
    min_repeat_buyers: int = 3


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def occasions(times: Iterable[datetime]) -> list[datetime]:
    """Purchase times in order, with those within `SAME_OCCASION` of the previous one merged."""
    kept: list[datetime] = []
    for moment in sorted(times):
        if not kept or moment - kept[-1] >= SAME_OCCASION:
            kept.append(moment)
    return kept


def median_gap(times: Iterable[datetime]) -> timedelta | None:
    """The median time between consecutive purchase occasions; None below two occasions."""
    kept = occasions(times)
    if len(kept) < 2:
        return None
    return timedelta(seconds=median([(b - a).total_seconds() for a, b in pairwise(kept)]))


def _baskets(purchases: Iterable[Purchase]) -> dict[int, set[str]]:
    baskets: dict[int, set[str]] = {}
    for purchase in purchases:
        baskets.setdefault(purchase.order_id, set()).add(purchase.product_id)
    return baskets


def co_purchased(anchors: Collection[str], purchases: Iterable[Purchase]) -> list[str]:
    """Products bought in the same orders as any of `anchors` (anchors excluded), best first:
    by the number of such orders, then by lift (how much likelier than chance), then by id."""
    baskets = _baskets(purchases)
    wanted = set(anchors)
    orders_with = Counter(product for basket in baskets.values() for product in basket)
    together: Counter[str] = Counter()
    anchored = 0
    for basket in baskets.values():
        if basket & wanted:
            anchored += 1
            together.update(basket - wanted)
    return rank_co_purchased(together, anchored, orders_with, len(baskets))


def rank_co_purchased(
    together: Mapping[str, int], anchored: int, orders_with: Mapping[str, int], total: int
) -> list[str]:
    """Products by `together` (orders shared with the anchors), then by lift (`anchored`: orders
    with an anchor, `orders_with`: orders with the product, `total`: all orders), then by id."""

    def lift(product: str) -> float:
        denominator = anchored * orders_with.get(product, 0)
        return together[product] * total / denominator if denominator else 0.0

    return sorted(
        (product for product, count in together.items() if count > 0),
        key=lambda product: (-together[product], -lift(product), product),
    )


def best_sellers(purchases: Iterable[Purchase]) -> list[str]:
    """Products by the number of orders they were in, most first (then by id)."""
    counts = Counter(product for basket in _baskets(purchases).values() for product in basket)
    return sorted(counts, key=lambda product: (-counts[product], product))


def rebuy_intervals(
    purchases: Iterable[Purchase], rule: ConsumableRule = ConsumableRule()
) -> dict[str, timedelta]:
    """The consumable products and their re-buy interval: the median time between a customer's
    consecutive purchases of the product, over all its repeat buyers. Guests do not count."""
    times: dict[str, dict[int, list[datetime]]] = {}
    for purchase in purchases:
        if purchase.customer_id is not None:
            buyers = times.setdefault(purchase.product_id, {})
            buyers.setdefault(purchase.customer_id, []).append(purchase.at)
    intervals: dict[str, timedelta] = {}
    for product, buyers in times.items():
        gaps: list[float] = []
        repeat_buyers = 0
        for moments in buyers.values():
            kept = occasions(moments)
            if len(kept) > 1:
                repeat_buyers += 1
                gaps.extend((b - a).total_seconds() for a, b in pairwise(kept))
        if repeat_buyers < rule.min_repeat_buyers:
            continue
        if repeat_buyers / len(buyers) < rule.min_repeat_share:
            continue
        intervals[product] = timedelta(seconds=median(gaps))
    return intervals


def may_recommend(
    product: str,
    owned: Mapping[str, datetime],
    intervals: Mapping[str, timedelta],
    now: datetime,
) -> bool:
    """Whether `product` may be offered to a customer whose last purchase of each product is
    `owned`: never bought, or consumable and its re-buy interval has passed since."""
    last = owned.get(product)
    if last is None:
        return True
    interval = intervals.get(product)
    return interval is not None and now >= last + interval


def recommend(
    anchors: Collection[str],
    purchases: Sequence[Purchase],
    owned: Mapping[str, datetime],
    now: datetime,
    *,
    intervals: Mapping[str, timedelta],
    available: Collection[str] | None = None,
    limit: int = 3,
    durables: DurableRule | None = None,
) -> list[str]:
    """Up to `limit` products for a customer who just bought `anchors`: co-purchased products
    first, then the shop's best sellers; owned products only by `may_recommend`; only products
    in `available` when given (e.g. those still on sale); none `durables` holds back."""
    candidates = [*co_purchased(anchors, purchases), *best_sellers(purchases)]
    return choose(
        anchors,
        candidates,
        owned,
        now,
        intervals=intervals,
        available=available,
        limit=limit,
        durables=durables,
    )


def choose(
    anchors: Collection[str],
    candidates: Iterable[str],
    owned: Mapping[str, datetime],
    now: datetime,
    *,
    intervals: Mapping[str, timedelta],
    available: Collection[str] | None = None,
    limit: int = 3,
    durables: DurableRule | None = None,
) -> list[str]:
    """The first `limit` of `candidates` (best first) that may be offered: not an anchor, in
    `available` when given, not owned unless `may_recommend` says so, not in a durable group
    the customer bought from within its hold (`durables`; `owned` then holds every product
    they bought in that period, not only the candidates)."""
    chosen: list[str] = []
    wanted = set(anchors)
    held = durables.held_until(owned) if durables is not None else {}
    for product in candidates:
        if len(chosen) >= limit:
            break
        if product in wanted or product in chosen:
            continue
        if available is not None and product not in available:
            continue
        if durables is not None and durables.holds_back(product, held, now):
            continue
        if may_recommend(product, owned, intervals, now):
            chosen.append(product)
    return chosen


@dataclass(frozen=True)
class ProductHistory:
    """What a shop's history says of one product: orders with it, its re-buy interval (None:
    not consumable) and the products bought with it, `(product, orders together)` best first."""

    orders: int
    rebuy_interval: timedelta | None
    together: tuple[tuple[str, int], ...]


def product_histories(
    purchases: Iterable[Purchase], together_kept: int = 20, rule: ConsumableRule = ConsumableRule()
) -> tuple[int, dict[str, ProductHistory]]:
    """The number of orders in `purchases` and each product's `ProductHistory`, keeping its
    `together_kept` most co-purchased products (ranked as `co_purchased` with it as anchor)."""
    purchases = list(purchases)
    baskets = _baskets(purchases)
    orders_with = Counter(product for basket in baskets.values() for product in basket)
    pairs: dict[str, Counter[str]] = {}
    for basket in baskets.values():
        for product in basket:
            pairs.setdefault(product, Counter()).update(basket - {product})
    intervals = rebuy_intervals(purchases, rule)
    histories = {}
    for product, count in orders_with.items():
        together = pairs.get(product, Counter())
        ranked = rank_co_purchased(together, count, orders_with, len(baskets))[:together_kept]
        histories[product] = ProductHistory(
            orders=count,
            rebuy_interval=intervals.get(product),
            together=tuple((other, together[other]) for other in ranked),
        )
    return len(baskets), histories


def supply_interval(days_of_supply: int | None, quantity: int | None) -> timedelta | None:
    """How long `quantity` units last at `days_of_supply` days each (one unit when the quantity
    is unknown); None without days of supply."""
    if not days_of_supply or days_of_supply <= 0:
        return None
    units = quantity if quantity is not None and quantity > 0 else 1
    return timedelta(days=days_of_supply * units)


def expected_reorder(
    own_times: Iterable[datetime],
    product_interval: timedelta | None,
    supply: timedelta | None = None,
) -> datetime | None:
    """When a customer should run out of a product: their last purchase plus, first, their own
    median interval (two purchases or more), else the product's learned re-buy interval, else
    the merchant's days of supply for what they bought (`supply_interval`); None when none is
    known (a one-off purchase of a product that is not consumable)."""
    kept = occasions(own_times)
    if not kept:
        return None
    interval = median_gap(kept) or product_interval or supply
    if interval is None:
        return None
    return kept[-1] + interval


def rank_with_views(candidates: Sequence[str], viewed: Sequence[str]) -> list[str]:
    """The customer's recently viewed products first (newest first: what they showed interest
    in), then the other candidates in their order; `choose` then drops anchors, owned and
    unavailable products as for any candidate."""
    ranked = list(dict.fromkeys(viewed))
    seen = set(ranked)
    ranked.extend(product for product in candidates if product not in seen)
    return ranked
