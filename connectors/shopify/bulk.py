"""Shopify bulk operations: start a bulk query, read its status, stream its JSONL result.

Layer: connectors (no database). The result is streamed line by line, never held whole: memory
holds one parent and its children (needs `groupObjects: true`; out-of-order children raise
`BulkFormatError`). The download sends no Shopify token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import ConnectorError, RetryableError
from connectors.shopify import queries
from connectors.shopify.client import ShopifyAdminClient

log = logging.getLogger(__name__)

TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELED", "EXPIRED"})
FINISH_TOPIC = "bulk_operations/finish"


class BulkFormatError(ConnectorError):
    """The JSONL result does not have the shape Kizuna relies on."""


@dataclass(frozen=True)
class BulkOperation:
    """What `bulkOperation(id:)` reports."""

    id: str
    status: str
    url: str | None = None
    partial_data_url: str | None = None
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


def _operation(node: Mapping[str, Any]) -> BulkOperation:
    def number(value: Any) -> int:
        try:
            return int(value or 0)
        except (TypeError, ValueError):
            return 0

    return BulkOperation(
        id=str(node.get("id")),
        status=str(node.get("status") or ""),
        url=node.get("url"),
        partial_data_url=node.get("partialDataUrl"),
        error_code=node.get("errorCode"),
        object_count=number(node.get("objectCount")),
        root_object_count=number(node.get("rootObjectCount")),
    )


def start_bulk_query(client: ShopifyAdminClient, query: str, *, group_objects: bool) -> str:
    """Start a bulk query; its BulkOperation GID. User errors raise `ConnectorError` (code
    `bulk_busy` when the shop already runs as many bulk operations as allowed: retry later)."""
    data = client.execute(
        queries.BULK_OPERATION_RUN_QUERY, {"query": query, "groupObjects": group_objects}
    )
    result = data.get("bulkOperationRunQuery") or {}
    errors = result.get("userErrors") or []
    if errors:
        message = "; ".join(str(error.get("message")) for error in errors)
        if any(error.get("code") == "OPERATION_IN_PROGRESS" for error in errors):
            raise RetryableError(f"bulk query not started: {message}", code="bulk_busy")
        raise ConnectorError(f"bulk query not started: {message}", code="user_error")
    operation = result.get("bulkOperation") or {}
    if not operation.get("id"):
        raise ConnectorError("bulkOperationRunQuery answered without an operation")
    return str(operation["id"])


def bulk_operation(client: ShopifyAdminClient, operation_id: str) -> BulkOperation:
    """The operation's current status (and result URL once completed)."""
    data = client.execute(queries.BULK_OPERATION, {"id": operation_id})
    node = data.get("bulkOperation")
    if not isinstance(node, Mapping):
        raise ConnectorError(f"no bulk operation {operation_id}")
    return _operation(node)


def iter_rows(lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """JSON objects from JSONL lines (blank lines skipped)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise BulkFormatError(f"line {number} of the bulk result is not JSON") from error
        if not isinstance(row, dict):
            raise BulkFormatError(f"line {number} of the bulk result is not an object")
        yield row


def gid_type(gid: Any) -> str | None:
    """`gid://shopify/LineItem/1` → `LineItem`."""
    parts = str(gid or "").removeprefix("gid://shopify/").split("/")
    return parts[0] if len(parts) >= 2 and parts[0] else None


def assemble(
    rows: Iterable[dict[str, Any]], children: Mapping[str, str]
) -> Iterator[dict[str, Any]]:
    """Top-level nodes with their `__parentId` children nested as `{connection: {"nodes": […]}}`
    (the shape the paginated queries return), each yielded once the next top-level row starts.

    `children` maps a child's GID type to its connection name (`{"LineItem": "lineItems"}`);
    children of other types are skipped. Grandchildren attach to their child. A top-level node
    with no child rows gets its connections empty, as a paginated query would return them.
    """
    connections = sorted(set(children.values()))
    current: dict[str, Any] | None = None
    family: dict[str, dict[str, Any]] = {}
    skipped = 0
    for row in rows:
        parent_id = row.pop("__parentId", None)
        if parent_id is None:
            if current is not None:
                yield current
            current = row
            for connection in connections:
                current.setdefault(connection, {"nodes": []})
            family = {str(row.get("id")): row}
            continue
        parent = family.get(str(parent_id))
        if parent is None:
            raise BulkFormatError(
                "a child row is not grouped under the current parent (run with groupObjects)"
            )
        key = children.get(gid_type(row.get("id")) or "")
        if key is None:
            skipped += 1
            continue
        parent.setdefault(key, {"nodes": []}).setdefault("nodes", []).append(row)
        if row.get("id"):
            family[str(row["id"])] = row
    if current is not None:
        yield current
    if skipped:
        log.info("bulk rows skipped count=%d (child types not asked for)", skipped)


def download_rows(http: httpx.Client, url: str) -> Iterator[dict[str, Any]]:
    """Stream the JSONL at `url` row by row (no Shopify token is sent: it is a signed URL)."""
    with http.stream("GET", url) as response:
        if response.status_code != 200:
            raise ConnectorError(
                f"bulk result download answered HTTP {response.status_code}",
                status=response.status_code,
            )
        yield from iter_rows(response.iter_lines())
