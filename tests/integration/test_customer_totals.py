"""Customers' order totals (count, spend, first and last order) stay equal to their orders.

Integration tests on the real PostgreSQL test database and on SQLite: after every webhook-style
upsert (new order, update, cancellation, an order moving to another customer, a changed order
time, replays) and after a bulk backfill, each customer's `orders_count`, `total_spent`,
`first_order_at` and `last_order_at` equal a recomputation from the stored orders; a new order
changes its customer's totals without reading the customer's other orders.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import case, event, func, select
from sqlalchemy.orm import Session

from app.db import Database
from app.migrate import upgrade
from app.models import Customer, Order
from app.services import bulk_load
from app.services.upsert import refresh_customer_totals, upsert_orders
from connectors.base import CustomerRecord, OrderLineRecord, OrderRecord
from tests.factories.shops import build_shop

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture(params=["postgresql", "sqlite"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    if request.param == "postgresql":
        yield request.getfixturevalue("db")
        return
    url = f"sqlite:///{tmp_path / 'totals.sqlite3'}"
    upgrade(url)
    database = Database(url)
    with database.session() as sqlite_session:
        yield sqlite_session
    database.dispose()


@pytest.fixture
def shop_id(session: Session) -> int:
    return build_shop(session, "totals-test.myshopify.com").id


def order(external_id: str, buyer: str | None = "100", **changes: Any) -> OrderRecord:
    base = OrderRecord(
        external_id=external_id,
        updated_at=at(1),
        created_at=at(1),
        processed_at=at(1),
        currency="JPY",
        total_price=Decimal("40.00"),
        name=f"#{external_id}",
        customer=None
        if buyer is None
        else CustomerRecord(external_id=buyer, updated_at=None, email=f"{buyer}@example.com"),
        lines=(OrderLineRecord(f"{external_id}-1", "Sencha", 2, Decimal("20.00"), "p1", "v1"),),
    )
    return replace(base, **changes)


def stored_totals(session: Session, shop_id: int) -> dict[str, tuple[Any, ...]]:
    session.expire_all()
    return {
        row.external_id: (row.orders_count, row.total_spent, row.first_order_at, row.last_order_at)
        for row in session.scalars(select(Customer).where(Customer.shop_id == shop_id))
    }


def recomputed_totals(session: Session, shop_id: int) -> dict[str, tuple[Any, ...]]:
    """The totals written out from the orders: every order counts, spend only when not
    cancelled, first and last by `coalesce(processed_at, platform_created_at, created_at)`."""
    placed = func.coalesce(Order.processed_at, Order.platform_created_at, Order.created_at)
    spent = func.coalesce(
        func.sum(case((Order.cancelled_at.is_(None), Order.total_price), else_=0)), 0
    )
    found = dict.fromkeys(
        session.scalars(select(Customer.external_id).where(Customer.shop_id == shop_id)),
        (0, Decimal(0), None, None),
    )
    rows = session.execute(
        select(
            Customer.external_id, func.count(Order.id), spent, func.min(placed), func.max(placed)
        )
        .join(Order, Order.customer_id == Customer.id)
        .where(Customer.shop_id == shop_id, Order.shop_id == shop_id)
        .group_by(Customer.external_id)
    )
    for external_id, count, total, first, last in rows:
        found[external_id] = (count, Decimal(total), first, last)
    return found


def assert_current(session: Session, shop_id: int) -> dict[str, tuple[Any, ...]]:
    session.commit()
    stored = stored_totals(session, shop_id)
    assert stored == recomputed_totals(session, shop_id)
    return stored


def test_webhook_upserts_keep_the_totals_current(session: Session, shop_id: int) -> None:
    upsert_orders(session, shop_id, [order("1"), order("2", processed_at=at(5))])
    totals = assert_current(session, shop_id)
    assert totals["100"] == (2, Decimal("80.00"), at(1), at(5))

    # Paid, then a replay of the older version: nothing moves twice.
    paid = order("2", processed_at=at(5), updated_at=at(6), financial_status="paid")
    upsert_orders(session, shop_id, [paid])
    upsert_orders(session, shop_id, [paid, order("2", processed_at=at(5), updated_at=at(2))])
    assert assert_current(session, shop_id)["100"] == (2, Decimal("80.00"), at(1), at(5))

    # Cancelled: still counted (as the platform counts it), no longer spent.
    cancelled = replace(paid, updated_at=at(7), cancelled_at=at(7))
    upsert_orders(session, shop_id, [cancelled])
    assert assert_current(session, shop_id)["100"] == (2, Decimal("40.00"), at(1), at(5))

    # The last order moves to another customer, and the first order's time changes.
    moved = replace(cancelled, updated_at=at(8), customer=order("x", buyer="200").customer)
    retimed = order("1", updated_at=at(8), processed_at=at(3), total_price=Decimal("55.50"))
    upsert_orders(session, shop_id, [moved, retimed])
    totals = assert_current(session, shop_id)
    assert totals["100"] == (1, Decimal("55.50"), at(3), at(3))
    assert totals["200"] == (1, Decimal("0.00"), at(5), at(5))

    # Several orders of several customers in one batch, one of them twice; one without a buyer.
    batch = [
        order("3", processed_at=at(0), total_price=Decimal("10.25")),
        order("3", processed_at=at(0), total_price=Decimal("12.25"), updated_at=at(2)),
        order("4", buyer="200", processed_at=at(9)),
        order("5", buyer=None),
        order("6", buyer="300", processed_at=None, created_at=at(4)),
    ]
    upsert_orders(session, shop_id, batch)
    totals = assert_current(session, shop_id)
    assert totals["100"] == (2, Decimal("67.75"), at(0), at(3))
    assert totals["300"] == (1, Decimal("40.00"), at(4), at(4))


def test_a_new_order_does_not_read_the_customers_other_orders(
    session: Session, shop_id: int
) -> None:
    upsert_orders(session, shop_id, [order(str(n), processed_at=at(n)) for n in range(1, 30)])
    session.commit()
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        upsert_orders(session, shop_id, [order("100", processed_at=at(40))])
        session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    grouped = [s for s in statements if "from orders" in s and "group by" in s]
    assert grouped == []
    assert assert_current(session, shop_id)["100"][0] == 30


def test_a_repair_recomputes_totals_from_the_orders(session: Session, shop_id: int) -> None:
    upsert_orders(session, shop_id, [order("1"), order("2", processed_at=at(5))])
    session.commit()
    row = session.scalars(select(Customer).where(Customer.shop_id == shop_id)).one()
    row.orders_count, row.total_spent, row.last_order_at = 9, Decimal("1"), None
    session.commit()
    refresh_customer_totals(session, shop_id, [row.id])
    assert assert_current(session, shop_id)["100"] == (2, Decimal("80.00"), at(1), at(5))


@pytest.mark.parametrize("deferred", [False, True])
def test_a_backfill_keeps_the_totals_current(
    session: Session, shop_id: int, deferred: bool
) -> None:
    upsert_orders(session, shop_id, [order("1"), order("2", buyer="200")])
    session.commit()
    history = [
        order(str(n), buyer=str(100 + n % 7), processed_at=at(n % 11), updated_at=at(3))
        for n in range(1, 60)
    ]
    later = [
        replace(history[4], updated_at=at(4), cancelled_at=at(4)),
        replace(history[5], updated_at=at(4), customer=order("x", buyer="999").customer),
        replace(history[6], updated_at=at(4), processed_at=at(20)),
    ]
    totals_later: set[int] | None = set() if deferred else None
    for batch in (history[:30], history[30:], later):
        bulk_load.load_orders(session, shop_id, batch, totals_later=totals_later)
        session.commit()
    if totals_later is not None:
        bulk_load.refresh_totals(session, shop_id, totals_later)
    totals = assert_current(session, shop_id)
    assert totals["999"] == (1, Decimal("40.00"), at(6), at(6))
    assert sum(count for count, *_rest in totals.values()) == 59
