"""Reading a WooCommerce store's customers, products and orders as the sync does.

Layer: connectors (HTTP through `WooCommerceClient`, no database). `since` None reads a whole
collection in id order (a backfill). Otherwise products and orders use `modified_after` (exclusive,
whole seconds: callers pass a watermark with an overlap,
`app.services.woocommerce_sync.WATERMARK_OVERLAP`), and customers, which WooCommerce cannot filter
by modification, are read newest-registered first down to `since`. The sync
(`app.services.woocommerce_sync`) and the contract suite (`tests/contract/`) call exactly these;
open orders are mapped to checkouts by the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from connectors.woocommerce import mapping
from connectors.woocommerce.client import MAX_PER_PAGE, WooCommerceClient

Page = list[dict[str, Any]]


def modified_params(since: datetime | None) -> dict[str, Any]:
    """Query parameters of a products/orders window: all by id, or modified after `since`."""
    if since is None:
        return {"orderby": "id", "order": "asc"}
    return {
        "orderby": "modified",
        "order": "asc",
        "modified_after": since.strftime("%Y-%m-%dT%H:%M:%S"),
        "dates_are_gmt": True,
    }


def customer_pages(
    client: WooCommerceClient, since: datetime | None, *, per_page: int = MAX_PER_PAGE
) -> Iterator[Page]:
    """All customers (backfill), or the newest registered first down to `since`."""
    if since is None:
        yield from client.paginate(
            "customers", {"orderby": "id", "order": "asc", "role": "all"}, per_page
        )
        return
    for page in client.paginate(
        "customers", {"orderby": "registered_date", "order": "desc", "role": "all"}, per_page
    ):
        fresh = [
            c for c in page if (mapping.parse_gmt(c.get("date_created_gmt")) or since) >= since
        ]
        if fresh:
            yield fresh
        if len(fresh) < len(page):
            return


def product_pages(
    client: WooCommerceClient, since: datetime | None, *, per_page: int = MAX_PER_PAGE
) -> Iterator[Page]:
    """Products: all, or modified after `since`."""
    return client.paginate("products", modified_params(since), per_page)


def order_pages(
    client: WooCommerceClient, since: datetime | None, *, per_page: int = MAX_PER_PAGE
) -> Iterator[Page]:
    """Orders of every status (open ones are checkouts): all, or modified after `since`."""
    return client.paginate("orders", {**modified_params(since), "status": "any"}, per_page)
