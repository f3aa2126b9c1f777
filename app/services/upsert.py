"""Writing platform records (customers, products, orders, checkouts) into the tenant tables.

Layer: services; the caller commits. Rows are unique on (shop_id, external_id) and merged "newer
wins" on the platform's `updated_at`, so replays and reordering change nothing; a redacted
customer's personal columns stay blank.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ARRAY,
    Connection,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from app.db import Base, to_decimal, utcnow
from app.models import (
    Checkout,
    Customer,
    CustomerProduct,
    Order,
    OrderLine,
    Product,
    ProductVariant,
    TimelineEvent,
)
from app.models.checkout import PERSONAL_COLUMNS as CHECKOUT_PERSONAL_COLUMNS
from app.models.customer import LIVE_TOTALS
from app.models.customer import PERSONAL_COLUMNS as CUSTOMER_PERSONAL_COLUMNS
from app.models.opt_in import OptInRequest
from app.models.order import PERSONAL_COLUMNS as ORDER_PERSONAL_COLUMNS
from app.models.product import ProductCollection
from app.services import people, purchase_stats
from connectors.base import (
    CheckoutRecord,
    CollectionRef,
    CustomerRecord,
    OrderRecord,
    ProductRecord,
)

# Keeps statements well under PostgreSQL's bind-parameter limit and SQLite's variable limit.
_CHUNK = 500
# Descriptive, non-personal columns that some payloads omit: None there means "not said".
_KEPT_WHEN_MISSING = ("country_code", "locale")

T = TypeVar("T")


def normalize_email(email: str | None) -> str | None:
    """The form emails are matched on: stripped and lowercased; blank means no email."""
    if email is None:
        return None
    return email.strip().lower() or None


def table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def dialect_insert(bind: Session | Connection, model: type[Base]) -> Any:
    """A Core INSERT into the model's table that supports ON CONFLICT (PostgreSQL or SQLite)."""
    dialect = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    if dialect == "postgresql":
        return postgresql_insert(table_of(model))
    if dialect == "sqlite":
        return sqlite_insert(table_of(model))
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _is_newer(incoming: datetime | None, stored: datetime | None) -> bool:
    """Newer wins; an equal time re-applies (a replay), an unknown time never overrides a known."""
    if stored is None:
        return True
    return incoming is not None and incoming >= stored


def _group(records: Iterable[T], key: str) -> dict[str, list[T]]:
    """Records by external id, in id order: concurrent batches then lock rows in one order."""
    grouped: dict[str, list[T]] = {}
    for record in records:
        grouped.setdefault(getattr(record, key), []).append(record)
    return dict(sorted(grouped.items()))


def _insert_new(
    session: Session, model: type[Base], rows: list[dict[str, Any]], conflict: tuple[str, ...]
) -> set[str]:
    """Insert rows that do not exist yet; returns the external ids actually inserted."""
    inserted: set[str] = set()
    for chunk in _chunks(rows):
        statement = (
            dialect_insert(session, model)
            .on_conflict_do_nothing(index_elements=list(conflict))
            .returning(table_of(model).c.external_id)
        )
        inserted.update(session.execute(statement, list(chunk)).scalars())
    return inserted


