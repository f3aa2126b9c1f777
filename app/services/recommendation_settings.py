"""A shop's recommendation settings: durable or consumable product groups, the durable hold
period, and the days of supply of its products; and the re-buy counts behind the defaults.

Layer: services, inside the caller's transaction (the caller commits). Every read and write is
scoped to the shop. `refresh_counts` replaces the stored re-buy counts (the daily history
refresh); merchant marks are never touched by it. Form values are validated here: unknown groups
and products are ignored, days out of range are errors.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.durable_goods import (
    BY_COLLECTION,
    BY_PRODUCT_TYPE,
    DEFAULT_HOLD_DAYS,
    GROUPINGS,
    KINDS,
    MAX_HOLD_DAYS,
    DefaultRule,
    RebuyCounts,
    default_kind,
    effective_kind,
    group_key,
    rebuy_counts,
)
from app.domain.recommendations import Purchase
from app.models import Product, ProductCollection, ProductPurchaseStats
from app.models.recommendation_settings import (
    ProductGroup,
    ProductSupply,
    RecommendationSettings,
)
from app.services.upsert import dialect_insert

MAX_SUPPLY_DAYS = 730
PRODUCTS_PAGE = 50
MAX_QUERY = 100
_CHUNK = 500
# The thresholds of the defaults, shown to the merchant.
DEFAULT_RULE = DefaultRule()


@dataclass(frozen=True)
class Settings:
    durable_hold_days: int = DEFAULT_HOLD_DAYS
    grouping: str = BY_COLLECTION


def load(session: Session, shop_id: int) -> Settings:
    """The shop's settings, the defaults when it has none."""
    row = session.get(RecommendationSettings, shop_id)
    if row is None:
        return Settings()
    grouping = row.grouping if row.grouping in GROUPINGS else BY_COLLECTION
    return Settings(row.durable_hold_days, grouping)


def save(session: Session, shop_id: int, settings: Settings) -> None:
    values = {
        "durable_hold_days": settings.durable_hold_days,
        "grouping": settings.grouping,
        "updated_at": utcnow(),
    }
    session.execute(
        dialect_insert(session, RecommendationSettings)
        .values(shop_id=shop_id, **values)
        .on_conflict_do_update(index_elements=["shop_id"], set_=values)
    )


# --- the re-buy counts -----------------------------------------------------------------------


def refresh_counts(
    session: Session, shop_id: int, purchases: Iterable[Purchase], now: datetime
) -> int:
    """Store each collection's and product type's re-buy counts over `purchases` (a type over
    all its products), keeping the merchant's marks; groups no longer bought get zero counts.
    → the number of groups counted."""
    purchases = list(purchases)
    bought = {purchase.product_id for purchase in purchases}
    groups: dict[str, list[str]] = {}
    for chunk in _chunks(bought):
        for external_id, product_type in session.execute(
            select(Product.external_id, Product.product_type).where(
                Product.shop_id == shop_id, Product.external_id.in_(chunk)
            )
        ):
            if product_type and product_type.strip():
                groups.setdefault(external_id, []).append(
                    group_key(BY_PRODUCT_TYPE, product_type.strip())
                )
        for external_id, collection in session.execute(
            select(Product.external_id, ProductCollection.collection_external_id)
            .join(
                ProductCollection,
                (ProductCollection.product_id == Product.id)
                & (ProductCollection.shop_id == shop_id),
            )
            .where(Product.shop_id == shop_id, Product.external_id.in_(chunk))
        ):
            groups.setdefault(external_id, []).append(group_key(BY_COLLECTION, collection))
    counts = rebuy_counts(purchases, groups)
    session.execute(
        update(ProductGroup)
        .where(ProductGroup.shop_id == shop_id)
        .values(buyers=0, repeat_buyers=0, stats_refreshed_at=now)
        .execution_options(synchronize_session=False)
    )
    statement = dialect_insert(session, ProductGroup)
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "grouping", "group_key"],
        set_={
            "buyers": statement.excluded.buyers,
            "repeat_buyers": statement.excluded.repeat_buyers,
            "stats_refreshed_at": statement.excluded.stats_refreshed_at,
        },
    )
    rows = []
    for key, found in sorted(counts.items()):
        prefix, _, name = key.partition(":")
        rows.append(
            {
                "shop_id": shop_id,
                "grouping": BY_PRODUCT_TYPE if prefix == "type" else BY_COLLECTION,
                "group_key": name[:255],
                "kind": None,
                "buyers": found.buyers,
                "repeat_buyers": found.repeat_buyers,
                "stats_refreshed_at": now,
                "updated_at": now,
            }
        )
    for start in range(0, len(rows), _CHUNK):
        session.execute(statement, rows[start : start + _CHUNK])
    return len(rows)


