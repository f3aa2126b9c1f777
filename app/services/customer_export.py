"""Everything Kizuna stores about one customer of one shop, as JSON (a GDPR data request), and the
merchant's erase of one customer (WooCommerce has no `customers/redact`: the merchant asks).

Layer: services, scoped to the shop. The export reads every table that has both `shop_id` and
`customer_id` (tables added later are covered), the order lines and email events under them,
and the rows kept by address (suppressions, opt-in requests); it writes nothing. `erase` is the
`customers/redact` path (`services/redact.py`); the caller commits.
"""

from __future__ import annotations

import base64
import logging
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from app.db import Base, utcnow
from app.models import Customer, Shop
from app.services.redact import RedactSummary, redact_customer

log = logging.getLogger(__name__)

EXPORT_FORMAT = "kizuna.customer-export.v1"
# Bookkeeping rows with no data about the person (the keys of a sync): not part of an export.
_SKIPPED_TABLES = frozenset({"customer_products"})
# Rows kept by address rather than by customer.
_ADDRESS_TABLES = ("suppressions", "opt_in_requests")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _rows(session: Session, table: Table, *where: Any) -> list[dict[str, Any]]:
    result = session.execute(select(table).where(*where).order_by(*table.primary_key.columns))
    return [{key: _plain(value) for key, value in row._mapping.items()} for row in result]


def _customer_tables() -> list[Table]:
    return [
        table
        for table in Base.metadata.sorted_tables
        if "shop_id" in table.c and "customer_id" in table.c and table.name not in _SKIPPED_TABLES
    ]


def export_customer(session: Session, shop: Shop, customer_id: int) -> dict[str, Any] | None:
    """The shop's customer `customer_id` and every row about them, by table; None when the shop
    has no such customer."""
    customer = session.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.id == customer_id)
    ).one_or_none()
    if customer is None:
        return None
    customers = Base.metadata.tables["customers"]
    data: dict[str, list[dict[str, Any]]] = {
        "customers": _rows(session, customers, customers.c.id == customer.id)
    }
    for table in _customer_tables():
        data[table.name] = _rows(
            session, table, table.c.shop_id == shop.id, table.c.customer_id == customer.id
        )
    order_ids = [row["id"] for row in data.get("orders", [])]
    lines = Base.metadata.tables["order_lines"]
    data["order_lines"] = (
        _rows(session, lines, lines.c.shop_id == shop.id, lines.c.order_id.in_(order_ids))
        if order_ids
        else []
    )
    message_ids = [row["id"] for row in data.get("messages", [])]
    events = Base.metadata.tables["message_events"]
    data["message_events"] = (
        _rows(session, events, events.c.shop_id == shop.id, events.c.message_id.in_(message_ids))
        if message_ids
        else []
    )
    address = customer.email_normalized
    for name in _ADDRESS_TABLES:
        table = Base.metadata.tables[name]
        data[name] = (
            _rows(session, table, table.c.shop_id == shop.id, table.c.email_normalized == address)
            if address
            else []
        )
    log.info("customer export shop_id=%s customer_id=%s", shop.id, customer.id)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow().isoformat(),
        "shop": {"id": shop.id, "platform": shop.platform, "domain": shop.domain},
        "customer_external_id": customer.external_id,
        "data": dict(sorted(data.items())),
    }


def data_requests(session: Session, shop: Shop) -> list[dict[str, Any]]:
    """The shop's recorded `customers/data_request`s, newest first, with their customer's name
    and whether the customer is still held (a redact may have followed)."""
    requests = list(reversed((shop.sync_state or {}).get("data_requests") or []))
    ids = [r["customer_id"] for r in requests if isinstance(r.get("customer_id"), int)]
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.shop_id == shop.id, Customer.id.in_(ids))
        )
    }
    return [
        {**request, "customer": customers.get(request.get("customer_id"))} for request in requests
    ]


def erase_customer(session: Session, shop: Shop, customer_id: int) -> RedactSummary | None:
    """Erase one customer's personal data as a `customers/redact` would; None when the shop has
    no such customer. The caller commits."""
    customer = session.scalars(
        select(Customer).where(Customer.shop_id == shop.id, Customer.id == customer_id)
    ).one_or_none()
    if customer is None:
        return None
    summary = redact_customer(session, shop.id, customer.external_id, customer.email)
    log.info("customer erased by the merchant shop_id=%s customer_id=%s", shop.id, customer.id)
    return summary
