"""Webhook topics: the topic ↔ enum mapping, checked against the pinned Admin schema's enum;
the subscription requests (with the customer topics' metafield namespace) valid against it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema, OperationDefinitionNode, build_schema, parse
from graphql.execution.values import get_variable_values

from app.config import DEFAULT_SHOPIFY_API_VERSION
from connectors.shopify.subscriptions import (
    COMPLIANCE_TOPICS,
    METAFIELD_NAMESPACES,
    TOPICS,
    enum_to_topic,
    subscribe_webhooks,
    topic_to_enum,
)

SCHEMA = (
    Path(__file__).resolve().parents[2].parent
    / "shared/specs/shopify/admin_graphql"
    / f"admin_{DEFAULT_SHOPIFY_API_VERSION}.graphql"
)


def _schema_topics() -> set[str]:
    text = SCHEMA.read_text()
    start = text.index("enum WebhookSubscriptionTopic {")
    body = text[start : text.index("\n}", start)]
    return set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s*$", body, re.MULTILINE))


def test_every_topic_is_a_value_of_the_schema_enum() -> None:
    assert {topic_to_enum(topic) for topic in TOPICS} <= _schema_topics()


def test_mapping_round_trips() -> None:
    assert topic_to_enum("customers_email_marketing_consent/update") == (
        "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE"
    )
    assert topic_to_enum("app/uninstalled") == "APP_UNINSTALLED"
    for topic in TOPICS:
        assert enum_to_topic(topic_to_enum(topic)) == topic
    assert enum_to_topic("APP_SUBSCRIPTIONS_UPDATE") is None


def test_compliance_topics_are_not_subscribed_through_the_api() -> None:
    assert not set(COMPLIANCE_TOPICS) & set(TOPICS)
    assert "app/uninstalled" in TOPICS


@cache
def _schema() -> GraphQLSchema:
    return build_schema(SCHEMA.read_text())


class _RecordingClient:
    """Answers the subscription listing with `existing` and records each mutation, after
    checking its variables against the pinned schema."""

    shop_domain = "unit.myshopify.com"

    def __init__(self, existing: list[dict[str, Any]]) -> None:
        self.existing = existing
        self.sent: list[tuple[str, Mapping[str, Any]]] = []

    def paginate(self, document: str, field: str, **_: Any) -> Iterator[list[dict[str, Any]]]:
        yield self.existing

    def execute(self, document: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        [operation] = parse(document).definitions
        assert isinstance(operation, OperationDefinitionNode)
        coerced = get_variable_values(
            _schema(), operation.variable_definitions or (), dict(variables)
        )
        assert isinstance(coerced, dict), coerced  # a list of errors otherwise
        assert operation.name is not None
        self.sent.append((operation.name.value, variables))
        field = (
            "webhookSubscriptionCreate"
            if "Create" in operation.name.value
            else ("webhookSubscriptionUpdate")
        )
        return {field: {"webhookSubscription": {"id": "gid://x"}, "userErrors": []}}


URI = "https://kizuna.example.com/webhooks/shopify"


def test_customer_topics_are_subscribed_with_the_birth_date_namespace() -> None:
    assert METAFIELD_NAMESPACES["customers/update"] == ("facts",)
    client = _RecordingClient([])
    assert subscribe_webhooks(client, URI) == len(TOPICS)  # type: ignore[arg-type]
    created = {variables["topic"]: variables["webhookSubscription"] for _, variables in client.sent}
    assert set(created) == {topic_to_enum(topic) for topic in TOPICS}
    for topic in TOPICS:
        subscription = created[topic_to_enum(topic)]
        assert subscription.get("metafieldNamespaces", []) == list(
            METAFIELD_NAMESPACES.get(topic, ())
        )


def test_an_existing_customer_subscription_without_the_namespace_is_updated() -> None:
    existing = [
        {"id": f"gid://shopify/WebhookSubscription/{number}", "topic": topic_to_enum(topic),
         "uri": URI, "metafieldNamespaces": ["custom"] if topic == "customers/update" else []}
        for number, topic in enumerate(TOPICS)
    ]  # fmt: skip
    client = _RecordingClient(existing)
    assert subscribe_webhooks(client, URI) == len(TOPICS)  # type: ignore[arg-type]
    updates = {str(variables["id"]): variables for name, variables in client.sent}
    assert [name for name, _ in client.sent] == ["KizunaWebhookSubscriptionUpdate"] * 2
    by_topic = {node["topic"]: node["id"] for node in existing}
    create = updates[by_topic["CUSTOMERS_CREATE"]]["webhookSubscription"]
    update = updates[by_topic["CUSTOMERS_UPDATE"]]["webhookSubscription"]
    assert create == {"metafieldNamespaces": ["facts"]}
    assert update == {"metafieldNamespaces": ["custom", "facts"]}  # the shop's own one stays
    client = _RecordingClient([{**node, "metafieldNamespaces": ["facts"]} for node in existing])
    subscribe_webhooks(client, URI)  # type: ignore[arg-type]
    assert client.sent == []  # nothing left to change
