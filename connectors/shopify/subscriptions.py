"""Shop-specific webhook subscriptions: the topics Kizuna needs, and subscribing to them.

Layer: connectors. For code-grant and custom-app installs (managed installs get the app-level
ones from shopify.app.toml). Idempotent: topics already delivered to the URI are skipped, except
that a subscription lacking a metafield namespace Kizuna reads is updated to include it.
Compliance topics are declared in shopify.app.toml only; the API cannot create them.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.base import ConnectorError
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.mapping import BIRTH_DATE_NAMESPACE
from connectors.shopify.queries import (
    WEBHOOK_SUBSCRIPTION_CREATE,
    WEBHOOK_SUBSCRIPTION_UPDATE,
    WEBHOOK_SUBSCRIPTIONS,
)

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
# The metafield namespaces whose metafields a topic's payload must carry: the customer webhooks
# bring Shopify's standard birth date, so a birthday added later is known at once rather than
# at the next reconcile.
METAFIELD_NAMESPACES: dict[str, tuple[str, ...]] = {
    "customers/create": (BIRTH_DATE_NAMESPACE,),
    "customers/update": (BIRTH_DATE_NAMESPACE,),
}
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


def _subscriptions_at(client: ShopifyAdminClient, uri: str) -> dict[str, dict[str, Any]]:
    """Kizuna's topics the shop already delivers to `uri` → that subscription's node."""
    found: dict[str, dict[str, Any]] = {}
    for nodes in client.paginate(
        WEBHOOK_SUBSCRIPTIONS, "webhookSubscriptions", page_size=SUBSCRIPTIONS_PAGE_SIZE
    ):
        for node in nodes:
            topic = enum_to_topic(str(node.get("topic") or ""))
            if topic and node.get("uri") == uri:
                found[topic] = node
    return found


def existing_topics(client: ShopifyAdminClient, uri: str) -> set[str]:
    """Kizuna's topics the shop already delivers to `uri`."""
    return set(_subscriptions_at(client, uri))


def missing_namespaces(topic: str, node: dict[str, Any]) -> list[str]:
    """The metafield namespaces `topic` needs (`METAFIELD_NAMESPACES`) that its subscription
    `node` does not name."""
    present = {str(name) for name in node.get("metafieldNamespaces") or ()}
    return [name for name in METAFIELD_NAMESPACES.get(topic, ()) if name not in present]


def _check(data: dict[str, Any], field: str, topic: str) -> None:
    errors = (data.get(field) or {}).get("userErrors") or []
    if errors:
        messages = "; ".join(str(error.get("message")) for error in errors)
        raise ConnectorError(f"could not subscribe {topic}: {messages}", code="user_error")


def subscribe_webhooks(client: ShopifyAdminClient, uri: str) -> int:
    """Subscribe every topic in `TOPICS` to `uri`, each with its `METAFIELD_NAMESPACES`; the
    number now subscribed (all of them). An existing subscription missing a namespace is updated.

    A user error on any topic raises `ConnectorError` naming the topic; topics subscribed before
    the failure stay subscribed and are skipped on the next attempt.
    """
    existing = _subscriptions_at(client, uri)
    subscribed = set()
    for topic in TOPICS:
        namespaces = METAFIELD_NAMESPACES.get(topic, ())
        node = existing.get(topic)
        if node is None:
            subscription: dict[str, Any] = {"uri": uri, "format": "JSON"}
            if namespaces:
                subscription["metafieldNamespaces"] = list(namespaces)
            data = client.execute(
                WEBHOOK_SUBSCRIPTION_CREATE,
                {"topic": topic_to_enum(topic), "webhookSubscription": subscription},
            )
            _check(data, "webhookSubscriptionCreate", topic)
        elif lacking := missing_namespaces(topic, node):
            present = [str(name) for name in node.get("metafieldNamespaces") or ()]
            data = client.execute(
                WEBHOOK_SUBSCRIPTION_UPDATE,
                {
                    "id": node.get("id"),
                    "webhookSubscription": {"metafieldNamespaces": present + lacking},
                },
            )
            _check(data, "webhookSubscriptionUpdate", topic)
        subscribed.add(topic)
    log.info("shopify webhooks subscribed shop=%s count=%d", client.shop_domain, len(subscribed))
    return len(subscribed)