def _chunks(values: Collection[str]) -> list[list[str]]:
    ordered = sorted(values)
    return [ordered[start : start + _CHUNK] for start in range(0, len(ordered), _CHUNK)]


# --- the groups the merchant marks -----------------------------------------------------------


@dataclass(frozen=True)
class GroupRow:
    """One collection or product type as the settings page shows it."""

    grouping: str
    key: str
    title: str
    products: int
    counts: RebuyCounts
    mark: str | None
    default: str | None  # from the counts; None: not enough data

    @property
    def effective(self) -> str | None:
        return effective_kind(self.mark, self.counts)

    @property
    def field(self) -> str:
        """The form field of its mark."""
        return f"kind:{group_key(self.grouping, self.key)}"


def groups(session: Session, shop_id: int) -> tuple[list[GroupRow], list[GroupRow]]:
    """The shop's collections and product types (by title), each with its product count,
    stored re-buy counts, the merchant's mark and the default."""
    stored = {
        (row.grouping, row.group_key): row
        for row in session.scalars(select(ProductGroup).where(ProductGroup.shop_id == shop_id))
    }

    def row(grouping: str, key: str, title: str, products: int) -> GroupRow:
        found = stored.get((grouping, key))
        counts = RebuyCounts(found.buyers, found.repeat_buyers) if found else RebuyCounts(0, 0)
        return GroupRow(
            grouping,
            key,
            title,
            products,
            counts,
            found.kind if found is not None and found.kind in KINDS else None,
            default_kind(counts),
        )

    collections = [
        row(BY_COLLECTION, str(key), title or str(key), int(count))
        for key, title, count in session.execute(
            select(
                ProductCollection.collection_external_id,
                func.max(ProductCollection.title),
                func.count(func.distinct(ProductCollection.product_id)),
            )
            .where(ProductCollection.shop_id == shop_id)
            .group_by(ProductCollection.collection_external_id)
        )
    ]
    kind = func.trim(Product.product_type)
    types = [
        row(BY_PRODUCT_TYPE, str(name), str(name), int(count))
        for name, count in session.execute(
            select(kind, func.count(Product.id))
            .where(Product.shop_id == shop_id, Product.product_type.is_not(None), kind != "")
            .group_by(kind)
        )
    ]
    collections.sort(key=lambda found: (found.title.lower(), found.key))
    types.sort(key=lambda found: (found.title.lower(), found.key))
    return collections, types


@dataclass(frozen=True)
class GroupsForm:
    settings: Settings
    marks: dict[tuple[str, str], str | None]


def validate_groups(
    form: Mapping[str, str], known: Collection[GroupRow]
) -> tuple[GroupsForm | None, dict[str, str]]:
    """The posted hold period, grouping and marks (`kind:<group key>` = "", "durable" or
    "consumable") of the `known` groups → a form, or errors (i18n keys by field)."""
    errors: dict[str, str] = {}
    raw_days = str(form.get("durable_hold_days") or "").strip()
    days = int(raw_days) if raw_days.isdigit() and len(raw_days) <= 5 else None
    if days is None or not 1 <= days <= MAX_HOLD_DAYS:
        errors["durable_hold_days"] = "recommendations.error.hold_days"
    grouping = str(form.get("grouping") or "")
    if grouping not in GROUPINGS:
        errors["grouping"] = "recommendations.error.grouping"
    marks: dict[tuple[str, str], str | None] = {}
    for found in known:
        value = form.get(found.field)
        if value is None:
            continue
        value = str(value)
        if value and value not in KINDS:
            errors[found.field] = "recommendations.error.kind"
            continue
        marks[(found.grouping, found.key)] = value or None
    if errors or days is None:
        return None, errors
    return GroupsForm(Settings(days, grouping), marks), {}


def save_groups(session: Session, shop_id: int, form: GroupsForm) -> None:
    """Save the settings and the marks (a blank mark goes back to the default)."""
    save(session, shop_id, form.settings)
    now = utcnow()
    statement = dialect_insert(session, ProductGroup)
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "grouping", "group_key"],
        set_={"kind": statement.excluded.kind, "updated_at": now},
    )
    rows = [
        {
            "shop_id": shop_id,
            "grouping": grouping,
            "group_key": key[:255],
            "kind": mark,
            "buyers": 0,
            "repeat_buyers": 0,
            "updated_at": now,
        }
        for (grouping, key), mark in sorted(form.marks.items())
    ]
    for start in range(0, len(rows), _CHUNK):
        session.execute(statement, rows[start : start + _CHUNK])


