"""Durable goods: which product groups (collections or product types) are durable, and which
recommendations a durable purchase holds back.

Layer: domain (pure: callers pass the marks, counts, purchases and `now`). A group is durable
when the merchant says so, else when its re-buy rate is below `DefaultRule.durable_below` over
at least `DefaultRule.min_buyers` buyers; too few buyers leaves it unknown, which holds nothing
back (no evidence, no hold). A customer who bought an item of a durable group is offered no item
of that group until `hold` after their latest such purchase.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.recommendations import Purchase, occasions

DURABLE = "durable"
CONSUMABLE = "consumable"
KINDS = (DURABLE, CONSUMABLE)

# How a shop groups its products: by collection (a product in none falls back to its product
# type), or by product type alone.
BY_COLLECTION = "collection"
BY_PRODUCT_TYPE = "product_type"
GROUPINGS = (BY_COLLECTION, BY_PRODUCT_TYPE)

DEFAULT_HOLD_DAYS = 365
MAX_HOLD_DAYS = 3650


@dataclass(frozen=True)
class DefaultRule:
    """The default mark of a group with no mark of the merchant: durable when fewer than
    `durable_below` of its buyers bought from it again, over at least `min_buyers` buyers."""

    min_buyers: int = 20
    durable_below: float = 0.1


@dataclass(frozen=True)
class RebuyCounts:
    """Customers who bought an item of a group, and those who bought one again later."""

    buyers: int
    repeat_buyers: int

    @property
    def rate(self) -> float | None:
        return self.repeat_buyers / self.buyers if self.buyers else None


def default_kind(counts: RebuyCounts | None, rule: DefaultRule = DefaultRule()) -> str | None:
    """`DURABLE` or `CONSUMABLE` from the counts; None (unknown) below `rule.min_buyers`."""
    if counts is None or counts.buyers < rule.min_buyers or counts.rate is None:
        return None
    return DURABLE if counts.rate < rule.durable_below else CONSUMABLE


def effective_kind(
    mark: str | None, counts: RebuyCounts | None, rule: DefaultRule = DefaultRule()
) -> str | None:
    """The merchant's mark when there is one, else the default from the counts."""
    return mark if mark in KINDS else default_kind(counts, rule)


def group_key(grouping: str, key: str) -> str:
    """One namespace for collections and types: `collection:<external id>`, `type:<name>`."""
    return f"{'type' if grouping == BY_PRODUCT_TYPE else 'collection'}:{key}"


def groups_of_product(
    collections: Collection[str], product_type: str | None, grouping: str
) -> tuple[str, ...]:
    """The group keys of a product: its collections (or its type when it is in none), or its
    type alone when the shop groups by type."""
    kind = (product_type or "").strip()
    if grouping == BY_COLLECTION and collections:
        return tuple(group_key(BY_COLLECTION, c) for c in sorted(set(collections)))
    return (group_key(BY_PRODUCT_TYPE, kind),) if kind else ()


def rebuy_counts(
    purchases: Iterable[Purchase], groups: Mapping[str, Collection[str]]
) -> dict[str, RebuyCounts]:
    """Per group key: the customers who bought any of its products (guests do not count), and
    those who did so on two occasions or more (purchases a day apart or less are one
    occasion, as for the products' own re-buy intervals)."""
    times: dict[str, dict[int, list[datetime]]] = {}
    for purchase in purchases:
        if purchase.customer_id is None:
            continue
        for group in groups.get(purchase.product_id, ()):
            times.setdefault(group, {}).setdefault(purchase.customer_id, []).append(purchase.at)
    return {
        group: RebuyCounts(
            buyers=len(buyers),
            repeat_buyers=sum(1 for moments in buyers.values() if len(occasions(moments)) > 1),
        )
        for group, buyers in times.items()
    }


@dataclass(frozen=True)
class DurableRule:
    """What durable purchases hold back in one shop: each product's groups, the durable
    groups, and how long a purchase holds its groups."""

    groups: Mapping[str, tuple[str, ...]]
    durable: frozenset[str]
    hold: timedelta

    def held_until(self, owned: Mapping[str, datetime]) -> dict[str, datetime]:
        """Durable group → until when the customer who bought `owned` (product → latest
        purchase) is offered none of its items."""
        held: dict[str, datetime] = {}
        for product, at in owned.items():
            for group in self.groups.get(product, ()):
                if group in self.durable:
                    until = at + self.hold
                    held[group] = max(held.get(group, until), until)
        return held

    def holds_back(self, product: str, held: Mapping[str, datetime], now: datetime) -> bool:
        """Whether `product` is in a durable group the customer bought from within the hold."""
        return any(now < held[group] for group in self.groups.get(product, ()) if group in held)
