"""The connector contract: one suite, run against every `Connector` over real HTTP to its sandbox.

Pagination to the end with no duplicates and no gaps (checked against the sandbox's own data),
an empty window ending cleanly, 429 + Retry-After retried and honoured, webhook signatures good,
tampered, wrong and rotated, and webhook payloads mapping onto the same ids as the API.
Harnesses (one per platform) live in `conftest.py`.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import CustomerRecord
from connectors.protocol import Connector, Cursor, Page, ShopifyConnector, Stream
from tests.contract.conftest import CUSTOMERS, SHOPIFY_DOMAIN, Harness, shopify_harness

PAGE_SIZE = 5
MAX_PAGES = 200  # a connector that never ends fails instead of hanging


def _stream(connector: Connector, name: str, page_size: int | None = PAGE_SIZE) -> Stream:
    """The connector's stream; `page_size` None keeps the connector's own (cost-safe) size."""
    stream = {stream.name: stream for stream in connector.streams()}[name]
    return stream if page_size is None else dataclasses.replace(stream, page_size=page_size)


def _read_all(connector: Connector, stream: Stream, cursor: Cursor | None = None) -> list[Page]:
    pages = [connector.read_page(stream, cursor)]
    while pages[-1].next_cursor is not None:
        assert len(pages) < MAX_PAGES, "the stream never ends"
        pages.append(connector.read_page(stream, pages[-1].next_cursor))
    return pages


def _ids(pages: list[Page]) -> list[str]:
    return [record.external_id for page in pages for record in page.records]


def test_the_connector_satisfies_the_protocol(harness: Harness) -> None:
    connector = harness.connector
    assert isinstance(connector, Connector)
    assert connector.platform == harness.name
    streams = connector.streams()
    names = [stream.name for stream in streams]
    assert {"customers", "orders", "products"} <= set(names)
    assert len(names) == len(set(names))
    for stream in streams:
        assert stream.primary_key
        assert stream.page_size > 0


@pytest.mark.parametrize("name", ["customers", "orders"])
def test_a_stream_is_paginated_to_the_end_without_duplicates_or_gaps(
    harness: Harness, name: str
) -> None:
    stream = _stream(harness.connector, name)
    pages = _read_all(harness.connector, stream)
    ids = _ids(pages)

    expected = harness.sandbox_ids(name)
    assert len(ids) == len(set(ids)), "a record came twice"
    assert sorted(ids) == sorted(expected), "records missing or foreign"
    assert len(pages) >= 2
    assert all(0 < len(page.records) <= PAGE_SIZE for page in pages)
    assert all(len(page.records) == PAGE_SIZE for page in pages[:-1])
    if name == "customers":
        assert len(ids) == CUSTOMERS


def test_a_window_past_the_newest_record_is_one_empty_last_page(harness: Harness) -> None:
    stream = _stream(harness.connector, "orders")
    assert stream.cursor_field is not None
    future = datetime.now(UTC) + timedelta(days=1)

    page = harness.connector.read_page(stream, Cursor(since=future))

    assert page.records == []
    assert page.next_cursor is None


def test_a_window_returns_only_records_changed_since_its_start(harness: Harness) -> None:
    stream = _stream(harness.connector, "orders", page_size=None)
    everything = [r for page in _read_all(harness.connector, stream) for r in page.records]
    times = sorted(r.updated_at for r in everything if r.updated_at is not None)
    since = times[len(times) // 2]

    recent = [
        r for page in _read_all(harness.connector, stream, Cursor(since)) for r in page.records
    ]

    assert recent
    assert all(r.updated_at is not None and r.updated_at >= since for r in recent)
    expected = {r.external_id for r in everything if r.updated_at and r.updated_at >= since}
    assert {r.external_id for r in recent} == expected


def test_429_with_retry_after_is_retried_and_honoured(harness: Harness) -> None:
    stream = _stream(harness.connector, "customers")
    harness.inject_429(2, 3.0)

    page = harness.connector.read_page(stream)

    assert len(page.records) == PAGE_SIZE
    assert harness.sleeps[:2] == [3.0, 3.0]  # the waits came from Retry-After, not backoff


def _payload_body(harness: Harness) -> tuple[bytes, dict[str, Any]]:
    _topic, payload = harness.customer_payload()
    return json.dumps(payload, separators=(",", ":")).encode(), payload


def test_a_webhook_signed_with_the_secret_verifies(harness: Harness) -> None:
    body, _ = _payload_body(harness)
    headers = {harness.signature_header: harness.sign(body, harness.secret)}

    result = harness.connector.verify_webhook(body, headers)

    assert result.ok
    # Header names are case-insensitive on the wire.
    lowered = {key.lower(): value for key, value in headers.items()}
    assert harness.connector.verify_webhook(body, lowered).ok


def test_a_tampered_body_a_wrong_secret_or_no_signature_fails(harness: Harness) -> None:
    body, _ = _payload_body(harness)
    signature = harness.sign(body, harness.secret)
    connector = harness.connector

    tampered = connector.verify_webhook(body + b" ", {harness.signature_header: signature})
    wrong = connector.verify_webhook(body, {harness.signature_header: harness.sign(body, "nope")})
    unsigned = connector.verify_webhook(body, {})

    for result in (tampered, wrong, unsigned):
        assert not result.ok
        assert result.reason
    assert "missing" in unsigned.reason


def test_the_previous_secret_still_verifies_during_a_rotation(harness: Harness) -> None:
    body, _ = _payload_body(harness)
    headers = {harness.signature_header: harness.sign(body, harness.previous_secret)}

    result = harness.connector.verify_webhook(body, headers)

    assert result.ok
    assert result.reason == "previous_secret"


def test_a_webhook_payload_maps_onto_the_ids_the_api_reads(harness: Harness) -> None:
    topic, payload = harness.customer_payload()

    records = harness.connector.normalise_webhook(topic, payload)

    assert len(records) == 1
    record = records[0]
    assert isinstance(record, CustomerRecord)
    customers = _read_all(harness.connector, _stream(harness.connector, "customers", None))
    assert record.external_id in _ids(customers)
    assert harness.connector.normalise_webhook("unknown/topic", payload) == []


def test_shopify_throttle_is_waited_out(serve: Any) -> None:
    """Shopify rate-limits GraphQL by cost (THROTTLED in a 200), not by HTTP 429: with a bucket
    that holds two pages the client waits for it to refill, and the read still completes."""
    harness = shopify_harness(serve, real_sleep=True)
    try:
        connector = harness.connector
        assert isinstance(connector, ShopifyConnector)
        stream = _stream(connector, "customers")
        first = connector.read_page(stream)  # a full bucket: what this page cost
        bucket = connector.client.throttle
        assert bucket is not None
        cost = max(1.0, bucket.maximum - bucket.available)
        harness.sandbox.set_rate_limit(SHOPIFY_DOMAIN, restore_rate=cost * 20, maximum=cost * 2)
        harness.sleeps.clear()

        rest = _read_all(connector, stream, first.next_cursor)  # ≈50 ms of waits per page

        ids = _ids([first, *rest])
        assert sorted(ids) == sorted(harness.sandbox_ids("customers"))
        assert harness.sleeps, "the client never waited for the bucket"
    finally:
        harness.sandbox.close()