# --- days of supply --------------------------------------------------------------------------


def supply_days(session: Session, shop_id: int, products: Collection[str]) -> dict[str, int]:
    """The days of supply set for each of `products` that has one."""
    found: dict[str, int] = {}
    for chunk in _chunks(products):
        for product, days in session.execute(
            select(ProductSupply.product_external_id, ProductSupply.days).where(
                ProductSupply.shop_id == shop_id, ProductSupply.product_external_id.in_(chunk)
            )
        ):
            found[str(product)] = int(days)
    return found


@dataclass(frozen=True)
class ProductRow:
    external_id: str
    title: str
    product_type: str | None
    days: int | None
    learned_days: float | None


def products_page(
    session: Session, shop_id: int, q: str, page: int
) -> tuple[list[ProductRow], bool]:
    """A page of the shop's products (by title; those whose title contains `q` when given),
    each with its days of supply and learned re-buy interval; → (rows, whether more follow)."""
    text = " ".join(q.split())[:MAX_QUERY]
    query = (
        select(
            Product.external_id,
            Product.title,
            Product.product_type,
            ProductSupply.days,
            ProductPurchaseStats.rebuy_interval_seconds,
        )
        .outerjoin(
            ProductSupply,
            (ProductSupply.shop_id == shop_id)
            & (ProductSupply.product_external_id == Product.external_id),
        )
        .outerjoin(
            ProductPurchaseStats,
            (ProductPurchaseStats.shop_id == shop_id)
            & (ProductPurchaseStats.product_external_id == Product.external_id),
        )
        .where(Product.shop_id == shop_id)
    )
    if text:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Product.title).like(f"%{escaped}%", escape="\\"))
    offset = max(page - 1, 0) * PRODUCTS_PAGE
    rows = session.execute(
        query.order_by(Product.title, Product.id).offset(offset).limit(PRODUCTS_PAGE + 1)
    ).all()
    return [
        ProductRow(
            str(external_id),
            title,
            product_type,
            None if days is None else int(days),
            None if seconds is None else seconds / 86400,
        )
        for external_id, title, product_type, days, seconds in rows[:PRODUCTS_PAGE]
    ], len(rows) > PRODUCTS_PAGE


def validate_supply(
    form: Mapping[str, str], session: Session, shop_id: int
) -> tuple[dict[str, int | None] | None, dict[str, str]]:
    """Posted `supply:<product external id>` fields (blank: none) of the shop's own products →
    product → days, or errors by field; fields of unknown products are ignored."""
    posted = {
        name.removeprefix("supply:"): str(value).strip()
        for name, value in form.items()
        if name.startswith("supply:") and len(name) <= 80
    }
    known: set[str] = set()
    for chunk in _chunks(posted):
        known.update(
            session.scalars(
                select(Product.external_id).where(
                    Product.shop_id == shop_id, Product.external_id.in_(chunk)
                )
            )
        )
    values: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for product, raw in posted.items():
        if product not in known:
            continue
        if not raw:
            values[product] = None
        elif raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= MAX_SUPPLY_DAYS:
            values[product] = int(raw)
        else:
            errors[f"supply:{product}"] = "recommendations.error.supply_days"
    if errors:
        return None, errors
    return values, {}


def save_supply(session: Session, shop_id: int, values: Mapping[str, int | None]) -> None:
    """Set (or, for None, clear) the days of supply of these products."""
    cleared = sorted(product for product, days in values.items() if days is None)
    for start in range(0, len(cleared), _CHUNK):
        session.execute(
            delete(ProductSupply).where(
                ProductSupply.shop_id == shop_id,
                ProductSupply.product_external_id.in_(cleared[start : start + _CHUNK]),
            )
        )
    now = utcnow()
    statement = dialect_insert(session, ProductSupply)
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "product_external_id"],
        set_={"days": statement.excluded.days, "updated_at": now},
    )
    rows = [
        {"shop_id": shop_id, "product_external_id": product, "days": days, "updated_at": now}
        for product, days in sorted(values.items())
        if days is not None
    ]
    for start in range(0, len(rows), _CHUNK):
        session.execute(statement, rows[start : start + _CHUNK])
