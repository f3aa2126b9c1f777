"""Cursor pagination and search filters of the simulated Shopify over plain records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graphql import GraphQLError

from connectors.sandbox.shopify.pagination import (
    Listing,
    connection,
    decode_cursor,
    parse_search,
)

BASE = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Row:
    id: int
    created_at: datetime
    updated_at: datetime
    email: str


LISTING: Listing[Row] = Listing(
    sort_keys={
        "ID": lambda row: row.id,
        "UPDATED_AT": lambda row: row.updated_at,
        "CREATED_AT": lambda row: row.created_at,
    },
    time_fields={
        "updated_at": lambda row: row.updated_at,
        "created_at": lambda row: row.created_at,
    },
    other_fields={"email": lambda row: row.email},
    record_id=lambda row: row.id,
)


def _rows(count: int = 57) -> list[Row]:
    # updated_at deliberately out of id order, with ties, to exercise the (value, id) key
    return [
        Row(
            id=1000 + n,
            created_at=BASE + timedelta(hours=n),
            updated_at=BASE + timedelta(days=(n * 7) % 11),
            email=f"buyer{n}@example.com",
        )
        for n in range(count)
    ]


def _walk(rows: list[Row], **args: Any) -> list[int]:
    seen: list[int] = []
    after = None
    while True:
        page = connection(rows, LISTING, lambda row: {"id": row.id}, first=10, after=after, **args)
        seen.extend(node["id"] for node in page["nodes"])
        assert [edge["node"] for edge in page["edges"]] == page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


def test_forward_pagination_visits_every_record_once_in_sort_order() -> None:
    rows = _rows()
    seen = _walk(rows, sortKey="UPDATED_AT")
    expected = [row.id for row in sorted(rows, key=lambda row: (row.updated_at, row.id))]
    assert seen == expected


def test_reverse_pagination_is_the_mirror_image() -> None:
    rows = _rows()
    forward = _walk(rows, sortKey="CREATED_AT")
    backward = _walk(rows, sortKey="CREATED_AT", reverse=True)
    assert backward == list(reversed(forward))


def test_page_info_and_cursors() -> None:
    rows = _rows(25)
    first = connection(rows, LISTING, lambda row: {"id": row.id}, first=10)
    info = first["pageInfo"]
    assert info["hasNextPage"] is True
    assert info["hasPreviousPage"] is False
    assert info["startCursor"] == first["edges"][0]["cursor"]
    assert decode_cursor(info["endCursor"]) == (1009, 1009)
    second = connection(
        rows, LISTING, lambda row: {"id": row.id}, first=10, after=info["endCursor"]
    )
    assert second["pageInfo"]["hasPreviousPage"] is True
    tail = connection(rows, LISTING, lambda row: {"id": row.id}, last=5)
    assert [node["id"] for node in tail["nodes"]] == [1020, 1021, 1022, 1023, 1024]
    before = connection(
        rows, LISTING, lambda row: {"id": row.id}, last=3, before=second["pageInfo"]["startCursor"]
    )
    assert [node["id"] for node in before["nodes"]] == [1007, 1008, 1009]


def test_a_record_updated_between_pages_moves_to_the_end_without_shifting_others() -> None:
    rows = _rows(30)
    page = connection(rows, LISTING, lambda row: {"id": row.id}, first=10, sortKey="UPDATED_AT")
    first_ids = [node["id"] for node in page["nodes"]]
    moved = next(row for row in rows if row.id == first_ids[0])
    moved.updated_at = BASE + timedelta(days=365)
    rest = _walk_after(rows, page["pageInfo"]["endCursor"])
    assert set(first_ids) | set(rest) == {row.id for row in rows}
    assert rest[-1] == moved.id


def _walk_after(rows: list[Row], cursor: str) -> list[int]:
    seen: list[int] = []
    after: str | None = cursor
    while after:
        page = connection(
            rows, LISTING, lambda row: {"id": row.id}, first=10, after=after, sortKey="UPDATED_AT"
        )
        seen.extend(node["id"] for node in page["nodes"])
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None
    return seen


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("updated_at:>'2026-01-05T00:00:00Z'", lambda row: row.updated_at > BASE + timedelta(4)),
        ("updated_at:>=2026-01-05T00:00:00Z", lambda row: row.updated_at >= BASE + timedelta(4)),
        (
            'created_at:<"2026-01-02T00:00:00+00:00"',
            lambda row: row.created_at < BASE + timedelta(1),
        ),
        (
            "created_at:>=2026-01-01T12:00:00Z AND updated_at:<=2026-01-03T00:00:00Z",
            lambda row: (
                row.created_at >= BASE + timedelta(hours=12)
                and row.updated_at <= BASE + timedelta(2)
            ),
        ),
        ("email:BUYER3@example.com", lambda row: row.email == "buyer3@example.com"),
        ("id:>1050", lambda row: row.id > 1050),
        ("-email:buyer3@example.com", lambda row: row.email != "buyer3@example.com"),
        ("unknown_field:1", lambda row: True),
    ],
)
def test_search_filters(query: str, expected: Any) -> None:
    rows = _rows()
    page = connection(rows, LISTING, lambda row: {"id": row.id}, first=250, query=query)
    assert {node["id"] for node in page["nodes"]} == {row.id for row in rows if expected(row)}


def test_a_date_without_time_means_midnight_in_the_shop_timezone() -> None:
    from zoneinfo import ZoneInfo

    rows = _rows()
    page = connection(
        rows,
        LISTING,
        lambda row: {"id": row.id},
        first=250,
        query="created_at:>=2026-01-02",
        zone=ZoneInfo("Asia/Tokyo"),
    )
    midnight_tokyo = datetime(2026, 1, 1, 15, tzinfo=UTC)
    assert {node["id"] for node in page["nodes"]} == {
        row.id for row in rows if row.created_at >= midnight_tokyo
    }


def test_parse_search_reads_quoted_and_bare_values() -> None:
    terms = parse_search("updated_at:>'2026-01-01T00:00:00Z' status:open")
    assert [(t.field, t.op, t.value) for t in terms] == [
        ("updated_at", ">", "2026-01-01T00:00:00Z"),
        ("status", "=", "open"),
    ]


@pytest.mark.parametrize(
    "args",
    [{}, {"first": 251}, {"first": 10, "after": "not-a-cursor"}],
    ids=["no-size", "too-big", "bad-cursor"],
)
def test_bad_arguments_are_graphql_errors(args: dict[str, Any]) -> None:
    with pytest.raises(GraphQLError):
        connection(_rows(), LISTING, lambda row: {"id": row.id}, **args)
