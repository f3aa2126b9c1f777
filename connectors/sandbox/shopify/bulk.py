"""Bulk operations of the simulated Shopify: run a bulk query over a store, serve its JSONL.

Layer: connectors/sandbox. Validated against the Admin schema, run in a thread under the store
lock, written as Shopify does (children after their parent with `__parentId`); the file is served
under `/_sandbox/bulk/` and `bulk_operations/finish` is sent when it ends.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    execute_sync,
    get_named_type,
    parse,
    validate,
)

from connectors.sandbox.shopify.graphql_api import AdminRoot, admin_schema
from connectors.sandbox.shopify.pagination import MAX_PAGE_SIZE
from connectors.sandbox.shopify.records import iso_utc

if TYPE_CHECKING:
    from connectors.sandbox.shopify.sandbox import SandboxShopify
    from connectors.sandbox.shopify.store import SandboxStore

log = logging.getLogger(__name__)

FINISH_TOPIC = "bulk_operations/finish"
MAX_CONNECTIONS = 5


class BulkQueryError(ValueError):
    """A bulk query Shopify would refuse (answered as a user error)."""


@dataclass
class SandboxBulkOperation:
    id: int
    domain: str
    query: str
    created_at: datetime
    status: str = "CREATED"
    completed_at: datetime | None = None
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    body: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.id}"

    @property
    def url(self) -> str | None:
        if self.status != "COMPLETED":
            return None
        return f"https://{self.domain}/_sandbox/bulk/{self.id}.jsonl"

    def node(self) -> dict[str, Any]:
        return {
            "__typename": "BulkOperation",
            "id": self.gid,
            "status": self.status,
            "type": "QUERY",
            "query": self.query,
            "createdAt": iso_utc(self.created_at),
            "completedAt": iso_utc(self.completed_at) if self.completed_at else None,
            "errorCode": self.error_code,
            "objectCount": str(self.object_count),
            "rootObjectCount": str(self.root_object_count),
            "fileSize": str(len(self.body)) if self.status == "COMPLETED" else None,
            "url": self.url,
            "partialDataUrl": None,
        }


def _connection_type(parent: Any, name: str) -> Any:
    fields = getattr(parent, "fields", None) or {}
    definition = fields.get(name)
    if definition is None:
        return None
    named = get_named_type(definition.type)
    return named if named.name.endswith("Connection") else None


def _with_arguments(node: FieldNode, extra: dict[str, Any]) -> tuple[ArgumentNode, ...]:
    kept = [argument for argument in node.arguments or () if argument.name.value not in extra]
    for name, value in extra.items():
        literal = (
            IntValueNode(value=str(value))
            if isinstance(value, int)
            else StringValueNode(value=str(value))
        )
        kept.append(ArgumentNode(name=NameNode(value=name), value=literal))
    return tuple(kept)


_PAGE_INFO = parse("{ pageInfo { hasNextPage endCursor } }").definitions[0]


def _rewrite(
    selection_set: SelectionSetNode,
    parent: Any,
    *,
    top: bool,
    after: str | None,
    connections: list[int],
) -> SelectionSetNode:
    """A copy of `selection_set` in which every connection reads (up to) 250 nodes and the
    top-level connection also reads `pageInfo` and starts `after` the given cursor."""
    selections: list[Any] = []
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            condition = (
                admin_schema().get_type(selection.type_condition.name.value)
                if selection.type_condition
                else parent
            )
            inner = _rewrite(
                selection.selection_set, condition, top=top, after=after, connections=connections
            )
            selections.append(
                InlineFragmentNode(
                    type_condition=selection.type_condition,
                    directives=selection.directives,
                    selection_set=inner,
                )
            )
            continue
        if not isinstance(selection, FieldNode):
            raise BulkQueryError("Fragment spreads are not supported in bulk queries")
        if selection.selection_set is None:
            selections.append(selection)
            continue
        name = selection.name.value
        fields = getattr(parent, "fields", None) or {}
        definition = fields.get(name)
        field_type = get_named_type(definition.type) if definition else None
        connection = _connection_type(parent, name)
        arguments = selection.arguments
        inner_parent = field_type
        inner_top = False
        if connection is not None:
            connections.append(1)
            extra: dict[str, Any] = {"first": MAX_PAGE_SIZE}
            if top and after:
                extra["after"] = after
            arguments = _with_arguments(selection, extra)
        inner = _rewrite(
            selection.selection_set,
            inner_parent,
            top=inner_top,
            after=None,
            connections=connections,
        )
        if connection is not None and top:
            inner = SelectionSetNode(
                selections=(*inner.selections, *_PAGE_INFO.selection_set.selections)  # type: ignore[attr-defined]
            )
        selections.append(
            FieldNode(
                alias=selection.alias,
                name=selection.name,
                arguments=arguments,
                directives=selection.directives,
                selection_set=inner,
            )
        )
    return SelectionSetNode(selections=tuple(selections))


def _nodes_of(value: Any) -> list[dict[str, Any]] | None:
    """The nodes of a connection value (`nodes` or `edges[].node`); None for anything else."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("nodes"), list):
        return [node for node in value["nodes"] if isinstance(node, dict)]
    if isinstance(value.get("edges"), list):
        return [
            edge["node"] for edge in value["edges"] if isinstance(edge, dict) and edge.get("node")
        ]
    return None


