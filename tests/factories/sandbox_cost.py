"""What the simulated Shopify charges for a query.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from typing import Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from connectors.sandbox.shopify.cost import QueryCost
from connectors.sandbox.shopify.graphql_api import admin_schema
from connectors.shopify import queries

PAGE_VARIABLES: dict[str, dict[str, Any]] = {
    "SHOP": {},
    "CUSTOMERS": {"first": queries.CUSTOMERS_PAGE_SIZE},
    "ORDERS": {"first": queries.ORDERS_PAGE_SIZE, "lines": queries.ORDER_LINES_PAGE_SIZE},
    "PRODUCTS": {"first": queries.PRODUCTS_PAGE_SIZE, "variants": queries.VARIANTS_PAGE_SIZE},
    "ABANDONED_CHECKOUTS": {
        "first": queries.CHECKOUTS_PAGE_SIZE,
        "lines": queries.CHECKOUT_LINES_PAGE_SIZE,
    },
    "WEBHOOK_SUBSCRIPTION_CREATE": {
        "topic": "ORDERS_CREATE",
        "webhookSubscription": {"uri": "https://example.com/hooks"},
    },
    "WEBHOOK_SUBSCRIPTION_UPDATE": {
        "id": "gid://shopify/WebhookSubscription/1",
        "webhookSubscription": {"metafieldNamespaces": ["facts"]},
    },
    "WEBHOOK_SUBSCRIPTIONS": {"first": 50},
    "SYNC_COUNTS": {},
    "BULK_OPERATION_RUN_QUERY": {"query": "{ shop { id } }", "groupObjects": False},
    "BULK_OPERATION": {"id": "gid://shopify/BulkOperation/1"},
    "DISCOUNT_CODE_BASIC_CREATE": {
        "basicCodeDiscount": {
            "title": "Kizuna",
            "code": "KZ-ABCDEFGH",
            "context": {"customers": {"add": ["gid://shopify/Customer/1"]}},
            "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}},
        }
    },
    "CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE": {
        "input": {
            "customerId": "gid://shopify/Customer/1",
            "emailMarketingConsent": {"marketingState": "UNSUBSCRIBED"},
        }
    },
    "TAGS_ADD": {"id": "gid://shopify/Customer/1", "tags": ["kizuna-rfm-champions"]},
    "TAGS_REMOVE": {"id": "gid://shopify/Customer/1", "tags": ["kizuna-rfm-champions"]},
    "INVENTORY_ITEM_VARIANTS": {"id": "gid://shopify/InventoryItem/1"},
    "WEB_PIXEL_CREATE": {"webPixel": {"settings": '{"endpoint": "https://example.com/e"}'}},
}


def cost_of(query: str, variables: dict[str, Any] | None = None) -> QueryCost:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return QueryCost(admin_schema(), operation, fragments, variables or {})