def _lock_rows(
    session: Session, model: Any, shop_id: int, external_ids: Sequence[str]
) -> dict[str, Any]:
    """The shop's rows with these external ids, locked for update in id order."""
    found: dict[str, Any] = {}
    for chunk in _chunks(list(external_ids)):
        statement = (
            select(model)
            .where(model.shop_id == shop_id, model.external_id.in_(chunk))
            .order_by(model.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        for row in session.scalars(statement):
            found[row.external_id] = row
    return found


# --- customers -------------------------------------------------------------------------------


def _customer_profile(record: CustomerRecord) -> dict[str, Any]:
    return {
        "email": record.email,
        "email_normalized": normalize_email(record.email),
        "first_name": record.first_name,
        "last_name": record.last_name,
        "phone": record.phone,
        "city": record.city,
        "country_code": record.country_code,
        "locale": record.locale,
    }


def _consent_time(record: CustomerRecord) -> datetime | None:
    return record.email_marketing_updated_at or record.updated_at


def _customer_insert_values(shop_id: int, record: CustomerRecord) -> dict[str, Any]:
    carries_consent = record.email_marketing_state is not None
    return {
        "shop_id": shop_id,
        "external_id": record.external_id,
        **_customer_profile(record),
        "tags": list(record.tags or ()),
        "email_marketing_state": record.email_marketing_state,
        "email_marketing_opt_in_level": record.email_marketing_opt_in_level,
        "email_marketing_updated_at": _consent_time(record) if carries_consent else None,
        "platform_created_at": record.created_at,
        "platform_updated_at": record.updated_at,
        # Every row of a multi-row insert names the same columns: None when not said.
        "birth_month": record.birthday.month if record.birthday else None,
        "birth_day": record.birthday.day if record.birthday else None,
        "birth_year": record.birthday.year if record.birthday else None,
    }


def _birthday_values(record: CustomerRecord) -> dict[str, Any]:
    """The record's birthday columns, or nothing when it says nothing about the birthday."""
    birthday = record.birthday
    if birthday is None:
        return {}
    return {
        "birth_month": birthday.month,
        "birth_day": birthday.day,
        "birth_year": birthday.year,
    }


def _apply_consent(row: Customer, record: CustomerRecord) -> bool:
    """Consent moves only on a record that states it, and only forward in time."""
    if record.email_marketing_state is None:
        return False
    at = _consent_time(record)
    stored = row.email_marketing_updated_at
    if stored is not None and (at is None or at < stored):
        return False
    row.email_marketing_state = record.email_marketing_state
    row.email_marketing_opt_in_level = record.email_marketing_opt_in_level
    row.email_marketing_updated_at = at
    return True


def _merge_customer(row: Customer, record: CustomerRecord) -> bool:
    """Apply `record` to an existing row; returns whether anything was applied."""
    personal_allowed = row.redacted_at is None
    applied = False
    profile = _customer_profile(record)
    newer = record.updated_at is not None and _is_newer(record.updated_at, row.platform_updated_at)
    if newer:
        for name, value in profile.items():
            if name in CUSTOMER_PERSONAL_COLUMNS and not personal_allowed:
                continue
            if name in _KEPT_WHEN_MISSING and value is None:
                continue
            setattr(row, name, value)
        if record.tags is not None:
            row.tags = list(record.tags)
        row.platform_created_at = record.created_at or row.platform_created_at
        row.platform_updated_at = record.updated_at
        applied = True
    elif record.updated_at is None:
        # A record without a time (a customer embedded in an order, a consent event) cannot
        # prove it is newer: it only fills what we do not know yet.
        for name, value in profile.items():
            if name in CUSTOMER_PERSONAL_COLUMNS and not personal_allowed:
                continue
            if value is not None and getattr(row, name) is None:
                setattr(row, name, value)
                applied = True
        if record.tags and not row.tags:
            row.tags = list(record.tags)
            applied = True
    if record.birthday is not None and personal_allowed and (newer or row.birth_month is None):
        # A record naming a birthday wins when newer; an untimed one only fills an unknown one.
        for name, value in _birthday_values(record).items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                applied = True
    return _apply_consent(row, record) or applied


def _upsert_customer_rows(
    session: Session, shop_id: int, records: Iterable[CustomerRecord]
) -> tuple[int, dict[str, Customer]]:
    grouped = _group(records, "external_id")
    if not grouped:
        return 0, {}
    inserted = _insert_new(
        session,
        Customer,
        [_customer_insert_values(shop_id, batch[0]) for batch in grouped.values()],
        ("shop_id", "external_id"),
    )
    rows = _lock_rows(session, Customer, shop_id, list(grouped))
    applied = 0
    relink: list[int] = []  # new rows and changed emails: their person may change
    for external_id, batch in grouped.items():
        row = rows[external_id]
        email_before = row.email_normalized
        if external_id in inserted:
            applied += 1
            batch = batch[1:]
        applied += sum(_merge_customer(row, record) for record in batch)
        if external_id in inserted or row.email_normalized != email_before:
            relink.append(row.id)
    people.link_customers(session, shop_id, relink)
    # A customer who arrives after confirming a storefront opt-in gets it now.
    relinked = set(relink)
    _apply_confirmed_opt_ins(session, shop_id, [r for r in rows.values() if r.id in relinked])
    return applied, rows


def upsert_customers(session: Session, shop_id: int, records: Iterable[CustomerRecord]) -> int:
    """Insert or update the shop's customers ("newer wins"); returns the records applied.

    Consent fields change only when a record carries them (None = not said) and is newer than
    `email_marketing_updated_at`; a record without `updated_at` only fills unknown columns.
    """
    applied, _rows = _upsert_customer_rows(session, shop_id, records)
    return applied


def apply_confirmed_opt_in(customer: Customer, at: datetime) -> bool:
    """A storefront opt-in the shopper confirmed (double opt-in, clicked at `at`) →
    SUBSCRIBED / CONFIRMED_OPT_IN at `at`; returns whether it changed anything. Never over
    consent stated at or after `at` (an unsubscribe, or the platform's own word), and never on
    a deleted or redacted customer."""
    if customer.deleted_at is not None or customer.redacted_at is not None:
        return False
    if (customer.email_marketing_state or "").upper() == "SUBSCRIBED":
        return False
    stored = customer.email_marketing_updated_at
    if stored is not None and stored >= at:
        return False
    customer.email_marketing_state = "SUBSCRIBED"
    customer.email_marketing_opt_in_level = "CONFIRMED_OPT_IN"
    customer.email_marketing_updated_at = at
    return True


def _apply_confirmed_opt_ins(session: Session, shop_id: int, customers: list[Customer]) -> None:
    """Apply the storefront opt-in a customer's address confirmed before they arrived. A tick
    nobody confirmed (`checkouts.marketing_opt_in_at`) is never consent."""
    by_email: dict[str, list[Customer]] = {}
    for customer in customers:
        if customer.email_normalized:
            by_email.setdefault(customer.email_normalized, []).append(customer)
    for chunk in _chunks(sorted(by_email)):
        confirmed = session.execute(
            select(OptInRequest.email_normalized, OptInRequest.confirmed_at).where(
                OptInRequest.shop_id == shop_id,
                OptInRequest.confirmed_at.is_not(None),
                OptInRequest.email_normalized.in_(chunk),
            )
        )
        for email, at in confirmed:
            for customer in by_email.get(email, ()):
                if at is not None:  # the query's filter; the row type allows None
                    apply_confirmed_opt_in(customer, at)


def mark_customer_deleted(
    session: Session, shop_id: int, external_id: str, deleted_at: datetime
) -> bool:
    """Record that the platform deleted a customer (the row and its history stay)."""
    result = session.execute(
        update(Customer)
        .where(
            Customer.shop_id == shop_id,
            Customer.external_id == external_id,
            Customer.deleted_at.is_(None),
        )
        .values(deleted_at=deleted_at)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


# --- products --------------------------------------------------------------------------------


def _product_values(record: ProductRecord) -> dict[str, Any]:
    return {
        "title": record.title,
        "handle": record.handle,
        "product_type": record.product_type,
        "vendor": record.vendor,
        "status": record.status,
        "image_url": record.image_url,
        "platform_updated_at": record.updated_at,
    }


def _replace_variants(
    session: Session, shop_id: int, product_id: int, record: ProductRecord
) -> None:
    variants = {variant.external_id: variant for variant in record.variants}
    stale = delete(ProductVariant).where(
        ProductVariant.shop_id == shop_id, ProductVariant.product_id == product_id
    )
    if variants:
        stale = stale.where(ProductVariant.external_id.not_in(list(variants)))
    session.execute(stale.execution_options(synchronize_session=False))
    if not variants:
        return
    statement = dialect_insert(session, ProductVariant)
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "external_id"],
        set_={
            name: statement.excluded[name]
            for name in ("product_id", "title", "sku", "price", "currency", "image_url")
        },
    )
    session.execute(
        statement,
        [
            {
                "shop_id": shop_id,
                "product_id": product_id,
                "external_id": variant.external_id,
                "title": variant.title,
                "sku": variant.sku,
                "price": variant.price,
                "currency": record.currency,
                "image_url": variant.image_url,
            }
            for variant in variants.values()
        ],
    )


def upsert_products(session: Session, shop_id: int, records: Iterable[ProductRecord]) -> int:
    """Insert or update the shop's products, their variants and collections ("newer wins")."""
    grouped = _group(records, "external_id")
    if not grouped:
        return 0
    inserted = _insert_new(
        session,
        Product,
        [
            {"shop_id": shop_id, "external_id": key, **_product_values(batch[0])}
            for key, batch in grouped.items()
        ],
        ("shop_id", "external_id"),
    )
    rows = _lock_rows(session, Product, shop_id, list(grouped))
    applied = 0
    for external_id, batch in grouped.items():
        row = rows[external_id]
        winner: ProductRecord | None = None
        collections: tuple[CollectionRef, ...] | None = None
        if external_id in inserted:
            winner, batch = batch[0], batch[1:]
            collections = winner.collections
            applied += 1
        for record in batch:
            if _is_newer(record.updated_at, row.platform_updated_at):
                for name, value in _product_values(record).items():
                    setattr(row, name, value)
                winner = record
                if record.collections is not None:
                    collections = record.collections
                applied += 1
        if winner is not None:
            _replace_variants(session, shop_id, row.id, winner)
        if collections is not None:
            _replace_collections(session, shop_id, row.id, collections)
    return applied


def _replace_collections(
    session: Session, shop_id: int, product_id: int, collections: tuple[CollectionRef, ...]
) -> None:
    """The product's collection rows become exactly `collections` (a record without them,
    `None`, never reaches here: the stored ones are kept)."""
    wanted = {ref.external_id: ref for ref in collections}
    stale = delete(ProductCollection).where(
        ProductCollection.shop_id == shop_id, ProductCollection.product_id == product_id
    )
    if wanted:
        stale = stale.where(ProductCollection.collection_external_id.not_in(list(wanted)))
    session.execute(stale.execution_options(synchronize_session=False))
    if not wanted:
        return
    statement = dialect_insert(session, ProductCollection)
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "product_id", "collection_external_id"],
        set_={name: statement.excluded[name] for name in ("title", "handle")},
    )
    session.execute(
        statement,
        [
            {
                "shop_id": shop_id,
                "product_id": product_id,
                "collection_external_id": ref.external_id,
                "title": ref.title[:255],
                "handle": ref.handle[:255] if ref.handle else None,
            }
            for ref in wanted.values()
        ],
    )


