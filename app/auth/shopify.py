"""Shopify install routes (authorization-code grant) and the embedded app's entry."""

from app.auth import bp  # noqa: F401
