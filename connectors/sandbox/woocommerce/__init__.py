"""The simulated WooCommerce that the demo and the WooCommerce integration tests run against.

Layer: connectors/sandbox. Real HTTP (WSGI): wc-auth key exchange, REST API v3 (customers,
orders, products, webhooks) and signed webhook delivery without retries. Deterministic from
its seed.
"""

from connectors.sandbox.woocommerce.sandbox import SandboxWooCommerce
from connectors.sandbox.woocommerce.store import SandboxStore
from connectors.sandbox.woocommerce.webhooks import Delivery, sign

__all__ = ["Delivery", "SandboxStore", "SandboxWooCommerce", "sign"]