# --- orders ----------------------------------------------------------------------------------


def _order_values(record: OrderRecord, customer: Customer | None) -> dict[str, Any]:
    personal_allowed = customer is None or customer.redacted_at is None
    values = {
        "customer_id": customer.id if customer else None,
        "customer_external_id": record.customer.external_id if record.customer else None,
        "name": record.name,
        "email": record.email,
        "billing_name": record.billing_name,
        "financial_status": record.financial_status,
        "fulfillment_status": record.fulfillment_status,
        "total_price": record.total_price,
        "subtotal_price": record.subtotal_price,
        "currency": record.currency,
        "checkout_token": record.checkout_token,
        "source_name": record.source_name,
        "cancelled_at": record.cancelled_at,
        "processed_at": record.processed_at,
        "platform_created_at": record.created_at,
        "platform_updated_at": record.updated_at,
    }
    if not personal_allowed:
        values.update(dict.fromkeys(ORDER_PERSONAL_COLUMNS))
    return values


def _replace_lines(
    session: Session, shop_id: int, applied: list[tuple[Order, OrderRecord]]
) -> None:
    order_ids = [order.id for order, _record in applied]
    for chunk in _chunks(order_ids):
        session.execute(
            delete(OrderLine)
            .where(OrderLine.shop_id == shop_id, OrderLine.order_id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
    lines: dict[str, dict[str, Any]] = {}
    for order, record in applied:
        for line in record.lines:
            lines[line.external_id] = {
                "shop_id": shop_id,
                "order_id": order.id,
                "external_id": line.external_id,
                "product_external_id": line.product_external_id,
                "variant_external_id": line.variant_external_id,
                "title": line.title[:500],
                "sku": line.sku,
                "quantity": line.quantity,
                "price": line.price,
                "currency": record.currency,
            }
    if not lines:
        return
    statement = dialect_insert(session, OrderLine)
    # A line id seen under another order moves to this one rather than failing the batch.
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "external_id"],
        set_={
            name: statement.excluded[name]
            for name in (
                "order_id",
                "product_external_id",
                "variant_external_id",
                "title",
                "sku",
                "quantity",
                "price",
                "currency",
            )
        },
    )
    for rows in _chunks(list(lines.values())):
        session.execute(statement, list(rows))


