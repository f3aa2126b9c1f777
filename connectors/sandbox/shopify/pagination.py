"""Relay connections over in-memory records: search filters, sort keys and opaque cursors.

Layer: connectors/sandbox. Cursors are keyset positions, so a record that changes between pages
moves instead of shifting later pages; unknown search fields are ignored, as Shopify does.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from decimal import Decimal
from operator import itemgetter
from typing import Any, Generic, TypeVar

from graphql import GraphQLError

R = TypeVar("R")

MAX_PAGE_SIZE = 250

# field:>=value, field:'quoted value', field:"quoted", optionally negated with a leading '-'
_TERM = re.compile(
    r"""(?P<neg>-)?(?P<field>[a-z_]+):(?P<op><=|>=|<|>|=)?"""
    r"""(?:'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<bare>\S+))"""
)


@dataclass(frozen=True)
class Term:
    field: str
    op: str  # "=", ">", ">=", "<", "<="
    value: str
    negated: bool = False


def parse_search(query: str | None) -> list[Term]:
    """The terms of a Shopify search query; connectives other than AND are treated as AND."""
    if not query:
        return []
    terms = []
    for match in _TERM.finditer(query):
        value = match.group("single")
        if value is None:
            value = match.group("double")
        if value is None:
            value = match.group("bare")
        terms.append(
            Term(
                field=match.group("field"),
                op=match.group("op") or "=",
                value=value,
                negated=bool(match.group("neg")),
            )
        )
    return terms


def parse_time(value: str, zone: tzinfo) -> datetime:
    """An ISO-8601 time or date from a search term; dates and naive times are shop-local."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise GraphQLError(f"Invalid date in search query: {value!r}") from error
    if len(text) == 10:
        moment = datetime.combine(moment.date(), time(0), zone)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def sort_value(value: Any) -> Any:
    """What sorting and cursors compare: epoch seconds for times, floats for money."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, Decimal):
        return float(value)
    return value


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is None:
        return False
    if op == "=":
        return bool(actual == expected)
    if op == ">":
        return bool(actual > expected)
    if op == ">=":
        return bool(actual >= expected)
    if op == "<":
        return bool(actual < expected)
    return bool(actual <= expected)


@dataclass(frozen=True)
class Listing(Generic[R]):
    """How one resource is searched and sorted: search fields and sort keys to value getters."""

    sort_keys: Mapping[str, Callable[[R], Any]]
    time_fields: Mapping[str, Callable[[R], datetime | None]]
    other_fields: Mapping[str, Callable[[R], Any]]
    record_id: Callable[[R], int]
    default_sort: str = "ID"

    def predicate(self, query: str | None, zone: tzinfo) -> Callable[[R], bool]:
        checks: list[Callable[[R], bool]] = []
        for term in parse_search(query):
            check = self._check(term, zone)
            if check is not None:
                checks.append(check)
        return lambda record: all(check(record) for check in checks)

    def _check(self, term: Term, zone: tzinfo) -> Callable[[R], bool] | None:
        getter: Callable[[R], Any]
        expected: Any
        if term.field in self.time_fields:
            getter = self.time_fields[term.field]
            expected = parse_time(term.value, zone)
        elif term.field == "id":
            getter = self.record_id
            number = term.value.rsplit("/", 1)[-1]  # a bare id or a GID
            expected = int(number) if number.isdigit() else -1
        elif term.field in self.other_fields:
            field_getter = self.other_fields[term.field]

            def getter(record: R, field_getter: Callable[[R], Any] = field_getter) -> Any:
                value = field_getter(record)
                return value.lower() if isinstance(value, str) else value

            expected = term.value.lower()
        else:
            return None
        op, negated = term.op, term.negated
        return lambda record: _compare(getter(record), op, expected) != negated


def encode_cursor(record_id: int, value: Any) -> str:
    raw = json.dumps({"last_id": record_id, "last_value": value}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        data = json.loads(base64.b64decode(cursor.encode(), validate=True))
        return data["last_value"], int(data["last_id"])
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise GraphQLError("Invalid cursor for current pagination sort.") from error


Keyed = list[tuple[tuple[Any, int], R]]


def sort_index(records: Iterable[R], listing: Listing[R], sort_key: str) -> Keyed[R]:
    """Records with their `(sort value, id)` keys, ascending: what `connection` walks."""
    getter = listing.sort_keys[sort_key]
    record_id = listing.record_id
    keyed = [((sort_value(getter(record)), record_id(record)), record) for record in records]
    keyed.sort(key=itemgetter(0))
    return keyed


def resolve_sort_key(listing: Listing[R], requested: str | None) -> str:
    """The listing's name for `sortKey`; RELEVANCE and unknown keys fall back to the default."""
    if requested is not None and requested in listing.sort_keys:
        return requested
    return listing.default_sort


def connection(
    records: Iterable[R],
    listing: Listing[R],
    to_node: Callable[[R], dict[str, Any]],
    *,
    index: Callable[[str], Keyed[R]] | None = None,
    zone: tzinfo = UTC,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    query: str | None = None,
    sortKey: str | None = None,
    reverse: bool = False,
    **_ignored: Any,
) -> dict[str, Any]:
    """A `...Connection` value: `nodes`, `edges{cursor node}` and `pageInfo`, like Shopify's.

    `index(sort_key)` may supply a cached `sort_index` of `records`; without it the records
    are sorted for this call.
    """
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for size in (first, last):
        if size is not None and not 0 <= size <= MAX_PAGE_SIZE:
            raise GraphQLError(f"The page size must be between 0 and {MAX_PAGE_SIZE}")
    key_name = resolve_sort_key(listing, sortKey)
    items = index(key_name) if index else sort_index(records, listing, key_name)
    matches = listing.predicate(query, zone)
    after_key = _cursor_key(after)
    before_key = _cursor_key(before)
    try:
        if reverse:
            stop = bisect_left(items, after_key, key=itemgetter(0)) if after_key else len(items)
            positions: Iterable[int] = range(stop - 1, -1, -1)
            skipped_before = stop < len(items)
        else:
            begin = bisect_right(items, after_key, key=itemgetter(0)) if after_key else 0
            positions = range(begin, len(items))
            skipped_before = begin > 0
        page: Keyed[R] = []
        reached_before = False
        wanted = first + 1 if first is not None and last is None else None
        for position in positions:
            item = items[position]
            if before_key is not None and not _beyond(before_key, item[0], reverse):
                reached_before = True
                break
            if matches(item[1]):
                page.append(item)
                if wanted is not None and len(page) >= wanted:
                    break
    except TypeError as error:  # a cursor made under another sort key
        raise GraphQLError("Invalid cursor for current pagination sort.") from error
    if wanted is not None and first is not None:
        has_next = len(page) > first
        page = page[:first]
        has_previous = skipped_before
    else:
        if first is not None:
            page = page[:first]
        size = last or 0
        has_previous = len(page) > size or skipped_before
        page = page[-size:] if size else []
        has_next = reached_before
    edges = [
        {"cursor": encode_cursor(item_key[1], item_key[0]), "node": to_node(record)}
        for item_key, record in page
    ]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _cursor_key(cursor: str | None) -> tuple[Any, int] | None:
    if not cursor:
        return None
    value, last_id = decode_cursor(cursor)
    return (value, last_id)


def _beyond(item: tuple[Any, int], anchor: tuple[Any, int], reverse: bool) -> bool:
    """Whether `item` comes after `anchor` in the requested direction."""
    return item < anchor if reverse else item > anchor
