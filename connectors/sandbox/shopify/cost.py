"""Shopify's calculated query cost and the leaky bucket that spends it.

Layer: connectors/sandbox (pure). Requested cost is static (objects 1, connections 2 + first ×
node, mutations 10); the bucket is charged that up front and refunded down to the actual cost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values, get_directive_values

MAX_QUERY_COST = 1000
MUTATION_COST = 10


@dataclass(frozen=True)
class RateLimit:
    restore_rate: float  # points per second
    maximum: float  # bucket size


PLANS: dict[str, RateLimit] = {
    "standard": RateLimit(100.0, 2000.0),
    "advanced": RateLimit(200.0, 4000.0),
    "plus": RateLimit(1000.0, 20000.0),
    "enterprise": RateLimit(2000.0, 40000.0),
}


def _is_connection(named: GraphQLNamedType) -> bool:
    return (
        isinstance(named, GraphQLObjectType)
        and named.name.endswith("Connection")
        and ("edges" in named.fields or "nodes" in named.fields)
    )


class QueryCost:
    """Requested and actual cost of one operation of a validated document."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = dict(variables)

    @property
    def root_type(self) -> GraphQLObjectType:
        root = (
            self.schema.mutation_type
            if self.operation.operation == OperationType.MUTATION
            else self.schema.query_type
        )
        if root is None:
            raise ValueError("the schema has no root type for this operation")
        return root

    # ---- requested -------------------------------------------------------------------------

    def requested(self) -> int:
        if self.operation.operation == OperationType.MUTATION:
            return MUTATION_COST * sum(
                1
                for selection in self.operation.selection_set.selections
                if isinstance(selection, FieldNode) and self._included(selection)
            )
        return self._selection_requested(self.root_type, self.operation.selection_set)

    def _selection_requested(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode
    ) -> int:
        common = 0
        alternatives: dict[str, int] = {}
        for selection, condition in self._selections(parent, selection_set):
            if isinstance(selection, FieldNode):
                common += self._field_requested(condition, selection)
                continue
            nested = self._fragment_selection_set(selection)
            cost = self._selection_requested(condition, nested)
            if condition is parent or is_abstract_type(condition):
                common += cost
            else:
                alternatives[condition.name] = alternatives.get(condition.name, 0) + cost
        return common + max(alternatives.values(), default=0)

    def _field_requested(self, parent: GraphQLNamedType, field: FieldNode) -> int:
        field_def = self._field_def(parent, field)
        if field_def is None:
            return 0
        named = get_named_type(field_def.type)
        if is_leaf_type(named) or field.selection_set is None:
            return 0
        if _is_connection(named):
            args = get_argument_values(field_def, field, self.variables)
            size = args.get("first") or args.get("last") or 0
            return 2 + int(size) * self._node_requested(named, field.selection_set)
        return 1 + self._selection_requested(named, field.selection_set)

    def _node_requested(self, connection: GraphQLNamedType, selection_set: SelectionSetNode) -> int:
        """Cost of one node of a connection, whether selected via `nodes` or `edges { node }`."""
        best = 0
        for field, parent in self._fields(connection, selection_set):
            name = field.name.value
            if name == "nodes" and field.selection_set is not None:
                node_type = get_named_type(self._field_type(parent, field))
                best = max(best, 1 + self._selection_requested(node_type, field.selection_set))
            elif name == "edges" and field.selection_set is not None:
                edge_type = get_named_type(self._field_type(parent, field))
                for inner, inner_parent in self._fields(edge_type, field.selection_set):
                    if inner.name.value == "node" and inner.selection_set is not None:
                        node_type = get_named_type(self._field_type(inner_parent, inner))
                        cost = 1 + self._selection_requested(node_type, inner.selection_set)
                        best = max(best, cost)
        return best

    # ---- actual ----------------------------------------------------------------------------

    def actual(self, data: Mapping[str, Any] | None) -> int:
        if data is None:
            return 0
        if self.operation.operation == OperationType.MUTATION:
            return self.requested()
        return self._selection_actual(self.root_type, self.operation.selection_set, data)

    def _selection_actual(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, value: Mapping[str, Any]
    ) -> int:
        total = 0
        for field, field_parent in self._fields(parent, selection_set):
            key = field.alias.value if field.alias else field.name.value
            if key in value:
                total += self._field_actual(field_parent, field, value[key])
        return total

    def _field_actual(self, parent: GraphQLNamedType, field: FieldNode, value: Any) -> int:
        field_def = self._field_def(parent, field)
        if field_def is None or value is None or field.selection_set is None:
            return 0
        named = get_named_type(field_def.type)
        if is_leaf_type(named):
            return 0
        if _is_connection(named):
            return 2 + self._nodes_actual(named, field.selection_set, value)
        if isinstance(value, list):
            return sum(
                1 + self._selection_actual(named, field.selection_set, item)
                for item in value
                if isinstance(item, Mapping)
            )
        return 1 + self._selection_actual(named, field.selection_set, value)

    def _nodes_actual(
        self, connection: GraphQLNamedType, selection_set: SelectionSetNode, value: Any
    ) -> int:
        best = 0
        for field, parent in self._fields(connection, selection_set):
            key = field.alias.value if field.alias else field.name.value
            items = value.get(key) if isinstance(value, Mapping) else None
            if not isinstance(items, list) or field.selection_set is None:
                continue
            if field.name.value == "nodes":
                node_type = get_named_type(self._field_type(parent, field))
                cost = sum(
                    1 + self._selection_actual(node_type, field.selection_set, item)
                    for item in items
                    if isinstance(item, Mapping)
                )
                best = max(best, cost)
            elif field.name.value == "edges":
                edge_type = get_named_type(self._field_type(parent, field))
                cost = 0
                for inner, inner_parent in self._fields(edge_type, field.selection_set):
                    key = inner.alias.value if inner.alias else inner.name.value
                    if inner.name.value != "node" or inner.selection_set is None:
                        continue
                    node_type = get_named_type(self._field_type(inner_parent, inner))
                    cost += sum(
                        1 + self._selection_actual(node_type, inner.selection_set, edge[key])
                        for edge in items
                        if isinstance(edge, Mapping) and isinstance(edge.get(key), Mapping)
                    )
                best = max(best, cost)
        return best

    # ---- AST helpers -----------------------------------------------------------------------

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _fragment_selection_set(self, selection: Any) -> SelectionSetNode:
        if isinstance(selection, InlineFragmentNode):
            return selection.selection_set
        return self.fragments[selection.name.value].selection_set

    def _selections(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode
    ) -> list[tuple[Any, GraphQLNamedType]]:
        """Included selections with the type each applies to (fragments keep their condition)."""
        result: list[tuple[Any, GraphQLNamedType]] = []
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                result.append((selection, parent))
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition = fragment.type_condition
            else:
                continue
            target = self.schema.get_type(condition.name.value) if condition else parent
            result.append((selection, target or parent))
        return result

    def _fields(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode
    ) -> list[tuple[FieldNode, GraphQLNamedType]]:
        """Every field selected, fragments flattened, each with the type that declares it."""
        fields: list[tuple[FieldNode, GraphQLNamedType]] = []
        for selection, condition in self._selections(parent, selection_set):
            if isinstance(selection, FieldNode):
                fields.append((selection, condition))
            else:
                fields.extend(self._fields(condition, self._fragment_selection_set(selection)))
        return fields

    def _field_def(self, parent: GraphQLNamedType, field: FieldNode) -> Any:
        if field.name.value.startswith("__"):
            return None
        fields = getattr(parent, "fields", None)
        return fields.get(field.name.value) if fields else None

    def _field_type(self, parent: GraphQLNamedType, field: FieldNode) -> Any:
        field_def = self._field_def(parent, field)
        if field_def is None:
            raise ValueError(f"unknown field {field.name.value} on {parent.name}")
        return field_def.type


class LeakyBucket:
    """Shopify's per-app-and-shop cost bucket: refills continuously at `restore_rate` per second."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._available = limit.maximum
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._available = min(
            self.limit.maximum, self._available + elapsed * self.limit.restore_rate
        )
        self._updated = now

    def try_take(self, points: int) -> bool:
        """Spend `points` if the bucket holds that many; otherwise spend nothing."""
        with self._lock:
            self._refill()
            if self._available < points:
                return False
            self._available -= points
            return True

    def give_back(self, points: int) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.limit.maximum, self._available + max(points, 0))

    def throttle_status(self) -> dict[str, Any]:
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": float(self.limit.maximum),
                "currentlyAvailable": int(self._available),
                "restoreRate": float(self.limit.restore_rate),
            }