def _order_time(order: Order) -> datetime | None:
    return order.processed_at or order.platform_created_at


def _record_order_placed(
    session: Session, shop_id: int, applied: list[tuple[Order, OrderRecord]]
) -> None:
    events = [
        {
            "shop_id": shop_id,
            "customer_id": order.customer_id,
            "kind": "order_placed",
            "source_key": order.external_id,
            "occurred_at": _order_time(order) or order.created_at,
            "detail": {
                "order_id": order.external_id,
                "name": record.name,
                "total_price": str(record.total_price),
                "currency": record.currency,
            },
        }
        for order, record in applied
        if order.customer_id is not None
    ]
    if not events:
        return
    statement = dialect_insert(session, TimelineEvent).on_conflict_do_nothing(
        index_elements=["shop_id", "kind", "source_key"]
    )
    session.execute(statement, events)


def refresh_customer_totals(session: Session, shop_id: int, customer_ids: Iterable[int]) -> None:
    """Recompute orders_count (every order, as Shopify counts them), total_spent (orders not
    cancelled), first_order_at and last_order_at from the stored orders, and the customers'
    `customer_products` rows (`refresh_customer_products`). The repair path: the upserts keep
    the totals current by difference (`purchase_stats.record_orders`)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    refresh_customer_products(session, shop_id, ids)
    _recompute_totals(session, shop_id, ids)


def _recompute_totals(session: Session, shop_id: int, ids: Sequence[int]) -> None:
    placed_at = func.coalesce(Order.processed_at, Order.platform_created_at, Order.created_at)
    spent = func.coalesce(
        func.sum(case((Order.cancelled_at.is_(None), Order.total_price), else_=0)), 0
    )
    totals: dict[int, tuple[int, Decimal, datetime | None, datetime | None]] = {}
    for chunk in _chunks(ids):
        statement = (
            select(
                Order.customer_id,
                func.count(Order.id),
                spent,
                func.min(placed_at),
                func.max(placed_at),
            )
            .where(Order.shop_id == shop_id, Order.customer_id.in_(chunk))
            .group_by(Order.customer_id)
        )
        for customer_id, count, total, first, last in session.execute(statement):
            totals[customer_id] = (count, to_decimal(total) or Decimal(0), first, last)
    customers = table_of(Customer)
    rows = []
    for customer_id in ids:
        count, total, first, last = totals.get(customer_id, (0, Decimal(0), None, None))
        rows.append(
            {"cid": customer_id, "count": count, "total": total, "first": first, "last": last}
        )
    session.execute(
        update(customers)
        .where(customers.c.shop_id == shop_id, customers.c.id == bindparam("cid"))
        .values(
            orders_count=bindparam("count"),
            total_spent=bindparam("total"),
            first_order_at=bindparam("first"),
            last_order_at=bindparam("last"),
        ),
        rows,
    )
    _expire_totals(session, ids)


def _expire_totals(session: Session, customer_ids: Iterable[int]) -> None:
    """Loaded customers read their totals again after a statement rewrote them."""
    for customer_id in customer_ids:
        loaded = session.identity_map.get(identity_key(Customer, customer_id))
        if loaded is not None:
            session.expire(loaded, LIVE_TOTALS)


def refresh_customer_products(session: Session, shop_id: int, customer_ids: Iterable[int]) -> None:
    """Rewrite these customers' `customer_products` rows from their stored orders: one row per
    product on a line of an order not cancelled. Set-wise: on PostgreSQL one DELETE and one
    INSERT … SELECT for all of them (a bulk load passes every customer it touched at its end),
    elsewhere in chunks. Every path that changes orders, their lines, cancellation or owner
    calls it for the customers named before and after (the row-wise upserts do so through
    `refresh_customer_totals`)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    chunks: Iterable[Any]
    if session.get_bind().dialect.name == "postgresql":
        chunks = [ids]

        def among(column: Any, chunk: Any) -> Any:
            return column == any_(literal(chunk, ARRAY(Integer)))
    else:
        chunks = _chunks(ids)

        def among(column: Any, chunk: Any) -> Any:
            return column.in_(chunk)

    for chunk in chunks:
        session.execute(
            delete(CustomerProduct).where(
                CustomerProduct.shop_id == shop_id, among(CustomerProduct.customer_id, chunk)
            )
        )
        placed_at = func.coalesce(Order.processed_at, Order.platform_created_at, Order.created_at)
        bought = (
            select(
                Order.shop_id,
                OrderLine.product_external_id,
                Order.customer_id,
                func.count(func.distinct(Order.id)),
                func.max(placed_at),
            )
            .join(OrderLine, and_(OrderLine.order_id == Order.id, OrderLine.shop_id == shop_id))
            .where(
                Order.shop_id == shop_id,
                among(Order.customer_id, chunk),
                Order.cancelled_at.is_(None),
                OrderLine.product_external_id.is_not(None),
            )
            .group_by(Order.shop_id, OrderLine.product_external_id, Order.customer_id)
        )
        session.execute(
            insert(CustomerProduct).from_select(
                ["shop_id", "product_external_id", "customer_id", "orders", "last_ordered_at"],
                bought,
            )
        )


