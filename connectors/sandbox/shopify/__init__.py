"""The simulated Shopify that the demo and every integration test run against.

Layer: connectors/sandbox. A real HTTP server (WSGI) speaking Shopify's OAuth, token exchange,
session tokens, GraphQL Admin API 2026-07 (real schema, cost and throttling) and signed webhooks,
for one app and any number of generated stores. Deterministic from its seed.
"""

from connectors.sandbox.shopify.cost import PLANS, RateLimit
from connectors.sandbox.shopify.oauth import query_hmac
from connectors.sandbox.shopify.sandbox import SandboxShopify
from connectors.sandbox.shopify.server import admin_host, serve_sandbox
from connectors.sandbox.shopify.store import SandboxStore
from connectors.sandbox.shopify.webhooks import Delivery, sign, topic_enum, topic_from_enum

__all__ = [
    "PLANS",
    "Delivery",
    "RateLimit",
    "SandboxShopify",
    "SandboxStore",
    "admin_host",
    "query_hmac",
    "serve_sandbox",
    "sign",
    "topic_enum",
    "topic_from_enum",
]
