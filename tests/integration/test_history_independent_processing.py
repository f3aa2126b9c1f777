"""Processing an `orders/paid` webhook costs the same whatever the shop's history: the same
statements and no more rows read at 100 and at 100,000 orders (real PostgreSQL; statements
counted at the driver, rows read from `pg_stat_xact_user_tables` over each committed
transaction). Two shops, one per history size, are loaded set-wise and analysed, as the import
path does, before either order is measured. The large shop's order is measured first, so what
the small shop's measurement meets in addition is one processed order, never history.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from app.domain.orchestration import REPLENISHMENT
from app.flows.post_purchase import refresh_history_stats
from app.models import Shop
from app.queueing import WEBHOOKS
from tests.factories.post_purchase import (
    BOWL,
    TEA,
    add_history,
    deliver_order,
    now,
    order_body,
    runs,
    setup_shop,
)

ROWS_READ = (
    "SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
    " FROM pg_stat_xact_user_tables"
)


@dataclass
class Cost:
    statements: int = 0
    rows_read: int = 0
    transactions: list[int] = field(default_factory=list)


def _rows_read(connection: Any) -> dict[str, int]:
    """Rows read per table as the backend counts them (the raw cursor: no statement event)."""
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.execute(ROWS_READ)
    rows = {str(name): int(count) for name, count in cursor.fetchall()}
    cursor.close()
    return rows


@pytest.fixture
def cost() -> Iterator[Cost]:
    """Statements run, and rows read by committed transactions, on every engine while open.

    A backend reports its counts with a delay, so `pg_stat_xact_user_tables` may still hold
    an earlier transaction's: each transaction counts the difference from its own start."""
    measured = Cost()

    def count_statement(*_args: Any) -> None:
        measured.statements += 1

    def at_begin(connection: Any) -> None:
        connection.info["rows_read_at_begin"] = _rows_read(connection)

    def at_commit(connection: Any) -> None:
        start = connection.info.pop("rows_read_at_begin", {})
        read = sum(n - start.get(name, 0) for name, n in _rows_read(connection).items())
        measured.rows_read += read
        measured.transactions.append(read)

    event.listen(Engine, "before_cursor_execute", count_statement)
    event.listen(Engine, "begin", at_begin)
    event.listen(Engine, "commit", at_commit)
    try:
        yield measured
    finally:
        event.remove(Engine, "commit", at_commit)
        event.remove(Engine, "begin", at_begin)
        event.remove(Engine, "before_cursor_execute", count_statement)


def load_history(db: Session, shop: Shop, first: int, last: int) -> None:
    """Orders `first`..`last` of the shop (one customer per five orders, one to three lines,
    placed over the last 300 days, every product of the catalogue), written set-wise."""
    params = {"shop": shop.id, "first": first, "last": last}
    db.execute(
        text(
            "INSERT INTO customers (shop_id, external_id, tags, orders_count, total_spent,"
            " created_at, updated_at)"
            " SELECT :shop, 'hc' || n, '[]', 0, 0, now(), now()"
            " FROM generate_series(:first / 5, :last / 5) AS n"
            " ON CONFLICT (shop_id, external_id) DO NOTHING"
        ),
        params,
    )
    db.execute(text("ANALYZE customers"))  # as the import path does after loading a stream
    db.execute(
        text(
            "INSERT INTO orders (shop_id, external_id, customer_id, financial_status,"
            " total_price, currency, processed_at, platform_updated_at, created_at)"
            " SELECT :shop, 'ho' || n, c.id, 'paid', 1000, 'JPY',"
            " now() - (n % 300) * interval '1 day', now() - (n % 300) * interval '1 day', now()"
            " FROM generate_series(CAST(:first AS int), :last) AS n"
            " JOIN customers c ON c.shop_id = :shop AND c.external_id = 'hc' || (n / 5)"
        ),
        params,
    )
    db.execute(text("ANALYZE orders"))
    db.execute(
        text(
            "INSERT INTO order_lines (shop_id, order_id, external_id, product_external_id,"
            " title, quantity, price, currency)"
            " SELECT o.shop_id, o.id, o.external_id || '-' || k, CAST(101 + (n + k) % 5 AS text),"
            " 'item', 1, 1000, 'JPY'"
            " FROM generate_series(CAST(:first AS int), :last) AS n"
            " JOIN orders o ON o.shop_id = :shop AND o.external_id = 'ho' || n"
            " CROSS JOIN generate_series(0, n % 3) AS k"
        ),
        params,
    )
    db.execute(text("ANALYZE order_lines"))
    db.commit()
    refresh_history_stats(db, shop.id)  # as the shop's daily job does


def process_paid_order(
    client: Any, db: Session, drain_jobs: Any, shop: Shop, order_id: int, cost: Cost
) -> Cost:
    """An `orders/paid` delivery by a customer who bought tea 40 and 20 days ago, received
    unmeasured and processed measured → what its processing cost."""
    customer = f"buyer{order_id}"
    placed = now() - timedelta(hours=2)
    add_history(db, shop, customer, 40, [TEA], base=placed)
    add_history(db, shop, customer, 20, [TEA], base=placed)
    body = order_body(order_id, [TEA, BOWL], placed=placed)
    body["customer"] = {"id": customer, "email": f"{customer}@example.jp"}
    deliver_order(client, lambda *_queues: None, body, "orders/paid", domain=shop.domain)
    before = (cost.statements, cost.rows_read, len(cost.transactions))
    drain_jobs(WEBHOOKS)
    return Cost(
        cost.statements - before[0], cost.rows_read - before[1], cost.transactions[before[2] :]
    )


def test_an_order_costs_the_same_with_100_or_100_000_orders_of_history(
    client: Any, db: Session, drain_jobs: Any, cost: Cost
) -> None:
    small_shop, _customer = setup_shop(db, domain="small-history.myshopify.com")
    large_shop, _customer = setup_shop(db, domain="large-history.myshopify.com")
    load_history(db, small_shop, 1, 100)
    load_history(db, large_shop, 1, 100_000)
    large = process_paid_order(client, db, drain_jobs, large_shop, 990002, cost)
    small = process_paid_order(client, db, drain_jobs, small_shop, 990001, cost)

    assert small.statements > 10  # the processing ran (claim, upserts, runs)
    assert len(runs(db, REPLENISHMENT)) == 4  # both orders reached the history-using flow
    assert large.statements == small.statements
    assert large.rows_read <= small.rows_read, (small, large)