def _stamp_fulfilment(applied: list[tuple[Order, OrderRecord]]) -> None:
    """`fulfilled_at` is set once, when an order is first seen fulfilled: the platform's
    fulfilment time when the record has it, else the update that made it fulfilled."""
    for order, record in applied:
        if order.fulfillment_status == "fulfilled" and order.fulfilled_at is None:
            order.fulfilled_at = record.fulfilled_at or order.platform_updated_at or utcnow()


def upsert_orders(session: Session, shop_id: int, records: Iterable[OrderRecord]) -> int:
    """Insert or update the shop's orders ("newer wins"); returns the orders applied.

    Each order's customer is created or linked by external id (a customer known only from an
    order gets a row), the order's lines are replaced, what the change adds to the customer's
    totals and bought products is applied (`purchase_stats.record_orders`) and an
    `order_placed` timeline event is written once per order.
    """
    grouped = _group(records, "external_id")
    if not grouped:
        return 0
    embedded = [r.customer for batch in grouped.values() for r in batch if r.customer is not None]
    _count, customers = _upsert_customer_rows(session, shop_id, embedded)

    def customer_of(record: OrderRecord) -> Customer | None:
        return customers.get(record.customer.external_id) if record.customer else None

    inserted = _insert_new(
        session,
        Order,
        [
            {
                "shop_id": shop_id,
                "external_id": key,
                **_order_values(batch[0], customer_of(batch[0])),
            }
            for key, batch in grouped.items()
        ],
        ("shop_id", "external_id"),
    )
    rows = _lock_rows(session, Order, shop_id, list(grouped))
    before = purchase_stats.order_states(
        session, shop_id, [row.id for key, row in rows.items() if key not in inserted]
    )
    applied: list[tuple[Order, OrderRecord]] = []
    for external_id, batch in grouped.items():
        row = rows[external_id]
        winner: OrderRecord | None = None
        if external_id in inserted:
            winner, batch = batch[0], batch[1:]
        for record in batch:
            if _is_newer(record.updated_at, row.platform_updated_at):
                for name, value in _order_values(record, customer_of(record)).items():
                    setattr(row, name, value)
                winner = record
        if winner is not None:
            applied.append((row, winner))
    if not applied:
        return 0
    _stamp_fulfilment(applied)
    session.flush()
    _replace_lines(session, shop_id, applied)
    _record_order_placed(session, shop_id, applied)
    for order, record in applied:
        customer = customer_of(record)
        if customer is not None and customer.id == order.customer_id:
            customer.currency = record.currency
    after = purchase_stats.order_states(session, shop_id, [order.id for order, _r in applied])
    purchase_stats.record_orders(
        session,
        shop_id,
        [
            purchase_stats.OrderChange(before.get(order.id), after[order.id])
            for order, _record in applied
        ],
    )
    return len(applied)