def _flatten(node: dict[str, Any], parent_id: str | None, out: list[dict[str, Any]]) -> None:
    """`node` without its nested connections, then their nodes (recursively) with `__parentId`."""
    row: dict[str, Any] = {}
    nested: list[list[dict[str, Any]]] = []
    for key, value in node.items():
        children = _nodes_of(value)
        if children is not None:
            nested.append(children)
        else:
            row[key] = value
    if parent_id is not None:
        row["__parentId"] = parent_id
    out.append(row)
    for children in nested:
        for child in children:
            _flatten(child, str(node.get("id")), out)


class SandboxBulkOperations:
    """Every bulk operation of one `SandboxShopify`, by numeric id."""

    def __init__(self, sandbox: SandboxShopify) -> None:
        self._sandbox = sandbox
        self._ids = itertools.count(1_000_001)
        self._operations: dict[int, SandboxBulkOperation] = {}
        self._lock = threading.Lock()
        self.run_in_background = True

    def get(self, number: int) -> SandboxBulkOperation | None:
        return self._operations.get(number)

    def find(self, store: SandboxStore, value: str) -> dict[str, Any] | None:
        """The `bulkOperation(id:)` answer: the store's own operation, or null."""
        parts = str(value).removeprefix("gid://shopify/").split("/")
        if len(parts) != 2 or parts[0] != "BulkOperation" or not parts[1].isdigit():
            raise GraphQLError(f"Invalid global id '{value}'")
        operation = self._operations.get(int(parts[1]))
        return operation.node() if operation and operation.domain == store.domain else None

    def wait(self, timeout: float = 10.0) -> None:
        """Block until every operation has finished (tests); TimeoutError otherwise."""
        for operation in list(self._operations.values()):
            if not operation.done.wait(timeout):
                raise TimeoutError(f"bulk operation {operation.id} still running")

    def run_query(self, store: SandboxStore, query: str) -> dict[str, Any]:
        """The `bulkOperationRunQuery` payload: the new operation, or user errors."""
        try:
            document = self._checked(query)
        except BulkQueryError as error:
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["query"], "message": str(error), "code": "INVALID"}],
            }
        with self._lock:
            operation = SandboxBulkOperation(
                id=next(self._ids),
                domain=store.domain,
                query=query,
                created_at=datetime.now(UTC).replace(microsecond=0),
            )
            self._operations[operation.id] = operation
        if self.run_in_background:
            threading.Thread(
                target=self._run, args=(store, operation, document), daemon=True
            ).start()
        else:
            self._run(store, operation, document)
        return {"bulkOperation": operation.node(), "userErrors": []}

    @staticmethod
    def _checked(query: str) -> DocumentNode:
        try:
            document = parse(query)
        except GraphQLError as error:
            raise BulkQueryError(f"Invalid bulk query: {error.message}") from error
        problems = validate(admin_schema(), document)
        if problems:
            raise BulkQueryError(f"Invalid bulk query: {problems[0].message}")
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation.value != "query":
            raise BulkQueryError("Bulk queries must contain exactly one query operation")
        connections: list[int] = []
        _rewrite(
            operations[0].selection_set,
            admin_schema().query_type,
            top=True,
            after=None,
            connections=connections,
        )
        if not connections:
            raise BulkQueryError("Bulk queries must contain at least one connection")
        if len(connections) > MAX_CONNECTIONS:
            raise BulkQueryError("Bulk queries cannot contain more than 5 connections")
        return document

    def _run(self, store: SandboxStore, operation: SandboxBulkOperation, document: Any) -> None:
        operation.status = "RUNNING"
        try:
            rows = self._execute(store, document)
        except Exception as error:  # the operation fails; Shopify reports that, not a crash
            log.warning("sandbox bulk operation failed id=%s error=%s", operation.id, error)
            operation.status = "FAILED"
            operation.error_code = "INTERNAL_SERVER_ERROR"
        else:
            operation.body = b"".join(
                json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                for row in rows
            )
            operation.object_count = len(rows)
            operation.root_object_count = sum(1 for row in rows if "__parentId" not in row)
            operation.status = "COMPLETED"
        operation.completed_at = datetime.now(UTC).replace(microsecond=0)
        operation.done.set()
        self._sandbox.emit(
            operation.domain,
            FINISH_TOPIC,
            {
                "admin_graphql_api_id": operation.gid,
                "completed_at": iso_utc(operation.completed_at),
                "created_at": iso_utc(operation.created_at),
                "error_code": operation.error_code.lower() if operation.error_code else None,
                "status": operation.status.lower(),
                "type": "query",
            },
        )

    def _execute(self, store: SandboxStore, document: Any) -> list[dict[str, Any]]:
        schema = admin_schema()
        query_type: GraphQLObjectType = schema.query_type  # type: ignore[assignment]
        definition = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        rows: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            connections: list[int] = []
            selection_set = _rewrite(
                definition.selection_set, query_type, top=True, after=after, connections=connections
            )
            page_document = DocumentNode(
                definitions=(
                    OperationDefinitionNode(
                        operation=definition.operation,
                        name=None,
                        variable_definitions=(),
                        directives=(),
                        selection_set=selection_set,
                    ),
                )
            )
            with store.lock:
                result = execute_sync(schema, page_document, root_value=AdminRoot(store).root())
            if result.errors:
                raise RuntimeError(result.errors[0].message)
            data = result.data or {}
            has_next, end_cursor = False, None
            for value in data.values():
                nodes = _nodes_of(value)
                if nodes is None:
                    continue
                for node in nodes:
                    _flatten(node, None, rows)
                page_info = value.get("pageInfo") or {}
                has_next = bool(page_info.get("hasNextPage"))
                end_cursor = page_info.get("endCursor")
            if not has_next or not end_cursor:
                return rows
            after = end_cursor
