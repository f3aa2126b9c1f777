"""Webhook topics: the topic ↔ enum mapping, checked against the pinned Admin schema's enum."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import DEFAULT_SHOPIFY_API_VERSION
from connectors.shopify.subscriptions import (
    COMPLIANCE_TOPICS,
    TOPICS,
    enum_to_topic,
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