# --- checkouts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CustomerLink:
    id: int
    redacted: bool


def _checkout_values(record: CheckoutRecord, link: _CustomerLink | None) -> dict[str, Any]:
    values = {
        "customer_id": link.id if link else None,
        "customer_external_id": record.customer.external_id if record.customer else None,
        "email": record.email,
        "recovery_url": record.recovery_url,
        "total_price": record.total_price,
        "currency": record.currency,
        "line_items": [dict(item) for item in record.line_items],
        "completed_at": record.completed_at,
        "platform_created_at": record.created_at,
        "platform_updated_at": record.updated_at,
    }
    if link is not None and link.redacted:
        values.update(dict.fromkeys(CHECKOUT_PERSONAL_COLUMNS))
    return values


def _customers_by_email(session: Session, shop_id: int, emails: set[str]) -> dict[str, Customer]:
    found: dict[str, Customer] = {}
    for chunk in _chunks(sorted(emails)):
        statement = (
            select(Customer)
            .where(Customer.shop_id == shop_id, Customer.email_normalized.in_(chunk))
            .order_by(Customer.id)
        )
        for customer in session.scalars(statement):
            # Several rows may share an email (a deleted and re-created customer): the newest
            # live one wins.
            current = found.get(customer.email_normalized or "")
            if current is None or current.deleted_at is not None or customer.deleted_at is None:
                found[customer.email_normalized or ""] = customer
    return found


