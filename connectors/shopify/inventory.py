"""Inventory reads: which variants an inventory item stocks, and turning the storefront web
pixel on for a shop.

Layer: connectors (no app imports). `inventory_levels/update` names an inventory item and a
location, never the product: `item_variants` asks the Admin API (one small query, made only
when someone waits for a product of the shop).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from connectors.base import ConnectorError
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.queries import INVENTORY_ITEM_VARIANTS, WEB_PIXEL_CREATE


def item_variants(client: ShopifyAdminClient, inventory_item_id: str) -> list[tuple[str, str]]:
    """(product id, variant id) of each variant the inventory item stocks; [] when the item is
    unknown (deleted since the delivery)."""
    data = client.execute(
        INVENTORY_ITEM_VARIANTS, {"id": f"gid://shopify/InventoryItem/{inventory_item_id}"}
    )
    item = data.get("inventoryItem") or {}
    found = []
    for node in (item.get("variants") or {}).get("nodes") or ():
        variant = str(node.get("legacyResourceId") or "")
        product = str((node.get("product") or {}).get("legacyResourceId") or "")
        if variant and product:
            found.append((product, variant))
    return found


def create_web_pixel(client: ShopifyAdminClient, settings: Mapping[str, str]) -> str:
    """Turn the app's web pixel on with `settings`; its id. `ConnectorError` on a user error
    (a pixel already created answers with one too: the caller may treat it as done)."""
    data = client.execute(WEB_PIXEL_CREATE, {"webPixel": {"settings": json.dumps(dict(settings))}})
    result = data.get("webPixelCreate") or {}
    errors = result.get("userErrors") or []
    if errors:
        raise ConnectorError(f"webPixelCreate: {errors[0].get('message')}")
    return str((result.get("webPixel") or {}).get("id") or "")
