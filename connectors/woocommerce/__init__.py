"""WooCommerce connector: REST v3 client, wc-auth URL, mapping to records, webhook checks.

Layer: connectors (no Flask, no database); usable from jobs and tests alone.
"""

from connectors.woocommerce.auth import authorize_url, normalize_store_url
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.webhooks import Verification, verify_webhook_signature

__all__ = [
    "Verification",
    "WooCommerceClient",
    "authorize_url",
    "normalize_store_url",
    "verify_webhook_signature",
]