def upsert_checkouts(session: Session, shop_id: int, records: Iterable[CheckoutRecord]) -> int:
    """Insert or update the shop's checkouts ("newer wins"); returns the checkouts applied.

    The customer is linked by external id when the checkout names one (created if new),
    otherwise by normalised email within the shop.
    """
    grouped = _group(records, "external_id")
    if not grouped:
        return 0
    embedded = [r.customer for batch in grouped.values() for r in batch if r.customer is not None]
    _count, by_external_id = _upsert_customer_rows(session, shop_id, embedded)
    emails = {
        email
        for batch in grouped.values()
        for r in batch
        if r.customer is None and (email := normalize_email(r.email))
    }
    by_email = _customers_by_email(session, shop_id, emails) if emails else {}

    def link_of(record: CheckoutRecord) -> _CustomerLink | None:
        customer = None
        if record.customer is not None:
            customer = by_external_id.get(record.customer.external_id)
        else:
            customer = by_email.get(normalize_email(record.email) or "")
        if customer is None:
            return None
        return _CustomerLink(customer.id, customer.redacted_at is not None)

    inserted = _insert_new(
        session,
        Checkout,
        [
            {
                "shop_id": shop_id,
                "external_id": key,
                **_checkout_values(batch[0], link_of(batch[0])),
            }
            for key, batch in grouped.items()
        ],
        ("shop_id", "external_id"),
    )
    rows = _lock_rows(session, Checkout, shop_id, list(grouped))
    applied = 0
    for external_id, batch in grouped.items():
        row = rows[external_id]
        if external_id in inserted:
            applied += 1
            batch = batch[1:]
        for record in batch:
            if _is_newer(record.updated_at, row.platform_updated_at):
                for name, value in _checkout_values(record, link_of(record)).items():
                    setattr(row, name, value)
                applied += 1
    return applied
