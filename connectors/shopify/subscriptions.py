"""Shop-specific webhook subscriptions: the topics Kizuna needs, and subscribing to them.

Layer: connectors. For code-grant and custom-app installs (managed installs get the app-level
ones from shopify.app.toml). Idempotent: topics already delivered to the URI are skipped.
Compliance topics are declared in shopify.app.toml only; the API cannot create them.
"""

from __future__ import annotations

import logging

from connectors.base import ConnectorError
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.queries import WEBHOOK_SUBSCRIPTION_CREATE, WEBHOOK_SUBSCRIPTIONS

log = logging.getLogger(__name__)

TOPICS: tuple[str, ...] = (
    "customers/create",
    "customers/update",
    "customers/delete",
    "customers_email_marketing_consent/update",
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "checkouts/create",
    "checkouts/update",
    "inventory_levels/update",  # back in stock (app/flows/back_in_stock.py)
    "app/uninstalled",
    "bulk_operations/finish",  # ends the wait of a bulk backfill (app/services/sync.py)
)
COMPLIANCE_TOPICS: tuple[str, ...] = ("customers/data_request", "customers/redact", "shop/redact")

# Explicit, because the enum's underscores do not say where the "/" goes
# (APP_SUBSCRIPTIONS_UPDATE is app_subscriptions/update, APP_UNINSTALLED is app/uninstalled).
TOPIC_ENUMS: dict[str, str] = {topic: topic.replace("/", "_").upper() for topic in TOPICS}
ENUM_TOPICS: dict[str, str] = {enum: topic for topic, enum in TOPIC_ENUMS.items()}

SUBSCRIPTIONS_PAGE_SIZE = 100


def topic_to_enum(topic: str) -> str:
    """`orders/create` → `ORDERS_CREATE` (KeyError for a topic Kizuna does not use)."""
    return TOPIC_ENUMS[topic]


def enum_to_topic(enum: str) -> str | None:
    """`ORDERS_CREATE` → `orders/create`; None for a topic Kizuna does not use."""
    return ENUM_TOPICS.get(enum)


def existing_topics(client: ShopifyAdminClient, uri: str) -> set[str]:
    """Kizuna's topics the shop already delivers to `uri`."""
    found = set()
    for nodes in client.paginate(
        WEBHOOK_SUBSCRIPTIONS, "webhookSubscriptions", page_size=SUBSCRIPTIONS_PAGE_SIZE
    ):
        for node in nodes:
            topic = enum_to_topic(str(node.get("topic") or ""))
            if topic and node.get("uri") == uri:
                found.add(topic)
    return found


def subscribe_webhooks(client: ShopifyAdminClient, uri: str) -> int:
    """Subscribe every topic in `TOPICS` to `uri`; the number now subscribed (all of them).

    A user error on any topic raises `ConnectorError` naming the topic; topics subscribed before
    the failure stay subscribed and are skipped on the next attempt.
    """
    subscribed = existing_topics(client, uri)
    for topic in TOPICS:
        if topic in subscribed:
            continue
        data = client.execute(
            WEBHOOK_SUBSCRIPTION_CREATE,
            {"topic": topic_to_enum(topic), "webhookSubscription": {"uri": uri, "format": "JSON"}},
        )
        result = data.get("webhookSubscriptionCreate") or {}
        errors = result.get("userErrors") or []
        if errors:
            messages = "; ".join(str(error.get("message")) for error in errors)
            raise ConnectorError(f"could not subscribe {topic}: {messages}", code="user_error")
        subscribed.add(topic)
    log.info("shopify webhooks subscribed shop=%s count=%d", client.shop_domain, len(subscribed))
    return len(subscribed)
