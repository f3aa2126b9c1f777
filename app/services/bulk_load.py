"""Set-based writes of big batches of platform records (a backfill, an import) on PostgreSQL.

Layer: services; the caller commits. A batch is COPYed into staging tables and merged under the
rules `services/upsert` applies row by row (newer wins, consent only forward, redacted stays
blank, lines replaced, one `order_placed` event). SQLite takes the row-wise upserts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import driver_errors
from app.models import Shop
from app.services import purchase_stats, upsert
from connectors.base import CheckoutRecord, CustomerRecord, OrderRecord, ProductRecord

# What each bulk-loaded stream writes: the tables to ANALYZE once it is loaded.
LOADED_TABLES: dict[str, tuple[str, ...]] = {
    "customers": ("customers", "persons"),
    "orders": ("orders", "order_lines", "customers", "persons", "timeline_events"),
    "products": ("products", "product_variants", "product_collections"),
    "checkouts": ("checkouts", "customers", "persons"),
}
_PROFILE = ("email", "email_normalized", "first_name", "last_name", "phone", "city")
_DESCRIPTIVE = ("country_code", "locale")  # kept when a timed record omits them


def copy_supported(session: Session) -> bool:
    """Whether the session's database takes COPY (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"


def analyze_loaded_tables(session: Session, tables: Iterable[str]) -> None:
    """Refresh the planner statistics of tables a bulk load just filled, so the queries that
    follow do not wait for autovacuum (ANALYZE on PostgreSQL and SQLite)."""
    names = sorted(set(tables))
    if not names:
        return
    if copy_supported(session):
        session.execute(text(f"ANALYZE {', '.join(names)}"))
    else:
        for name in names:
            session.execute(text(f"ANALYZE {name}"))


class GrowingStatistics:
    """ANALYZE on a load's tables while it runs, each time the rows written since the last one
    reach the rows written before it (after 10,000, 20,000, 40,000, …): a load that stays
    planned on the empty tables' statistics scans the whole shop per batch once they are big,
    and autovacuum comes too late. Log-many ANALYZEs for a load of any size."""

    FIRST = 10_000

    def __init__(self, tables: Iterable[str]) -> None:
        self.tables = tuple(tables)
        self.written = 0
        self.next_at = self.FIRST

    def add(self, session: Session, rows: int) -> None:
        self.written += rows
        if self.written >= self.next_at and copy_supported(session):
            analyze_loaded_tables(session, self.tables)
            self.next_at = self.written * 2


