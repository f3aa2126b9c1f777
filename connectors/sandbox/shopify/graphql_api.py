"""The GraphQL Admin API of the simulated store, executed against Shopify's real 2026-07 schema.

Layer: connectors/sandbox. A request is validated, costed, charged, executed on dict nodes and
refunded; errors come back as Shopify's do, and every answer carries `extensions.cost`.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute_sync,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from connectors.sandbox.shopify import mutations
from connectors.sandbox.shopify.cost import MAX_QUERY_COST, LeakyBucket, QueryCost
from connectors.sandbox.shopify.nodes import (
    CHECKOUT_LISTING,
    CUSTOMER_LISTING,
    ORDER_LISTING,
    PRODUCT_LISTING,
    GraphNodes,
)
from connectors.sandbox.shopify.pagination import Listing, connection
from connectors.sandbox.shopify.records import WebhookSubscription, parse_gid
from connectors.sandbox.shopify.webhooks import COMPLIANCE_TOPICS, topic_from_enum

if TYPE_CHECKING:
    from connectors.sandbox.shopify.store import SandboxStore

API_VERSION = "2026-07"
SCHEMA_FILE = Path(__file__).with_name(f"admin_{API_VERSION}.graphql.gz")
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
_DOCUMENT_CACHE_SIZE = 256

SUBSCRIPTION_LISTING: Listing[WebhookSubscription] = Listing(
    sort_keys={
        "ID": lambda subscription: subscription.id,
        "CREATED_AT": lambda subscription: subscription.created_at,
    },
    time_fields={
        "created_at": lambda subscription: subscription.created_at,
        "updated_at": lambda subscription: subscription.updated_at,
    },
    other_fields={"uri": lambda subscription: subscription.uri},
    record_id=lambda subscription: subscription.id,
)

_schema: GraphQLSchema | None = None
_schema_lock = threading.Lock()
_documents: OrderedDict[str, tuple[DocumentNode | None, list[Any]]] = OrderedDict()
_documents_lock = threading.Lock()


def admin_schema() -> GraphQLSchema:
    """The 2026-07 Admin schema, built on first use and shared by every sandbox in the process."""
    global _schema
    if _schema is None:
        with _schema_lock:
            if _schema is None:
                _schema = build_schema(gzip.decompress(SCHEMA_FILE.read_bytes()).decode())
    return _schema


def _error(message: str, **extensions: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message}
    if extensions:
        error["extensions"] = extensions
    return error


def _parsed(query: str) -> tuple[DocumentNode | None, list[Any]]:
    """The parsed document and its validation errors, cached per query text."""
    with _documents_lock:
        cached = _documents.get(query)
        if cached is not None:
            _documents.move_to_end(query)
            return cached
    try:
        document: DocumentNode | None = parse(query)
    except GraphQLError as error:
        result: tuple[DocumentNode | None, list[Any]] = (None, [error.formatted])
    else:
        assert document is not None  # noqa: S101 - parse returns a document or raises
        problems = validate(admin_schema(), document)
        result = (document, [problem.formatted for problem in problems])
    with _documents_lock:
        _documents[query] = result
        if len(_documents) > _DOCUMENT_CACHE_SIZE:
            _documents.popitem(last=False)
    return result


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((op for op in operations if op.name and op.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def execute_admin_request(store: SandboxStore, bucket: LeakyBucket, body: Any) -> dict[str, Any]:
    """The JSON answer to one `graphql.json` request body (always sent with HTTP 200)."""

    def refused(errors: list[Any]) -> dict[str, Any]:
        return {"errors": errors, "extensions": _cost_extension(0, 0, bucket)}

    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return refused([_error("Parameter Missing or Invalid: query")])
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return refused([_error("Variables must be a JSON object")])
    document, problems = _parsed(body["query"])
    if document is None or problems:
        return refused(problems)
    operation = _operation(document, body.get("operationName"))
    if operation is None:
        return refused([_error("An operation name is required when sending several operations")])
    schema = admin_schema()
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return refused([error.formatted for error in coerced])
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    cost = QueryCost(schema, operation, fragments, coerced)
    try:
        requested = cost.requested()
    except GraphQLError as error:
        return refused([error.formatted])
    if requested > MAX_QUERY_COST:
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost limit "
            f"({MAX_QUERY_COST}).\n\nSee {RATE_LIMIT_DOCS} for more information on how the "
            "cost of a query is calculated.\n\nTo query larger amounts of data with fewer "
            "limits, bulk operations should be used instead."
        )
        return {
            "errors": [
                _error(message, code="MAX_COST_EXCEEDED", cost=requested, maxCost=MAX_QUERY_COST)
            ],
            "extensions": _cost_extension(requested, None, bucket),
        }
    if not bucket.try_take(requested):
        return {
            "errors": [_error("Throttled", code="THROTTLED", documentation=RATE_LIMIT_DOCS)],
            "extensions": _cost_extension(requested, None, bucket),
        }
    with store.lock:
        result = execute_sync(
            schema,
            document,
            root_value=AdminRoot(store).root(),
            variable_values=variables,
            operation_name=body.get("operationName"),
        )
    actual = min(requested, cost.actual(result.data))
    bucket.give_back(requested - actual)
    answer: dict[str, Any] = {}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
    answer["data"] = result.data
    answer["extensions"] = _cost_extension(requested, actual, bucket)
    return answer


def _cost_extension(requested: int, actual: int | None, bucket: LeakyBucket) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.throttle_status(),
        }
    }


class AdminRoot:
    """Root query and mutation fields for one store; built per request under the store lock."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self.nodes = GraphNodes(store)

    def root(self) -> dict[str, Any]:
        store, nodes = self.store, self.nodes
        return {
            "shop": lambda _info: nodes.shop(),
            "customers": lambda _info, **args: self.listed(
                "customers", CUSTOMER_LISTING, store.customers, nodes.customer, args
            ),
            "orders": lambda _info, **args: self.listed(
                "orders", ORDER_LISTING, store.orders, nodes.order, args
            ),
            "products": lambda _info, **args: self.listed(
                "products", PRODUCT_LISTING, store.products, nodes.product, args
            ),
            "abandonedCheckouts": lambda _info, **args: self.listed(
                "checkouts", CHECKOUT_LISTING, store.checkouts, nodes.checkout, args
            ),
            "webhookSubscriptions": self.webhook_subscriptions,
            "customersCount": lambda _info, **args: self.count(
                store.customers, CUSTOMER_LISTING, args
            ),
            "ordersCount": lambda _info, **args: self.count(store.orders, ORDER_LISTING, args),
            "productsCount": lambda _info, **args: self.count(
                store.products, PRODUCT_LISTING, args
            ),
            "abandonedCheckoutsCount": lambda _info, **args: self.count(
                store.checkouts, CHECKOUT_LISTING, args
            ),
            "customer": lambda _info, id: self.lookup("Customer", id),
            "order": lambda _info, id: self.lookup("Order", id),
            "product": lambda _info, id: self.lookup("Product", id),
            "productVariant": lambda _info, id: self.lookup("ProductVariant", id),
            "inventoryItem": lambda _info, id: self.inventory_item(id),
            "abandonedCheckout": lambda _info, id: self.lookup("AbandonedCheckout", id),
            "node": lambda _info, id: self.node(id),
            "nodes": lambda _info, ids: [self.node(value) for value in ids],
            "webhookSubscriptionCreate": self.webhook_subscription_create,
            # Bulk operations live in connectors/sandbox/shopify/bulk.py.
            "bulkOperationRunQuery": lambda _info, query, groupObjects=False: (
                store._sandbox.bulk.run_query(store, query)
            ),
            "bulkOperation": lambda _info, id: store._sandbox.bulk.find(store, id),
            "webhookSubscriptionUpdate": self.webhook_subscription_update,
            "webhookSubscriptionDelete": self.webhook_subscription_delete,
            # Discount codes and consent write-back live in connectors/sandbox/shopify/mutations.py.
            "discountCodeBasicCreate": lambda _info, basicCodeDiscount: (
                mutations.discount_code_basic_create(store, basicCodeDiscount)
            ),
            "customerEmailMarketingConsentUpdate": lambda _info, input: (
                mutations.customer_email_marketing_consent_update(store, nodes, input)
            ),
            "webPixelCreate": lambda _info, webPixel: mutations.web_pixel_create(store, webPixel),
            "tagsAdd": lambda _info, id, tags: mutations.change_tags(store, id, tags, add=True),
            "tagsRemove": lambda _info, id, tags: mutations.change_tags(store, id, tags, add=False),
        }

    # ---- queries ---------------------------------------------------------------------------

    def listed(
        self,
        name: str,
        listing: Listing[Any],
        records: list[Any],
        to_node: Callable[[Any], dict[str, Any]],
        args: dict[str, Any],
    ) -> dict[str, Any]:
        """A top-level connection, walking the store's cached sort index."""
        store = self.store
        return connection(
            records,
            listing,
            to_node,
            index=lambda key: store.sorted_by(name, listing, records, key),
            zone=store.zone,
            **args,
        )

    def count(self, records: Any, listing: Any, args: dict[str, Any]) -> dict[str, Any]:
        matches = listing.predicate(args.get("query"), self.store.zone)
        total = sum(1 for record in records if matches(record))
        limit = args.get("limit", 10_000)
        if limit is not None and total > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": total, "precision": "EXACT"}

    def lookup(self, kind: str, value: str) -> dict[str, Any] | None:
        number = parse_gid(value, kind)
        if number is None or not str(value).startswith("gid://shopify/"):
            raise GraphQLError(f"Invalid global id '{value}'")
        return self._find(kind, number)

    def inventory_item(self, value: str) -> dict[str, Any] | None:
        """A variant's inventory item (same number as the variant in the simulator)."""
        number = parse_gid(value, "InventoryItem")
        if number is None or not str(value).startswith("gid://shopify/"):
            raise GraphQLError(f"Invalid global id '{value}'")
        found = self.store.variant_by_id(number)
        if found is None:
            return None
        variant, product = found
        node = self.nodes.variant(variant, product)
        return {
            "__typename": "InventoryItem",
            "id": str(value),
            "legacyResourceId": str(number),
            "variants": lambda _info, **_args: {
                "nodes": [node],
                "edges": [{"node": node, "cursor": "0"}],
                "pageInfo": {
                    "hasNextPage": False,
                    "hasPreviousPage": False,
                    "startCursor": "0",
                    "endCursor": "0",
                },
            },
        }

    def node(self, value: str) -> dict[str, Any] | None:
        parts = str(value).removeprefix("gid://shopify/").split("/")
        if not str(value).startswith("gid://shopify/") or len(parts) != 2 or not parts[1].isdigit():
            raise GraphQLError(f"Invalid global id '{value}'")
        return self._find(parts[0], int(parts[1]))

    def _find(self, kind: str, number: int) -> dict[str, Any] | None:
        store, nodes = self.store, self.nodes
        if kind == "Customer":
            customer = store.customer_by_id(number)
            return nodes.customer(customer) if customer else None
        if kind == "Order":
            order = store.order_by_id(number)
            return nodes.order(order) if order else None
        if kind == "Product":
            product = store.product_by_id(number)
            return nodes.product(product) if product else None
        if kind == "ProductVariant":
            found = store.variant_by_id(number)
            return nodes.variant(*found) if found else None
        if kind == "AbandonedCheckout":
            checkout = store.checkout_by_id(number)
            return nodes.checkout(checkout) if checkout else None
        if kind == "WebhookSubscription":
            subscription = store.subscriptions.get(number)
            return nodes.webhook_subscription(subscription) if subscription else None
        return None

    def webhook_subscriptions(self, _info: Any, **args: Any) -> dict[str, Any]:
        wanted = {topic_from_enum(name) for name in args.pop("topics", None) or ()}
        for unsupported_filter in ("format", "uri", "callbackUrl"):
            args.pop(unsupported_filter, None)
        subscriptions = [
            subscription
            for subscription in self.store.subscriptions.values()
            if not wanted or subscription.topic in wanted
        ]
        return connection(
            subscriptions,
            SUBSCRIPTION_LISTING,
            self.nodes.webhook_subscription,
            zone=self.store.zone,
            **args,
        )

    # ---- mutations -------------------------------------------------------------------------

    def webhook_subscription_create(
        self,
        _info: Any,
        topic: str,
        webhookSubscription: dict[str, Any],
    ) -> dict[str, Any]:
        """Records a shop-specific subscription (`uri` or the deprecated `callbackUrl`)."""
        uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl") or ""
        topic_name = topic_from_enum(topic)
        field = ["webhookSubscription", "uri" if "uri" in webhookSubscription else "callbackUrl"]
        parsed = urlparse(uri)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            return _user_error(field, "Address is invalid")
        if topic_name in COMPLIANCE_TOPICS:
            return _user_error(["topic"], "Compliance topics are configured in the app settings")
        for existing in self.store.subscriptions.values():
            if existing.topic == topic_name and existing.uri == uri:
                return _user_error(field, "Address for this topic has already been taken")
        subscription = self.store.add_subscription(
            topic_name,
            uri,
            name=webhookSubscription.get("name"),
            filter=webhookSubscription.get("filter"),
            include_fields=list(webhookSubscription.get("includeFields") or []),
            metafield_namespaces=list(webhookSubscription.get("metafieldNamespaces") or []),
        )
        return {
            "webhookSubscription": self.nodes.webhook_subscription(subscription),
            "userErrors": [],
        }

    def webhook_subscription_update(
        self, _info: Any, id: str, webhookSubscription: dict[str, Any]
    ) -> dict[str, Any]:
        """Changes a subscription's metafield namespaces (the only field Kizuna updates)."""
        number = parse_gid(id, "WebhookSubscription")
        if number is None or number not in self.store.subscriptions:
            return _user_error(["id"], "Webhook subscription does not exist")
        if "metafieldNamespaces" in webhookSubscription:
            namespaces = list(webhookSubscription.get("metafieldNamespaces") or [])
            self.store.set_subscription_namespaces(number, namespaces)
        return {
            "webhookSubscription": self.nodes.webhook_subscription(
                self.store.subscriptions[number]
            ),
            "userErrors": [],
        }

    def webhook_subscription_delete(self, _info: Any, id: str) -> dict[str, Any]:
        number = parse_gid(id, "WebhookSubscription")
        if number is None or number not in self.store.subscriptions:
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
            }
        self.store.remove_subscription(number)
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}


def _user_error(field: list[str], message: str) -> dict[str, Any]:
    return {"webhookSubscription": None, "userErrors": [{"field": field, "message": message}]}
