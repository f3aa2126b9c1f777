"""WooCommerce webhook topics and their handlers, used by `jobs.process_webhook`.

Layer: jobs. Same handler signature as the Shopify ones: (session, event, shop, payload).
"""

from __future__ import annotations

from typing import Any

HANDLERS: dict[str, Any] = {}
