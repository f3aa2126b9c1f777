"""Customer tags on Shopify: `tagsAdd` and `tagsRemove`, the write side of segment write-back.

Layer: connectors (no Flask, no database). Both mutations are idempotent on Shopify (adding a tag
the customer has, or removing one it lacks, changes nothing), so a retried call is safe.
Needs `write_customers`; userErrors raise `ConnectorError`. Shopify tags: at most 255 characters.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

from connectors.base import ConnectorError
from connectors.shopify.queries import TAGS_ADD, TAGS_REMOVE

MAX_TAG_LENGTH = 255


class GraphQLExecutor(Protocol):
    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]: ...


def _change_tags(
    client: GraphQLExecutor, document: str, field: str, gid: str, tags: Collection[str]
) -> None:
    too_long = [tag for tag in tags if len(tag) > MAX_TAG_LENGTH]
    if too_long:
        raise ValueError(f"Shopify tags are at most {MAX_TAG_LENGTH} characters: {too_long[0]!r}")
    data = client.execute(document, {"id": gid, "tags": sorted(tags)})
    payload = data.get(field) or {}
    errors = [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
    if errors:
        message = "; ".join(str(e.get("message")) for e in errors)
        raise ConnectorError(f"Shopify refused the tags: {message}", status=200)


def add_tags(client: GraphQLExecutor, gid: str, tags: Collection[str]) -> None:
    """Add `tags` to the resource `gid` (a customer); nothing is sent for no tags."""
    if tags:
        _change_tags(client, TAGS_ADD, "tagsAdd", gid, tags)


def remove_tags(client: GraphQLExecutor, gid: str, tags: Collection[str]) -> None:
    """Remove `tags` from the resource `gid`; tags it does not carry are ignored by Shopify."""
    if tags:
        _change_tags(client, TAGS_REMOVE, "tagsRemove", gid, tags)
