"""`POST /webhooks/woocommerce`: signed WooCommerce deliveries (see connectors/woocommerce)."""

from app.webhooks import bp  # noqa: F401
