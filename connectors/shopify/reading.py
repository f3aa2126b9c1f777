"""Reading a Shopify stream as the sync does: its pages, or the start of its bulk operation.

Layer: connectors (HTTP through `ShopifyAdminClient`, no database). Both readers select the same
window, `search_filter(stream, since, orders_since=…)`: records changed at or after `since`
(None: all), orders no older than `orders_since` (a shop without read_all_orders). The sync
(`app.services.sync`) and the connector contract suite (`tests/contract/`) call exactly these.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from connectors.shopify import queries
from connectors.shopify.bulk import start_bulk_query
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.streams import StreamSpec, search_filter


def read_pages(
    client: ShopifyAdminClient,
    stream: StreamSpec,
    since: datetime | None,
    *,
    orders_since: datetime | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """The raw nodes of `stream`'s window, one page (`stream.page_size`) at a time."""
    return client.paginate(
        stream.document,
        stream.connection,
        {**stream.variables, "query": search_filter(stream, since, orders_since=orders_since)},
        stream.page_size,
    )


def start_bulk_read(
    client: ShopifyAdminClient,
    stream: StreamSpec,
    since: datetime | None,
    *,
    orders_since: datetime | None = None,
) -> str:
    """Start the bulk operation over `stream`'s window (it must have a `bulk_document`); its
    id. `RetryableError` when Shopify runs another bulk query for the shop."""
    if stream.bulk_document is None:
        raise ValueError(f"the {stream.name} stream has no bulk query")
    text = queries.bulk_query(
        stream.bulk_document, search_filter(stream, since, orders_since=orders_since)
    )
    return start_bulk_query(client, text, group_objects=bool(stream.bulk_children))
