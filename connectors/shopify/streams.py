"""The Shopify streams Kizuna syncs: primary key, cursor field, page size, documents, cursors.

Layer: connectors (pure). Read in `updated_at` windows; a saved cursor never passes the sync's
start minus `SAFETY_OVERLAP` ("newer wins" upserts make the overlap harmless). Admin API 2026-07.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.shopify import mapping, queries

Node = Mapping[str, Any]

SAFETY_OVERLAP = timedelta(minutes=2)
ORDER_HISTORY_WITHOUT_ALL_ORDERS = timedelta(days=60)
ALL_ORDERS_SCOPE = "read_all_orders"


@dataclass(frozen=True)
class StreamSpec:
    """One Shopify resource as a stream (Meltano/Airbyte style).

    `sorted_by_cursor`: pages come in `cursor_field` order, so the cursor may be saved after
    every page; otherwise (abandoned checkouts sort by creation only) once the stream is read.
    `bulk_document` is the bulk-operation query (None: the stream is always paginated) and
    `bulk_children` maps a child row's GID type to the connection it belongs to.
    """

    name: str
    document: str
    connection: str
    page_size: int
    to_record: Callable[[Node, str], Any]
    count_variable: str
    primary_key: str = "id"
    cursor_field: str = "updated_at"
    variables: Mapping[str, Any] = field(default_factory=dict)
    sorted_by_cursor: bool = True
    bulk_document: str | None = None
    bulk_children: Mapping[str, str] = field(default_factory=dict)
    # Orders (and only orders) are limited to 60 days without read_all_orders.
    limited_by_order_scope: bool = False


CUSTOMERS = StreamSpec(
    name="customers",
    document=queries.CUSTOMERS,
    connection="customers",
    page_size=queries.CUSTOMERS_PAGE_SIZE,
    to_record=lambda node, _currency: mapping.customer_from_node(node),
    count_variable="customers",
    bulk_document=queries.BULK_CUSTOMERS,
)
PRODUCTS = StreamSpec(
    name="products",
    document=queries.PRODUCTS,
    connection="products",
    page_size=queries.PRODUCTS_PAGE_SIZE,
    to_record=mapping.product_from_node,
    count_variable="products",
    variables={"variants": queries.VARIANTS_PAGE_SIZE},
    bulk_document=queries.BULK_PRODUCTS,
    bulk_children={"ProductVariant": "variants", "Collection": "collections"},
)
ORDERS = StreamSpec(
    name="orders",
    document=queries.ORDERS,
    connection="orders",
    page_size=queries.ORDERS_PAGE_SIZE,
    to_record=lambda node, _currency: mapping.order_from_node(node),
    count_variable="orders",
    variables={"lines": queries.ORDER_LINES_PAGE_SIZE},
    bulk_document=queries.BULK_ORDERS,
    bulk_children={"LineItem": "lineItems"},
    limited_by_order_scope=True,
)
CHECKOUTS = StreamSpec(
    name="checkouts",
    document=queries.ABANDONED_CHECKOUTS,
    connection="abandonedCheckouts",
    page_size=queries.CHECKOUTS_PAGE_SIZE,
    to_record=lambda node, _currency: mapping.checkout_from_node(node),
    count_variable="checkouts",
    variables={"lines": queries.CHECKOUT_LINES_PAGE_SIZE},
    sorted_by_cursor=False,
)

STREAMS: tuple[StreamSpec, ...] = (CUSTOMERS, PRODUCTS, ORDERS, CHECKOUTS)
STREAMS_BY_NAME: dict[str, StreamSpec] = {stream.name: stream for stream in STREAMS}
COUNT_FIELDS = {
    "customers": "customersCount",
    "orders": "ordersCount",
    "products": "productsCount",
    "checkouts": "abandonedCheckoutsCount",
}


def format_time(moment: datetime) -> str:
    """A UTC time as Shopify's search syntax takes it (`2026-11-25T10:00:00Z`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_cursor(value: Any) -> datetime | None:
    """A cursor saved in `sync_state["cursors"]` (ISO text) as aware UTC; None when unusable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def has_all_orders(scopes: str | None) -> bool:
    """Whether the granted scopes reach past 60 days of orders (unknown scopes: assume so)."""
    granted = {scope.strip() for scope in (scopes or "").split(",") if scope.strip()}
    return not granted or ALL_ORDERS_SCOPE in granted


def search_filter(
    stream: StreamSpec,
    cursor: datetime | None,
    *,
    orders_since: datetime | None = None,
) -> str | None:
    """The Shopify search filter of one window: `updated_at:>=cursor`, plus the 60-day floor on
    orders when `orders_since` is given; None reads everything."""
    terms = []
    if cursor is not None:
        terms.append(f"{stream.cursor_field}:>='{format_time(cursor)}'")
    if orders_since is not None and stream.limited_by_order_scope:
        terms.append(f"created_at:>='{format_time(orders_since)}'")
    return " AND ".join(terms) or None


def cursor_ceiling(sync_started_at: datetime) -> datetime:
    """The latest cursor a sync that started at `sync_started_at` may save."""
    return sync_started_at - SAFETY_OVERLAP


def advance_cursor(
    saved: datetime | None, seen: Iterable[datetime | None], sync_started_at: datetime
) -> datetime | None:
    """The cursor after a fully written window: the newest `updated_at` seen (never going back
    from `saved`), capped at `cursor_ceiling(sync_started_at)`."""
    newest = max((moment for moment in seen if moment is not None), default=None)
    candidate = max((m for m in (saved, newest) if m is not None), default=None)
    if candidate is None:
        return None
    ceiling = cursor_ceiling(sync_started_at)
    if saved is not None and saved > ceiling:
        return saved  # saved by a later sync: never move it back
    return min(candidate, ceiling)


def finished_cursor(saved: datetime | None, sync_started_at: datetime) -> datetime:
    """The cursor once a whole stream has been read: everything changed before the sync started
    (minus the overlap) is in; a cursor saved by a later sync is kept."""
    ceiling = cursor_ceiling(sync_started_at)
    return saved if saved is not None and saved > ceiling else ceiling


def record_time(record: Any) -> datetime | None:
    """The cursor field of a mapped record (every record type carries `updated_at`)."""
    value = getattr(record, "updated_at", None)
    return value if isinstance(value, datetime) else None


def count_variables(filters: Mapping[str, str | None]) -> dict[str, str | None]:
    """Variables of `queries.SYNC_COUNTS` for per-stream filters keyed by stream name."""
    return {STREAMS_BY_NAME[name].count_variable: value for name, value in filters.items()}


def totals_from_counts(data: Mapping[str, Any], names: Iterable[str]) -> dict[str, int]:
    """Per-stream totals from a `SYNC_COUNTS` answer (streams without a count left out)."""
    totals = {}
    for name in names:
        value = data.get(COUNT_FIELDS[name])
        count = value.get("count") if isinstance(value, Mapping) else None
        if isinstance(count, int):
            totals[name] = count
    return totals


def progress(
    done: int, total: int | None, elapsed_seconds: float
) -> tuple[float | None, float | None]:
    """Records per second and seconds left (None when not yet computable)."""
    rate = done / elapsed_seconds if elapsed_seconds > 0 and done > 0 else None
    if rate is None or total is None:
        return rate, None
    return rate, max(0.0, (total - done) / rate)
