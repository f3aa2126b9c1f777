"""The connector contract: one suite, run over real HTTP against every platform's sandbox with
exactly the readers and webhook parsers production runs (`connectors.<platform>.reading`, the
mappers, the routes' signature checks, the webhook handler tables).

Pagination to the end with no duplicates and no gaps (checked against the sandbox's own data),
an empty window ending cleanly, 429 + Retry-After retried and honoured, webhook signatures good,
tampered, wrong and rotated, and webhook payloads mapping onto the same ids as the API.
Harnesses (one per platform) live in `conftest.py`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import CustomerRecord
from tests.contract.conftest import (
    CUSTOMERS,
    SHOPIFY_DOMAIN,
    Harness,
    Record,
    shopify_harness,
)

PAGE_SIZE = 5
MAX_PAGES = 200  # a reader that never ends fails instead of hanging


def _read_all(
    harness: Harness, name: str, since: datetime | None = None, page_size: int | None = PAGE_SIZE
) -> list[list[Record]]:
    """Every page of a stream's window; `page_size` None keeps production's (cost-safe) size."""
    pages = []
    for page in harness.read_pages(name, since, page_size):
        pages.append(page)
        assert len(pages) < MAX_PAGES, "the stream never ends"
    return pages


def _ids(pages: list[list[Record]]) -> list[str]:
    return [record.external_id for page in pages for record in page]


def test_every_platform_reads_the_streams_the_sync_needs(harness: Harness) -> None:
    names = list(harness.streams)
    assert {"customers", "orders", "products"} <= set(names)
    assert len(names) == len(set(names))
    assert all(size > 0 for size in harness.streams.values())


@pytest.mark.parametrize("name", ["customers", "orders"])
def test_a_stream_is_paginated_to_the_end_without_duplicates_or_gaps(
    harness: Harness, name: str
) -> None:
    pages = _read_all(harness, name)
    ids = _ids(pages)

    expected = harness.sandbox_ids(name)
    assert len(ids) == len(set(ids)), "a record came twice"
    assert sorted(ids) == sorted(expected), "records missing or foreign"
    assert len(pages) >= 2
    assert all(0 < len(page) <= PAGE_SIZE for page in pages)
    assert all(len(page) == PAGE_SIZE for page in pages[:-1])
    if name == "customers":
        assert len(ids) == CUSTOMERS


def test_a_window_past_the_newest_record_is_one_empty_last_page(harness: Harness) -> None:
    future = datetime.now(UTC) + timedelta(days=1)

    pages = _read_all(harness, "orders", future)

    assert len(pages) <= 1  # Shopify answers one empty page, WooCommerce none
    assert _ids(pages) == []


def _window_start(times: list[datetime]) -> datetime:
    """A `since` near the middle, 2 s before a record with none in the 4 s before it: the
    platforms differ only at the edge (Shopify `>=`; WooCommerce `modified_after` is exclusive
    and whole seconds, which the sync's watermark overlap covers), so the edge stays empty."""
    middle = len(times) // 2
    for index in sorted(range(1, len(times)), key=lambda i: abs(i - middle)):
        if times[index] - times[index - 1] >= timedelta(seconds=4):
            return times[index] - timedelta(seconds=2)
    raise AssertionError("the sandbox's records have no 4 s gap")


def test_a_window_returns_only_records_changed_since_its_start(harness: Harness) -> None:
    everything = [r for page in _read_all(harness, "orders", page_size=None) for r in page]
    times = sorted(r.updated_at for r in everything if r.updated_at is not None)
    since = _window_start(times)

    recent = [r for page in _read_all(harness, "orders", since, page_size=None) for r in page]

    assert recent
    assert all(r.updated_at is not None and r.updated_at >= since for r in recent)
    expected = {r.external_id for r in everything if r.updated_at and r.updated_at >= since}
    assert {r.external_id for r in recent} == expected


def test_429_with_retry_after_is_retried_and_honoured(harness: Harness) -> None:
    harness.inject_429(2, 3.0)

    page = next(harness.read_pages("customers", None, PAGE_SIZE))

    assert len(page) == PAGE_SIZE
    assert harness.sleeps[:2] == [3.0, 3.0]  # the waits came from Retry-After, not backoff


def _payload_body(harness: Harness) -> tuple[bytes, dict[str, Any]]:
    _topic, payload = harness.customer_payload()
    return json.dumps(payload, separators=(",", ":")).encode(), payload


def test_a_webhook_signed_with_the_secret_verifies(harness: Harness) -> None:
    body, _ = _payload_body(harness)
    headers = {harness.signature_header: harness.sign(body, harness.secret)}

    result = harness.verify_webhook(body, headers)

    assert result.ok
    # Header names are case-insensitive on the wire.
    lowered = {key.lower(): value for key, value in headers.items()}
    assert harness.verify_webhook(body, lowered).ok


def test_a_tampered_body_a_wrong_secret_or_no_signature_fails(harness: Harness) -> None:
    body, _ = _payload_body(harness)
    signature = harness.sign(body, harness.secret)

    tampered = harness.verify_webhook(body + b" ", {harness.signature_header: signature})
    wrong = harness.verify_webhook(body, {harness.signature_header: harness.sign(body, "nope")})
    unsigned = harness.verify_webhook(body, {})

    for result in (tampered, wrong, unsigned):
        assert not result.ok
        assert result.reason
    assert "missing" in unsigned.reason


def test_the_previous_secret_still_verifies_during_a_rotation(harness: Harness) -> None:
    body, _ = _payload_body(harness)
    headers = {harness.signature_header: harness.sign(body, harness.previous_secret)}

    result = harness.verify_webhook(body, headers)

    assert result.ok
    assert result.reason == "previous_secret"


def test_a_webhook_payload_maps_onto_the_ids_the_api_reads(harness: Harness) -> None:
    topic, payload = harness.customer_payload()

    record = harness.customer_from_webhook(payload)

    assert isinstance(record, CustomerRecord)
    assert topic in harness.webhook_handlers  # production handles the topic it is sent
    customers = _read_all(harness, "customers", page_size=None)
    assert record.external_id in _ids(customers)
    assert "unknown/topic" not in harness.webhook_handlers


def test_shopify_throttle_is_waited_out(serve: Any) -> None:
    """Shopify rate-limits GraphQL by cost (THROTTLED in a 200), not by HTTP 429: with a bucket
    that holds two pages the client waits for it to refill, and the read still completes."""
    harness = shopify_harness(serve, real_sleep=True)
    try:
        pages = harness.read_pages("customers", None, PAGE_SIZE)
        first = next(pages)
        # A bucket that holds two pages at their requested cost (what Shopify charges up front),
        # refilling one page in half a second: slower than a page is read even on a busy machine.
        cost = max(harness.client.requested_costs.values())
        harness.sandbox.set_rate_limit(SHOPIFY_DOMAIN, restore_rate=cost * 2, maximum=cost * 2)
        harness.sleeps.clear()

        rest = list(pages)  # the last pages wait for the bucket

        ids = _ids([first, *rest])
        assert sorted(ids) == sorted(harness.sandbox_ids("customers"))
        assert harness.sleeps, "the client never waited for the bucket"
    finally:
        harness.sandbox.close()
