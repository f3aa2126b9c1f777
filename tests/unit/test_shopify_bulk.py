"""Bulk operations: JSONL rows with `__parentId` assembled into nodes, streamed in bounded
memory; the start/status calls; the simulated Shopify's bulk query runner."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.base import ConnectorError, RetryableError
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.graphql_api import execute_admin_request
from connectors.shopify import mapping, queries
from connectors.shopify.bulk import (
    BulkFormatError,
    assemble,
    bulk_operation,
    download_rows,
    gid_type,
    iter_rows,
    start_bulk_query,
)
from connectors.shopify.client import ShopifyAdminClient

ROOT = Path(__file__).resolve().parents[2]

ORDER = {
    "id": "gid://shopify/Order/1",
    "name": "#1001",
    "updatedAt": "2026-11-01T00:00:00Z",
    "totalPriceSet": {"shopMoney": {"amount": "3000", "currencyCode": "JPY"}},
}


def _line(number: int, parent: str = "gid://shopify/Order/1") -> dict[str, Any]:
    return {
        "id": f"gid://shopify/LineItem/{number}",
        "title": f"Item {number}",
        "quantity": 1,
        "originalUnitPriceSet": {"shopMoney": {"amount": "1500", "currencyCode": "JPY"}},
        "__parentId": parent,
    }


def _jsonl(rows: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(row) for row in rows]


def test_children_are_nested_under_their_parent_as_the_paged_queries_return_them() -> None:
    rows = [ORDER, _line(11), _line(12), {**ORDER, "id": "gid://shopify/Order/2"}]
    nodes = list(assemble(iter_rows(_jsonl(rows)), {"LineItem": "lineItems"}))
    assert [node["id"] for node in nodes] == ["gid://shopify/Order/1", "gid://shopify/Order/2"]
    record = mapping.order_from_node(nodes[0])
    assert [line.external_id for line in record.lines] == ["11", "12"]
    assert "__parentId" not in nodes[0]["lineItems"]["nodes"][0]
    assert mapping.order_from_node(nodes[1]).lines == ()


def test_grandchildren_attach_to_their_child_and_unknown_children_are_skipped() -> None:
    rows = [
        {"id": "gid://shopify/Product/1"},
        {"id": "gid://shopify/ProductVariant/5", "__parentId": "gid://shopify/Product/1"},
        {"id": "gid://shopify/Metafield/9", "__parentId": "gid://shopify/ProductVariant/5"},
        {"id": "gid://shopify/Collection/3", "__parentId": "gid://shopify/Product/1"},
    ]
    children = {"ProductVariant": "variants", "Metafield": "metafields"}
    (product,) = assemble(iter(rows), children)
    (variant,) = product["variants"]["nodes"]
    assert variant["metafields"]["nodes"][0]["id"] == "gid://shopify/Metafield/9"
    assert "collections" not in product


def test_a_child_outside_its_parents_group_is_refused() -> None:
    rows = [ORDER, {**ORDER, "id": "gid://shopify/Order/2"}, _line(11)]
    with pytest.raises(BulkFormatError):
        list(assemble(iter_rows(_jsonl(rows)), {"LineItem": "lineItems"}))


def test_rows_skip_blank_lines_and_refuse_bad_json() -> None:
    assert list(iter_rows(["", '{"id": 1}', "  ", b'{"id": 2}\n'])) == [{"id": 1}, {"id": 2}]
    with pytest.raises(BulkFormatError, match="line 2"):
        list(iter_rows(['{"id": 1}', "{oops"]))
    with pytest.raises(BulkFormatError):
        list(iter_rows(["[1, 2]"]))
    assert gid_type("gid://shopify/LineItem/4") == "LineItem"
    assert gid_type(None) is None


def _big_file(path: Path, orders: int, lines_per_order: int) -> int:
    with path.open("w") as handle:
        for number in range(orders):
            parent = f"gid://shopify/Order/{number}"
            handle.write(json.dumps({**ORDER, "id": parent}) + "\n")
            for line in range(lines_per_order):
                handle.write(json.dumps(_line(number * 10 + line, parent)) + "\n")
    return path.stat().st_size


def peak_while_mapping(path: Path) -> tuple[int, int, int]:
    """(orders, lines, peak bytes allocated) while the file is assembled and mapped."""
    tracemalloc.start()
    try:
        count = lines = 0
        with path.open() as handle:
            for node in assemble(iter_rows(handle), {"LineItem": "lineItems"}):
                record = mapping.order_from_node(node)
                count += 1
                lines += len(record.lines)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, lines, peak


def test_a_large_file_is_processed_with_bounded_memory(tmp_path: Path) -> None:
    """Measured in a fresh interpreter: tracemalloc counts every thread's allocations, and a
    test worker may still run threads (servers, clients) left from earlier tests."""
    path = tmp_path / "orders.jsonl"
    size = _big_file(path, orders=12_000, lines_per_order=3)
    assert size > 6_000_000
    code = (
        "import sys; from pathlib import Path; "
        "from tests.unit.test_shopify_bulk import peak_while_mapping; "
        "print(*peak_while_mapping(Path(sys.argv[1])))"
    )
    measured = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    count, lines, peak = (int(value) for value in measured.stdout.split())
    assert (count, lines) == (12_000, 36_000)
    assert peak < 1_000_000, f"peak {peak} bytes for a {size}-byte file"


def _client(handler: Any) -> ShopifyAdminClient:
    class Token:
        def access_token(self) -> str:
            return "shpat_test"

        def refresh(self) -> str:
            return "shpat_test"

    return ShopifyAdminClient(
        "demo.myshopify.com",
        "2026-07",
        httpx.Client(transport=httpx.MockTransport(handler)),
        Token(),
        sleep=lambda _seconds: None,
    )


def test_download_streams_rows_and_sends_no_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("missing.jsonl"):
            return httpx.Response(403)

        def body() -> Iterator[bytes]:
            yield b'{"id": "gid://shopify/Customer/1"}\n{"id": "gid://'
            yield b'shopify/Customer/2"}\n'

        return httpx.Response(200, content=body())

    with _client(handler) as client:
        rows = list(download_rows(client.http, "https://storage.example/result.jsonl"))
        assert [row["id"] for row in rows] == [
            "gid://shopify/Customer/1",
            "gid://shopify/Customer/2",
        ]
        assert "X-Shopify-Access-Token" not in seen[0].headers
        with pytest.raises(ConnectorError):
            list(download_rows(client.http, "https://storage.example/missing.jsonl"))


def test_start_and_status_calls() -> None:
    answers: list[dict[str, Any]] = [
        {"bulkOperationRunQuery": {"bulkOperation": {"id": "gid://shopify/BulkOperation/7"}}},
        {
            "bulkOperation": {
                "id": "gid://shopify/BulkOperation/7",
                "status": "COMPLETED",
                "url": "https://storage.example/7.jsonl",
                "objectCount": "12",
                "rootObjectCount": "4",
            }
        },
        {
            "bulkOperationRunQuery": {
                "bulkOperation": None,
                "userErrors": [{"message": "busy", "code": "OPERATION_IN_PROGRESS"}],
            }
        },
        {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [{"message": "bad"}]}},
    ]
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"data": answers.pop(0)})

    with _client(handler) as client:
        query = "{ customers { edges { node { id } } } }"
        assert start_bulk_query(client, query, group_objects=False)
        assert sent[0]["variables"]["groupObjects"] is False
        operation = bulk_operation(client, "gid://shopify/BulkOperation/7")
        assert operation.finished
        assert operation.url
        assert operation.object_count == 12
        with pytest.raises(RetryableError):
            start_bulk_query(client, "{}", group_objects=True)
        with pytest.raises(ConnectorError, match="bad"):
            start_bulk_query(client, "{}", group_objects=True)


def _run(sandbox: SandboxShopify, domain: str, body: dict[str, Any]) -> dict[str, Any]:
    store = sandbox.shop(domain)
    answer = execute_admin_request(store, sandbox.bucket(domain), body)
    assert "errors" not in answer, answer
    return answer["data"]


def test_the_sandbox_runs_a_bulk_query_over_the_whole_store() -> None:
    sandbox = SandboxShopify("key", "secret-0123456789abcdef0123456789", seed=3)
    domain = "bulk-store.myshopify.com"
    store = sandbox.add_shop(domain, customers=300, years=1)
    sandbox.bulk.run_in_background = False
    try:
        results = {}
        templates = {"customers": queries.BULK_CUSTOMERS, "orders": queries.BULK_ORDERS}
        for name, template in templates.items():
            data = _run(
                sandbox,
                domain,
                {
                    "query": queries.BULK_OPERATION_RUN_QUERY,
                    "variables": {"query": queries.bulk_query(template, ""), "groupObjects": True},
                },
            )
            operation_id = data["bulkOperationRunQuery"]["bulkOperation"]["id"]
            status_request = {"query": queries.BULK_OPERATION, "variables": {"id": operation_id}}
            status = _run(sandbox, domain, status_request)["bulkOperation"]
            assert status["status"] == "COMPLETED"
            number = int(operation_id.rsplit("/", 1)[1])
            results[name] = list(iter_rows(sandbox.bulk.get(number).body.splitlines()))
        # More than one 250-node page, each customer once.
        customers = results["customers"]
        assert len({row["id"] for row in customers}) == len(store.customers) > 250
        assert any("__parentId" in row for row in results["orders"])
        orders = list(assemble(iter(results["orders"]), {"LineItem": "lineItems"}))
        assert len(orders) == len(store.orders)
        lines = sum(len(mapping.order_from_node(node).lines) for node in orders)
        assert lines == sum(len(order.lines) for order in store.orders)
        # A bulk query must contain a connection.
        invalid = _run(
            sandbox,
            domain,
            {
                "query": queries.BULK_OPERATION_RUN_QUERY,
                "variables": {"query": "{ shop { name } }", "groupObjects": False},
            },
        )["bulkOperationRunQuery"]
        assert invalid["bulkOperation"] is None
        assert "connection" in invalid["userErrors"][0]["message"]
    finally:
        sandbox.close()