def _copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    raw = session.connection().connection.driver_connection
    assert raw is not None  # noqa: S101 - a live connection
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with (
        driver_errors(session.get_bind().dialect, statement),
        raw.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    # Temporary tables get no statistics otherwise: the merges would be planned blind.
    session.execute(text(f"ANALYZE {table}"))


def _stage(session: Session, table: str, columns: str) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS {table}"))
    session.execute(text(f"CREATE TEMPORARY TABLE {table} ({columns}) ON COMMIT DROP"))


# --- customers -------------------------------------------------------------------------------

_CUSTOMER_STAGE = """
    seq int, external_id text PRIMARY KEY, email text, email_normalized text, first_name text,
    last_name text, phone text, city text, country_code text, locale text, tags text,
    consent_state text, consent_level text, consent_at timestamptz,
    platform_created_at timestamptz, platform_updated_at timestamptz,
    birth_month smallint, birth_day smallint, birth_year smallint,
    old_id bigint, old_email text, inserted boolean NOT NULL DEFAULT false,
    cid bigint, new_email text, redacted boolean NOT NULL DEFAULT false
"""
_CUSTOMER_COPIED = (
    "seq", "external_id", *_PROFILE, *_DESCRIPTIVE, "tags", "consent_state", "consent_level",
    "consent_at", "platform_created_at", "platform_updated_at", "birth_month", "birth_day",
    "birth_year",
)  # fmt: skip


def _newest(records: Sequence[Any]) -> Any:
    """The record "newer wins" keeps of several for one id (the last of equal times)."""
    winner = records[0]
    for record in records[1:]:
        if upsert._is_newer(record.updated_at, winner.updated_at):
            winner = record
    return winner


def _merged_customer(records: Sequence[CustomerRecord]) -> CustomerRecord:
    """One record for several of one id: the newest timed one, unknown columns filled from the
    untimed ones, consent from the one stating the latest."""
    timed = [r for r in records if r.updated_at is not None]
    base = _newest(timed) if timed else records[0]
    fills: dict[str, Any] = {}
    for record in records:
        if record.updated_at is not None:
            continue
        for name in (*_PROFILE[:1], *_PROFILE[2:], *_DESCRIPTIVE):
            if getattr(base, name) is None and fills.get(name) is None:
                fills[name] = getattr(record, name)
        if not base.tags and record.tags and "tags" not in fills:
            fills["tags"] = record.tags
    stating = [r for r in records if r.email_marketing_state is not None]
    if stating:
        latest = stating[0]
        for record in stating[1:]:
            at, best = upsert._consent_time(record), upsert._consent_time(latest)
            if best is None or (at is not None and at >= best):
                latest = record
        fills["email_marketing_state"] = latest.email_marketing_state
        fills["email_marketing_opt_in_level"] = latest.email_marketing_opt_in_level
        fills["email_marketing_updated_at"] = upsert._consent_time(latest)
    if not fills:
        return base
    return replace(base, **{k: v for k, v in fills.items() if v is not None})


def _customer_rows(records: Iterable[CustomerRecord]) -> list[tuple[Any, ...]]:
    grouped = upsert._group(records, "external_id")
    rows = []
    for seq, batch in enumerate(grouped.values()):
        record = _merged_customer(batch) if len(batch) > 1 else batch[0]
        carries = record.email_marketing_state is not None
        rows.append(
            (
                seq,
                record.external_id,
                record.email,
                upsert.normalize_email(record.email),
                record.first_name,
                record.last_name,
                record.phone,
                record.city,
                record.country_code,
                record.locale,
                None if record.tags is None else json.dumps(list(record.tags)),
                record.email_marketing_state,
                record.email_marketing_opt_in_level,
                upsert._consent_time(record) if carries else None,
                record.created_at,
                record.updated_at,
                record.birthday.month if record.birthday else None,
                record.birthday.day if record.birthday else None,
                record.birthday.year if record.birthday else None,
            )
        )
    return rows


# A staged birthday replaces the stored one as `upsert._merge_customer` does: when newer, or
# when none is known yet; never on a redacted customer.
_BIRTHDAY_TAKEN = (
    "(s.birth_month IS NOT NULL AND c.redacted_at IS NULL AND (c.birth_month IS NULL OR"
    " (s.platform_updated_at IS NOT NULL AND (c.platform_updated_at IS NULL"
    " OR s.platform_updated_at >= c.platform_updated_at))))"
)

_TIMED_NEWER = (
    "(s.platform_updated_at IS NOT NULL AND (c.platform_updated_at IS NULL"
    " OR s.platform_updated_at >= c.platform_updated_at))"
)
_CONSENT_FORWARD = (
    "(s.consent_state IS NOT NULL AND (c.email_marketing_updated_at IS NULL"
    " OR (s.consent_at IS NOT NULL AND s.consent_at >= c.email_marketing_updated_at)))"
)
_UNTIMED_FILLS = (
    "(s.platform_updated_at IS NULL AND ("
    + " OR ".join(
        f"(c.{name} IS NULL AND s.{name} IS NOT NULL)" for name in (*_PROFILE, *_DESCRIPTIVE)
    )
    + " OR (s.tags IS NOT NULL AND s.tags <> '[]' AND c.tags::text = '[]')))"
)


def _personal(column: str) -> str:
    return (
        f"CASE WHEN c.redacted_at IS NOT NULL THEN c.{column}"
        f" WHEN {_TIMED_NEWER} THEN s.{column}"
        f" WHEN s.platform_updated_at IS NULL THEN coalesce(c.{column}, s.{column})"
        f" ELSE c.{column} END"
    )


def _descriptive(column: str) -> str:
    return (
        f"CASE WHEN {_TIMED_NEWER} THEN coalesce(s.{column}, c.{column})"
        f" WHEN s.platform_updated_at IS NULL THEN coalesce(c.{column}, s.{column})"
        f" ELSE c.{column} END"
    )


_CUSTOMER_PROFILE_SET = ", ".join(
    [f"{name} = {_personal(name)}" for name in _PROFILE]
    + [f"{name} = {_descriptive(name)}" for name in _DESCRIPTIVE]
)


def _merge_customers(session: Session, shop_id: int, records: Iterable[CustomerRecord]) -> int:
    """Stage and merge customers; `_stage_customers` then maps external ids to `cid`."""
    rows = _customer_rows(records)
    _stage(session, "_stage_customers", _CUSTOMER_STAGE)
    if not rows:
        return 0
    _copy_rows(session, "_stage_customers", _CUSTOMER_COPIED, rows)
    shop = {"shop_id": shop_id}
    session.execute(
        text(
            "UPDATE _stage_customers s SET old_id = c.id, old_email = c.email_normalized"
            " FROM customers c WHERE c.shop_id = :shop_id AND c.external_id = s.external_id"
        ),
        shop,
    )
    account_id = session.scalar(select(Shop.account_id).where(Shop.id == shop_id))
    params = {"shop_id": shop_id, "account_id": account_id}
    # New customers are written once, already linked to their person (one per account+email).
    if account_id is not None:
        session.execute(
            text(
                "INSERT INTO persons (account_id, email_normalized, created_at)"
                " SELECT DISTINCT :account_id, s.email_normalized, now() FROM _stage_customers s"
                " WHERE s.old_id IS NULL AND s.email_normalized IS NOT NULL"
                " ON CONFLICT (account_id, email_normalized) DO NOTHING"
            ),
            params,
        )
    session.execute(
        text(
            """
            WITH inserted AS (
                INSERT INTO customers (
                    shop_id, external_id, email, email_normalized, first_name, last_name, phone,
                    city, country_code, locale, tags, email_marketing_state,
                    email_marketing_opt_in_level, email_marketing_updated_at, orders_count,
                    total_spent, platform_created_at, platform_updated_at, created_at, updated_at,
                    person_id, birth_month, birth_day, birth_year)
                SELECT :shop_id, s.external_id, s.email, s.email_normalized, s.first_name,
                    s.last_name, s.phone, s.city, s.country_code, s.locale,
                    coalesce(s.tags, '[]')::json, s.consent_state, s.consent_level, s.consent_at,
                    0, 0, s.platform_created_at, s.platform_updated_at, now(), now(), p.id,
                    s.birth_month, s.birth_day, s.birth_year
                FROM _stage_customers s LEFT JOIN persons p
                    ON p.account_id = :account_id AND p.email_normalized = s.email_normalized
                WHERE s.old_id IS NULL ORDER BY s.external_id
                ON CONFLICT (shop_id, external_id) DO NOTHING
                RETURNING external_id)
            UPDATE _stage_customers s SET inserted = true
            FROM inserted WHERE inserted.external_id = s.external_id
            """
        ),
        params,
    )
    existing = (
        "FROM _stage_customers s WHERE c.shop_id = :shop_id"
        " AND c.external_id = s.external_id AND NOT s.inserted"
    )
    changes = f"({_TIMED_NEWER} OR {_CONSENT_FORWARD} OR {_UNTIMED_FILLS} OR {_BIRTHDAY_TAKEN})"
    # Lock in id order, as the row-wise upserts do, so concurrent writers queue, not deadlock;
    # only the rows this batch changes (an order's bare customer reference changes nothing).
    session.execute(
        text(
            "SELECT c.id FROM customers c JOIN _stage_customers s"  # noqa: S608
            " ON c.external_id = s.external_id WHERE c.shop_id = :shop_id AND NOT s.inserted"
            f" AND {changes} ORDER BY c.id FOR UPDATE OF c"
        ),
        shop,
    )
    session.execute(
        text(
            f"""
            UPDATE customers c SET
                {_CUSTOMER_PROFILE_SET},
                tags = CASE
                    WHEN {_TIMED_NEWER} AND s.tags IS NOT NULL THEN s.tags::json
                    WHEN s.platform_updated_at IS NULL AND s.tags IS NOT NULL
                         AND s.tags <> '[]' AND c.tags::text = '[]' THEN s.tags::json
                    ELSE c.tags END,
                platform_created_at = CASE WHEN {_TIMED_NEWER}
                    THEN coalesce(s.platform_created_at, c.platform_created_at)
                    ELSE c.platform_created_at END,
                platform_updated_at = CASE WHEN {_TIMED_NEWER}
                    THEN s.platform_updated_at ELSE c.platform_updated_at END,
                email_marketing_state = CASE WHEN {_CONSENT_FORWARD}
                    THEN s.consent_state ELSE c.email_marketing_state END,
                email_marketing_opt_in_level = CASE WHEN {_CONSENT_FORWARD}
                    THEN s.consent_level ELSE c.email_marketing_opt_in_level END,
                email_marketing_updated_at = CASE WHEN {_CONSENT_FORWARD}
                    THEN s.consent_at ELSE c.email_marketing_updated_at END,
                birth_month = CASE WHEN {_BIRTHDAY_TAKEN} THEN s.birth_month ELSE c.birth_month END,
                birth_day = CASE WHEN {_BIRTHDAY_TAKEN} THEN s.birth_day ELSE c.birth_day END,
                birth_year = CASE WHEN {_BIRTHDAY_TAKEN} THEN s.birth_year ELSE c.birth_year END,
                updated_at = now()
            {existing} AND {changes}
            """  # noqa: S608
        ),
        shop,
    )
    session.execute(
        text(
            "UPDATE _stage_customers s SET cid = c.id, new_email = c.email_normalized,"
            " redacted = c.redacted_at IS NOT NULL"
            " FROM customers c WHERE c.shop_id = :shop_id AND c.external_id = s.external_id"
        ),
        shop,
    )
    if account_id is not None:
        _link_people(session, params)
    return len(rows)


def _link_people(session: Session, params: dict[str, Any]) -> None:
    """Relink customers whose email changed (as `people.link_customers`, set-wise), then apply
    the storefront opt-ins a new or changed address confirmed before the customer arrived."""
    relink = "(NOT s.inserted AND s.old_email IS DISTINCT FROM s.new_email)"
    before = list(
        session.scalars(
            text(
                "SELECT DISTINCT c.person_id FROM customers c JOIN _stage_customers s"  # noqa: S608
                f" ON c.id = s.cid WHERE {relink} AND c.person_id IS NOT NULL"
            )
        )
    )
    session.execute(
        text(
            "INSERT INTO persons (account_id, email_normalized, created_at)"  # noqa: S608
            " SELECT DISTINCT :account_id, s.new_email, now() FROM _stage_customers s"
            f" WHERE {relink} AND s.new_email IS NOT NULL AND NOT s.redacted"
            " ON CONFLICT (account_id, email_normalized) DO NOTHING"
        ),
        params,
    )
    session.execute(
        text(
            "UPDATE customers c SET person_id = CASE"  # noqa: S608
            " WHEN c.redacted_at IS NULL AND c.email_normalized IS NOT NULL THEN"
            " (SELECT p.id FROM persons p WHERE p.account_id = :account_id"
            "  AND p.email_normalized = c.email_normalized) END"
            f" FROM _stage_customers s WHERE c.id = s.cid AND {relink}"
            " AND c.person_id IS DISTINCT FROM CASE"
            " WHEN c.redacted_at IS NULL AND c.email_normalized IS NOT NULL THEN"
            " (SELECT p.id FROM persons p WHERE p.account_id = :account_id"
            "  AND p.email_normalized = c.email_normalized) END"
        ),
        params,
    )
    if before:
        session.execute(
            text(
                "DELETE FROM persons p WHERE p.id = ANY(:ids)"
                " AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.person_id = p.id)"
            ),
            {"ids": before},
        )
    session.execute(
        text(
            f"""
            UPDATE customers c SET email_marketing_state = 'SUBSCRIBED',
                email_marketing_opt_in_level = 'CONFIRMED_OPT_IN',
                email_marketing_updated_at = o.confirmed_at
            FROM _stage_customers s,
                 (SELECT email_normalized, min(confirmed_at) AS confirmed_at
                  FROM opt_in_requests WHERE shop_id = :shop_id AND confirmed_at IS NOT NULL
                  GROUP BY email_normalized) o
            WHERE c.id = s.cid AND (s.inserted OR {relink})
              AND c.email_normalized = o.email_normalized
              AND c.deleted_at IS NULL AND c.redacted_at IS NULL
              AND upper(coalesce(c.email_marketing_state, '')) <> 'SUBSCRIBED'
              AND (c.email_marketing_updated_at IS NULL
                   OR c.email_marketing_updated_at < o.confirmed_at)
            """  # noqa: S608
        ),
        params,
    )


def load_customers(session: Session, shop_id: int, records: Sequence[CustomerRecord]) -> int:
    """Write a batch of the shop's customers; the records written (row-wise off PostgreSQL)."""
    if not copy_supported(session):
        return upsert.upsert_customers(session, shop_id, records)
    session.flush()
    _merge_customers(session, shop_id, records)
    return len(records)


# --- orders ----------------------------------------------------------------------------------

_ORDER_STAGE = """
    seq int, external_id text PRIMARY KEY, customer_external_id text, name text, email text,
    billing_name text, financial_status text, fulfillment_status text, total_price numeric,
    subtotal_price numeric, currency text, checkout_token text, source_name text,
    cancelled_at timestamptz, processed_at timestamptz, platform_created_at timestamptz,
    platform_updated_at timestamptz, fulfilled_hint timestamptz, detail text,
    customer_id bigint, redacted boolean NOT NULL DEFAULT false,
    old_id bigint, old_customer_id bigint, applied_id bigint,
    inserted boolean NOT NULL DEFAULT false
"""
_ORDER_COPIED = (
    "seq", "external_id", "customer_external_id", "name", "email", "billing_name",
    "financial_status", "fulfillment_status", "total_price", "subtotal_price", "currency",
    "checkout_token", "source_name", "cancelled_at", "processed_at", "platform_created_at",
    "platform_updated_at", "fulfilled_hint", "detail",
)  # fmt: skip
_LINE_STAGE = """
    seq int, order_external_id text, external_id text, product_external_id text,
    variant_external_id text, title text, sku text, quantity int, price numeric, currency text
"""
_LINE_COPIED = (
    "seq", "order_external_id", "external_id", "product_external_id", "variant_external_id",
    "title", "sku", "quantity", "price", "currency",
)  # fmt: skip
_ORDER_COLUMNS = (
    "customer_external_id", "name", "financial_status", "fulfillment_status", "total_price",
    "subtotal_price", "currency", "checkout_token", "source_name", "cancelled_at",
    "processed_at", "platform_created_at", "platform_updated_at",
)  # fmt: skip
_FULFILLED_AT = "coalesce(s.fulfilled_hint, s.platform_updated_at, now())"


def _order_rows(
    records: Iterable[OrderRecord],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[CustomerRecord]]:
    orders: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    customers: list[CustomerRecord] = []
    line_seq = 0
    for seq, batch in enumerate(upsert._group(records, "external_id").values()):
        customers.extend(r.customer for r in batch if r.customer is not None)
        record = _newest(batch) if len(batch) > 1 else batch[0]
        detail = {
            "order_id": record.external_id,
            "name": record.name,
            "total_price": str(record.total_price),
            "currency": record.currency,
        }
        orders.append(
            (
                seq,
                record.external_id,
                record.customer.external_id if record.customer else None,
                record.name,
                record.email,
                record.billing_name,
                record.financial_status,
                record.fulfillment_status,
                record.total_price,
                record.subtotal_price,
                record.currency,
                record.checkout_token,
                record.source_name,
                record.cancelled_at,
                record.processed_at,
                record.created_at,
                record.updated_at,
                record.fulfilled_at,
                json.dumps(detail),
            )
        )
        for line in record.lines:
            line_seq += 1
            lines.append(
                (
                    line_seq,
                    record.external_id,
                    line.external_id,
                    line.product_external_id,
                    line.variant_external_id,
                    line.title[:500],
                    line.sku,
                    line.quantity,
                    line.price,
                    record.currency,
                )
            )
    return orders, lines, customers


def load_orders(
    session: Session,
    shop_id: int,
    records: Sequence[OrderRecord],
    totals_later: set[int] | None = None,
) -> int:
    """Write a batch of the shop's orders with their customers and lines; the orders applied
    (row-wise off PostgreSQL). Without `totals_later` (a batch), what each order changes is
    added to its customer's totals and bought products (`purchase_stats.record_orders`); with
    it, the customers whose totals need recomputing are added to it (a long load rewrites each
    customer once, at its end: `refresh_totals`)."""
    if not copy_supported(session):
        return upsert.upsert_orders(session, shop_id, records)
    session.flush()
    orders, lines, customers = _order_rows(records)
    if not orders:
        return 0
    _merge_customers(session, shop_id, customers)
    _stage(session, "_stage_orders", _ORDER_STAGE)
    _stage(session, "_stage_lines", _LINE_STAGE)
    _copy_rows(session, "_stage_orders", _ORDER_COPIED, orders)
    _copy_rows(session, "_stage_lines", _LINE_COPIED, lines)
    shop = {"shop_id": shop_id}
    statements = [
        # Each order's customer, known from the customers just merged.
        "UPDATE _stage_orders s SET customer_id = sc.cid, redacted = sc.redacted"
        " FROM _stage_customers sc WHERE sc.external_id = s.customer_external_id",
        "UPDATE _stage_orders s SET old_id = o.id, old_customer_id = o.customer_id"
        " FROM orders o WHERE o.shop_id = :shop_id AND o.external_id = s.external_id",
        f"""
        WITH inserted AS (
            INSERT INTO orders (shop_id, external_id, customer_id, email, billing_name,
                {", ".join(_ORDER_COLUMNS)}, fulfilled_at, created_at)
            SELECT :shop_id, s.external_id, s.customer_id,
                CASE WHEN s.redacted THEN NULL ELSE s.email END,
                CASE WHEN s.redacted THEN NULL ELSE s.billing_name END,
                {", ".join(f"s.{name}" for name in _ORDER_COLUMNS)},
                CASE WHEN s.fulfillment_status = 'fulfilled' THEN {_FULFILLED_AT} END, now()
            FROM _stage_orders s WHERE s.old_id IS NULL ORDER BY s.external_id
            ON CONFLICT (shop_id, external_id) DO NOTHING
            RETURNING id, external_id)
        UPDATE _stage_orders s SET applied_id = inserted.id, inserted = true
        FROM inserted WHERE inserted.external_id = s.external_id
        """,  # noqa: S608
        "SELECT o.id FROM orders o, _stage_orders s WHERE o.shop_id = :shop_id"
        " AND o.external_id = s.external_id AND NOT s.inserted ORDER BY o.id FOR UPDATE OF o",
        f"""
        WITH updated AS (
            UPDATE orders o SET customer_id = s.customer_id,
                email = CASE WHEN s.redacted THEN NULL ELSE s.email END,
                billing_name = CASE WHEN s.redacted THEN NULL ELSE s.billing_name END,
                {", ".join(f"{name} = s.{name}" for name in _ORDER_COLUMNS)},
                fulfilled_at = CASE WHEN o.fulfilled_at IS NULL
                    AND s.fulfillment_status = 'fulfilled' THEN {_FULFILLED_AT}
                    ELSE o.fulfilled_at END
            FROM _stage_orders s
            WHERE o.shop_id = :shop_id AND o.external_id = s.external_id AND NOT s.inserted
              AND (o.platform_updated_at IS NULL OR (s.platform_updated_at IS NOT NULL
                   AND s.platform_updated_at >= o.platform_updated_at))
            RETURNING o.id, o.external_id)
        UPDATE _stage_orders s SET applied_id = updated.id
        FROM updated WHERE updated.external_id = s.external_id
        """,  # noqa: S608
        # Lines: an applied order's lines become exactly the record's; a line id seen under
        # another order moves to this one.
        "DELETE FROM order_lines l USING _stage_orders s WHERE l.shop_id = :shop_id"
        " AND l.order_id = s.applied_id AND NOT s.inserted",
        """
        INSERT INTO order_lines (shop_id, order_id, external_id, product_external_id,
            variant_external_id, title, sku, quantity, price, currency)
        SELECT DISTINCT ON (l.external_id) :shop_id, s.applied_id, l.external_id,
            l.product_external_id, l.variant_external_id, l.title, l.sku, l.quantity, l.price,
            l.currency
        FROM _stage_lines l JOIN _stage_orders s ON s.external_id = l.order_external_id
        WHERE s.applied_id IS NOT NULL
        ORDER BY l.external_id, l.seq DESC
        ON CONFLICT (shop_id, external_id) DO UPDATE SET order_id = EXCLUDED.order_id,
            product_external_id = EXCLUDED.product_external_id,
            variant_external_id = EXCLUDED.variant_external_id, title = EXCLUDED.title,
            sku = EXCLUDED.sku, quantity = EXCLUDED.quantity, price = EXCLUDED.price,
            currency = EXCLUDED.currency
        """,
        """
        INSERT INTO timeline_events (shop_id, customer_id, kind, source_key, occurred_at, detail)
        SELECT :shop_id, o.customer_id, 'order_placed', o.external_id,
            coalesce(o.processed_at, o.platform_created_at, o.created_at), s.detail::json
        FROM _stage_orders s JOIN orders o ON o.id = s.applied_id
        WHERE o.customer_id IS NOT NULL
        ON CONFLICT (shop_id, kind, source_key) DO NOTHING
        """,
        """
        UPDATE customers c SET currency = x.currency
        FROM (SELECT DISTINCT ON (customer_id) customer_id, currency FROM _stage_orders
              WHERE applied_id IS NOT NULL AND customer_id IS NOT NULL
              ORDER BY customer_id, external_id DESC) x
        WHERE c.id = x.customer_id AND c.currency IS DISTINCT FROM x.currency
        """,
    ]
    before: dict[int, purchase_stats.OrderState] = {}
    for index, statement in enumerate(statements):
        session.execute(text(statement), shop)
        if index == 1 and totals_later is None:  # the stored orders' state, before the merge
            existing = session.scalars(
                text("SELECT old_id FROM _stage_orders WHERE old_id IS NOT NULL")
            )
            before = purchase_stats.order_states(session, shop_id, list(existing))
    if totals_later is None:
        # A batch (not a long load): each order adds only its own difference.
        applied_ids = list(
            session.scalars(
                text("SELECT applied_id FROM _stage_orders WHERE applied_id IS NOT NULL")
            )
        )
        after = purchase_stats.order_states(session, shop_id, applied_ids)
        purchase_stats.record_orders(
            session,
            shop_id,
            [
                purchase_stats.OrderChange(before.get(order_id), state)
                for order_id, state in after.items()
            ],
        )
        return len(applied_ids)
    # The totals of every customer an applied order names, now or before: recomputed once, at
    # the end of the load (`refresh_totals`).
    touched = set(
        session.scalars(
            text(
                "SELECT customer_id FROM _stage_orders"
                " WHERE applied_id IS NOT NULL AND customer_id IS NOT NULL"
                " UNION SELECT old_customer_id FROM _stage_orders"
                " WHERE applied_id IS NOT NULL AND old_customer_id IS NOT NULL"
            )
        )
    )
    totals_later.update(touched)
    applied = session.scalar(
        text("SELECT count(*) FROM _stage_orders WHERE applied_id IS NOT NULL")
    )
    return int(applied or 0)


_TOTALS_CHUNK = 50_000
_TOTALS_WORK_MEM = "64MB"


def refresh_totals(session: Session, shop_id: int, customer_ids: Iterable[int]) -> None:
    """`upsert.refresh_customer_totals`, set-wise: orders_count, total_spent (not cancelled),
    first and last order time, recomputed from the stored orders, and the customers' bought
    products (`upsert.refresh_customer_products`, one DELETE and one INSERT on PostgreSQL)."""
    ids = sorted(set(customer_ids))
    # Planned on the statistics of what was just loaded, sorting in memory.
    analyze_loaded_tables(session, ("orders", "order_lines", "customers"))
    if copy_supported(session):
        session.execute(text(f"SET LOCAL work_mem = '{_TOTALS_WORK_MEM}'"))
    upsert.refresh_customer_products(session, shop_id, ids)
    for start in range(0, len(ids), _TOTALS_CHUNK):
        session.execute(
            text(
                """
                WITH totals AS (
                    SELECT t.id, count(o.id) AS orders_count,
                        coalesce(sum(CASE WHEN o.cancelled_at IS NULL THEN o.total_price
                                     ELSE 0 END), 0) AS total_spent,
                        min(coalesce(o.processed_at, o.platform_created_at, o.created_at))
                            AS first_at,
                        max(coalesce(o.processed_at, o.platform_created_at, o.created_at))
                            AS last_at
                    FROM unnest(CAST(:ids AS bigint[])) AS t(id)
                    LEFT JOIN orders o ON o.shop_id = :shop_id AND o.customer_id = t.id
                    GROUP BY t.id)
                UPDATE customers c SET orders_count = totals.orders_count,
                    total_spent = totals.total_spent, first_order_at = totals.first_at,
                    last_order_at = totals.last_at
                FROM totals WHERE c.id = totals.id AND c.shop_id = :shop_id
                """
            ),
            {"shop_id": shop_id, "ids": ids[start : start + _TOTALS_CHUNK]},
        )


# --- products --------------------------------------------------------------------------------

_PRODUCT_STAGE = """
    seq int, external_id text PRIMARY KEY, title text, handle text, product_type text,
    vendor text, status text, image_url text, platform_updated_at timestamptz,
    has_collections boolean, applied_id bigint, inserted boolean NOT NULL DEFAULT false
"""
_PRODUCT_COPIED = (
    "seq", "external_id", "title", "handle", "product_type", "vendor", "status", "image_url",
    "platform_updated_at", "has_collections",
)  # fmt: skip
_PRODUCT_COLUMNS = _PRODUCT_COPIED[2:9]
_VARIANT_STAGE = """
    seq int, product_external_id text, external_id text, title text, sku text, price numeric,
    currency text, image_url text
"""
_VARIANT_COPIED = (
    "seq", "product_external_id", "external_id", "title", "sku", "price", "currency", "image_url",
)  # fmt: skip
_COLLECTION_STAGE = """
    seq int, product_external_id text, collection_external_id text, title text, handle text
"""
_COLLECTION_COPIED = ("seq", "product_external_id", "collection_external_id", "title", "handle")


def _product_rows(
    records: Iterable[ProductRecord],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    products: list[tuple[Any, ...]] = []
    variants: list[tuple[Any, ...]] = []
    collections: list[tuple[Any, ...]] = []
    for seq, batch in enumerate(upsert._group(records, "external_id").values()):
        record = _newest(batch) if len(batch) > 1 else batch[0]
        products.append(
            (
                seq,
                record.external_id,
                record.title[:500],
                record.handle,
                record.product_type,
                record.vendor,
                record.status,
                record.image_url,
                record.updated_at,
                record.collections is not None,
            )
        )
        for variant in record.variants:
            variants.append(
                (
                    len(variants),
                    record.external_id,
                    variant.external_id,
                    variant.title,
                    variant.sku,
                    variant.price,
                    record.currency,
                    variant.image_url,
                )
            )
        for ref in record.collections or ():
            collections.append(
                (
                    len(collections),
                    record.external_id,
                    ref.external_id,
                    ref.title[:255],
                    ref.handle[:255] if ref.handle else None,
                )
            )
    return products, variants, collections


def load_products(session: Session, shop_id: int, records: Sequence[ProductRecord]) -> int:
    """Write a batch of the shop's products with their variants and collections, set-wise
    under `upsert.upsert_products`' rules (newer wins; an applied product's variants become
    exactly the record's, its collections too when the record states them); the products
    applied (row-wise off PostgreSQL)."""
    if not copy_supported(session):
        return upsert.upsert_products(session, shop_id, records)
    session.flush()
    products, variants, collections = _product_rows(records)
    if not products:
        return 0
    _stage(session, "_stage_products", _PRODUCT_STAGE)
    _stage(session, "_stage_variants", _VARIANT_STAGE)
    _stage(session, "_stage_collections", _COLLECTION_STAGE)
    _copy_rows(session, "_stage_products", _PRODUCT_COPIED, products)
    _copy_rows(session, "_stage_variants", _VARIANT_COPIED, variants)
    _copy_rows(session, "_stage_collections", _COLLECTION_COPIED, collections)
    columns = ", ".join(_PRODUCT_COLUMNS)
    statements = [
        f"""
        WITH inserted AS (
            INSERT INTO products (shop_id, external_id, {columns}, created_at)
            SELECT :shop_id, s.external_id, {", ".join(f"s.{name}" for name in _PRODUCT_COLUMNS)},
                now()
            FROM _stage_products s WHERE NOT EXISTS (SELECT 1 FROM products p
                WHERE p.shop_id = :shop_id AND p.external_id = s.external_id)
            ORDER BY s.external_id
            ON CONFLICT (shop_id, external_id) DO NOTHING
            RETURNING id, external_id)
        UPDATE _stage_products s SET applied_id = inserted.id, inserted = true
        FROM inserted WHERE inserted.external_id = s.external_id
        """,  # noqa: S608
        "SELECT p.id FROM products p, _stage_products s WHERE p.shop_id = :shop_id"
        " AND p.external_id = s.external_id AND NOT s.inserted ORDER BY p.id FOR UPDATE OF p",
        f"""
        WITH updated AS (
            UPDATE products p SET {", ".join(f"{name} = s.{name}" for name in _PRODUCT_COLUMNS)}
            FROM _stage_products s
            WHERE p.shop_id = :shop_id AND p.external_id = s.external_id AND NOT s.inserted
              AND (p.platform_updated_at IS NULL OR (s.platform_updated_at IS NOT NULL
                   AND s.platform_updated_at >= p.platform_updated_at))
            RETURNING p.id, p.external_id)
        UPDATE _stage_products s SET applied_id = updated.id
        FROM updated WHERE updated.external_id = s.external_id
        """,  # noqa: S608
        # An applied product's variants become exactly the record's; a variant id seen under
        # another product moves to this one.
        """
        DELETE FROM product_variants v USING _stage_products s
        WHERE v.shop_id = :shop_id AND v.product_id = s.applied_id AND NOT s.inserted
          AND NOT EXISTS (SELECT 1 FROM _stage_variants sv
                          WHERE sv.product_external_id = s.external_id
                            AND sv.external_id = v.external_id)
        """,
        """
        INSERT INTO product_variants (shop_id, product_id, external_id, title, sku, price,
            currency, image_url)
        SELECT DISTINCT ON (v.external_id) :shop_id, s.applied_id, v.external_id, v.title, v.sku,
            v.price, v.currency, v.image_url
        FROM _stage_variants v JOIN _stage_products s ON s.external_id = v.product_external_id
        WHERE s.applied_id IS NOT NULL
        ORDER BY v.external_id, v.seq DESC
        ON CONFLICT (shop_id, external_id) DO UPDATE SET product_id = EXCLUDED.product_id,
            title = EXCLUDED.title, sku = EXCLUDED.sku, price = EXCLUDED.price,
            currency = EXCLUDED.currency, image_url = EXCLUDED.image_url
        """,
        # Collections only when the record states them (None: a payload that says nothing).
        """
        DELETE FROM product_collections pc USING _stage_products s
        WHERE pc.shop_id = :shop_id AND pc.product_id = s.applied_id AND NOT s.inserted
          AND s.has_collections
          AND NOT EXISTS (SELECT 1 FROM _stage_collections sc
                          WHERE sc.product_external_id = s.external_id
                            AND sc.collection_external_id = pc.collection_external_id)
        """,
        """
        INSERT INTO product_collections (shop_id, product_id, collection_external_id, title,
            handle)
        SELECT DISTINCT ON (s.applied_id, c.collection_external_id) :shop_id, s.applied_id,
            c.collection_external_id, c.title, c.handle
        FROM _stage_collections c JOIN _stage_products s
            ON s.external_id = c.product_external_id
        WHERE s.applied_id IS NOT NULL AND s.has_collections
        ORDER BY s.applied_id, c.collection_external_id, c.seq DESC
        ON CONFLICT (shop_id, product_id, collection_external_id) DO UPDATE
            SET title = EXCLUDED.title, handle = EXCLUDED.handle
        """,
    ]
    shop = {"shop_id": shop_id}
    for statement in statements:
        session.execute(text(statement), shop)
    applied = session.scalar(
        text("SELECT count(*) FROM _stage_products WHERE applied_id IS NOT NULL")
    )
    return int(applied or 0)


# --- checkouts -------------------------------------------------------------------------------

_CHECKOUT_STAGE = """
    seq int, external_id text PRIMARY KEY, customer_external_id text, email text,
    email_normalized text, recovery_url text, total_price numeric, currency text,
    line_items text, completed_at timestamptz, platform_created_at timestamptz,
    platform_updated_at timestamptz, customer_id bigint,
    redacted boolean NOT NULL DEFAULT false, inserted boolean NOT NULL DEFAULT false
"""
_CHECKOUT_COPIED = (
    "seq", "external_id", "customer_external_id", "email", "email_normalized", "recovery_url",
    "total_price", "currency", "line_items", "completed_at", "platform_created_at",
    "platform_updated_at",
)  # fmt: skip
_CHECKOUT_COLUMNS = (
    "customer_external_id", "recovery_url", "total_price", "currency", "completed_at",
    "platform_created_at", "platform_updated_at",
)  # fmt: skip


def _checkout_rows(
    records: Iterable[CheckoutRecord],
) -> tuple[list[tuple[Any, ...]], list[CustomerRecord]]:
    rows: list[tuple[Any, ...]] = []
    customers: list[CustomerRecord] = []
    for seq, batch in enumerate(upsert._group(records, "external_id").values()):
        customers.extend(r.customer for r in batch if r.customer is not None)
        record = _newest(batch) if len(batch) > 1 else batch[0]
        rows.append(
            (
                seq,
                record.external_id,
                record.customer.external_id if record.customer else None,
                record.email,
                upsert.normalize_email(record.email),
                record.recovery_url,
                record.total_price,
                record.currency,
                json.dumps([dict(item) for item in record.line_items]),
                record.completed_at,
                record.created_at,
                record.updated_at,
            )
        )
    return rows, customers


def load_checkouts(session: Session, shop_id: int, records: Sequence[CheckoutRecord]) -> int:
    """Write a batch of the shop's checkouts set-wise under `upsert.upsert_checkouts`' rules
    (newer wins; the customer by external id, created if new, else by email within the shop;
    a redacted customer's checkout keeps no email); the checkouts applied (row-wise off
    PostgreSQL)."""
    if not copy_supported(session):
        return upsert.upsert_checkouts(session, shop_id, records)
    session.flush()
    rows, customers = _checkout_rows(records)
    if not rows:
        return 0
    _merge_customers(session, shop_id, customers)
    _stage(session, "_stage_checkouts", _CHECKOUT_STAGE)
    _copy_rows(session, "_stage_checkouts", _CHECKOUT_COPIED, rows)
    email = "CASE WHEN s.redacted THEN NULL ELSE s.email END"
    statements = [
        "UPDATE _stage_checkouts s SET customer_id = sc.cid, redacted = sc.redacted"
        " FROM _stage_customers sc WHERE sc.external_id = s.customer_external_id",
        # No customer named: the shop's customer with the email, the newest live one first.
        """
        UPDATE _stage_checkouts s SET customer_id = x.id, redacted = x.redacted_at IS NOT NULL
        FROM (SELECT DISTINCT ON (c.email_normalized) c.id, c.email_normalized, c.redacted_at
              FROM customers c
              WHERE c.shop_id = :shop_id AND c.email_normalized IN (
                  SELECT email_normalized FROM _stage_checkouts
                  WHERE customer_external_id IS NULL AND email_normalized IS NOT NULL)
              ORDER BY c.email_normalized, (c.deleted_at IS NULL) DESC, c.id DESC) x
        WHERE s.customer_external_id IS NULL AND x.email_normalized = s.email_normalized
        """,
        f"""
        WITH inserted AS (
            INSERT INTO checkouts (shop_id, external_id, customer_id, email, line_items,
                {", ".join(_CHECKOUT_COLUMNS)}, created_at)
            SELECT :shop_id, s.external_id, s.customer_id, {email}, s.line_items::json,
                {", ".join(f"s.{name}" for name in _CHECKOUT_COLUMNS)}, now()
            FROM _stage_checkouts s WHERE NOT EXISTS (SELECT 1 FROM checkouts c
                WHERE c.shop_id = :shop_id AND c.external_id = s.external_id)
            ORDER BY s.external_id
            ON CONFLICT (shop_id, external_id) DO NOTHING
            RETURNING external_id)
        UPDATE _stage_checkouts s SET inserted = true
        FROM inserted WHERE inserted.external_id = s.external_id
        """,  # noqa: S608
        "SELECT c.id FROM checkouts c, _stage_checkouts s WHERE c.shop_id = :shop_id"
        " AND c.external_id = s.external_id AND NOT s.inserted ORDER BY c.id FOR UPDATE OF c",
        f"""
        UPDATE checkouts c SET customer_id = s.customer_id, email = {email},
            line_items = s.line_items::json,
            {", ".join(f"{name} = s.{name}" for name in _CHECKOUT_COLUMNS)}
        FROM _stage_checkouts s
        WHERE c.shop_id = :shop_id AND c.external_id = s.external_id AND NOT s.inserted
          AND (c.platform_updated_at IS NULL OR (s.platform_updated_at IS NOT NULL
               AND s.platform_updated_at >= c.platform_updated_at))
        """,  # noqa: S608
    ]
    applied = 0
    for statement in statements:
        result = session.execute(text(statement), {"shop_id": shop_id})
        if statement is statements[-1] or statement is statements[2]:
            applied += int(getattr(result, "rowcount", 0) or 0)
    return applied


def loader_for(stream: str, totals_later: set[int] | None = None) -> Any:
    """The set-based writer of a stream, or None (the stream is written row by row)."""
    if stream == "customers":
        return load_customers
    if stream == "orders":
        return partial(load_orders, totals_later=totals_later)
    if stream == "products":
        return load_products
    if stream == "checkouts":
        return load_checkouts
    return None
