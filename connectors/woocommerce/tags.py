"""Kizuna's segment tags on a WooCommerce customer, kept in one customer meta entry.

Layer: connectors. WooCommerce customers have no tags, so the write-back keeps the current set in
the meta key `kizuna_segments` as comma-separated text (what other plugins and WP queries can
match), written whole each time: a retried write is harmless. A guest has no record to write.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.consent import is_registered

SEGMENTS_KEY = "kizuna_segments"


def segments_meta(tags: Collection[str]) -> list[dict[str, str]]:
    """The `meta_data` entry that records `tags` (an empty value clears it)."""
    if any("," in tag for tag in tags):
        raise ValueError("segment tags for WooCommerce cannot contain commas")
    return [{"key": SEGMENTS_KEY, "value": ",".join(sorted(tags))}]


def write_segment_tags(
    client: WooCommerceClient, customer_id: str, tags: Collection[str]
) -> dict[str, Any]:
    """Replace the customer's Kizuna segment tags; the client's errors propagate."""
    if not is_registered(customer_id):
        raise ValueError("only registered WooCommerce customers have a record to write")
    data = {"meta_data": segments_meta(tags)}
    updated: dict[str, Any] = client.request("PUT", f"customers/{customer_id}", data=data).json()
    return updated
