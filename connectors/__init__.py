"""Platform I/O (Shopify, WooCommerce, SendGrid) with no Flask: usable from jobs and tests alone."""
