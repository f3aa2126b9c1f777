"""One `Connector` protocol for every store platform, and its Shopify and WooCommerce adapters.

Layer: connectors (no Flask, no database). A connector exposes streams (name, primary key,
cursor field, page size), reads one page at a time from a `Cursor`, verifies a webhook's
signature (current secret, then the previous one: rotation) and maps a webhook payload to the
records of `connectors.base`. The adapters only wrap the existing clients and mappers: retries,
`Retry-After`, throttling and token refresh stay in `ShopifyAdminClient` / `WooCommerceClient`.
Optional capabilities (discount codes, consent write-back) are NOT part of `Connector`: each gets
its own small `runtime_checkable` Protocol next to it, so callers test `isinstance(c, ...)` and a
platform without the feature still satisfies `Connector`. The `tests/contract/` suite runs
against every implementation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from connectors.base import CheckoutRecord, CustomerRecord, OrderRecord, ProductRecord
from connectors.shopify import webhooks as shopify_webhooks
from connectors.shopify.client import ShopifyAdminClient
from connectors.shopify.streams import STREAMS as SHOPIFY_STREAMS
from connectors.shopify.streams import STREAMS_BY_NAME as SHOPIFY_STREAMS_BY_NAME
from connectors.shopify.streams import search_filter
from connectors.woocommerce import mapping as woo_mapping
from connectors.woocommerce import webhooks as woo_webhooks
from connectors.woocommerce.client import MAX_PER_PAGE as WOO_MAX_PER_PAGE
from connectors.woocommerce.client import WooCommerceClient

Record = CustomerRecord | OrderRecord | ProductRecord | CheckoutRecord


@dataclass(frozen=True)
class Stream:
    """One resource read page by page. `cursor_field` None: the platform cannot filter it by
    modification time, so it is always read whole (`Cursor.since` is ignored)."""

    name: str
    primary_key: str
    cursor_field: str | None
    page_size: int


@dataclass(frozen=True)
class Cursor:
    """Where a read stands: records changed at or after `since` (None: all), and the opaque
    position of the next page inside that window (None: the first page)."""

    since: datetime | None = None
    page: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of mapped records; `next_cursor` None means the stream was read to the end."""

    records: list[Record] = field(default_factory=list)
    next_cursor: Cursor | None = None


class Verification(Protocol):
    """What a signature check returns (both platforms' dataclasses fit): `ok` and a short
    machine-readable `reason` ("previous_secret" when the rotated-out secret matched)."""

    @property
    def ok(self) -> bool: ...

    @property
    def reason(self) -> str: ...


@runtime_checkable
class Connector(Protocol):
    """A store platform as Kizuna reads it. Errors are `connectors.base.ConnectorError` and its
    subclasses (`RetryableError` once the client's own retries are spent)."""

    platform: str

    def streams(self) -> Sequence[Stream]:
        """The streams this connector can read, in the order a backfill reads them."""
        ...

    def read_page(self, stream: Stream, cursor: Cursor | None = None) -> Page:
        """One page of `stream` from `cursor` (None: from the start), `stream.page_size` long
        at most (capped by the platform's maximum)."""
        ...

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Verification:
        """Check a delivery's signature over the raw `body` (constant time, current secret
        first, then the previous one)."""
        ...

    def normalise_webhook(self, topic: str, payload: Mapping[str, Any]) -> list[Record]:
        """The records a verified delivery carries ([] for topics that carry none, e.g. a
        deletion or a compliance request)."""
        ...


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(key).lower(): value for key, value in headers.items()}


# --- Shopify ---------------------------------------------------------------------------------


class ShopifyConnector:
    """`Connector` over `ShopifyAdminClient` (GraphQL Admin API) and the Shopify mappers.

    `secrets`: the app's API secret, then the previous one during a rotation. `orders_since`:
    the 60-day floor of a shop without read_all_orders (None: no floor).
    """

    platform = "shopify"

    def __init__(
        self,
        client: ShopifyAdminClient,
        *,
        currency: str,
        secrets: Sequence[str],
        orders_since: datetime | None = None,
    ) -> None:
        self.client = client
        self.currency = currency
        self.secrets = tuple(secrets)
        self.orders_since = orders_since

    def streams(self) -> Sequence[Stream]:
        return tuple(
            Stream(spec.name, spec.primary_key, spec.cursor_field, spec.page_size)
            for spec in SHOPIFY_STREAMS
        )

    def read_page(self, stream: Stream, cursor: Cursor | None = None) -> Page:
        spec = SHOPIFY_STREAMS_BY_NAME[stream.name]
        at = cursor or Cursor()
        data = self.client.execute(
            spec.document,
            {
                **spec.variables,
                "query": search_filter(spec, at.since, orders_since=self.orders_since),
                "first": stream.page_size,
                "after": at.page,
            },
        )
        connection = data.get(spec.connection)
        if not isinstance(connection, Mapping):
            return Page()
        records = [spec.to_record(node, self.currency) for node in connection.get("nodes") or []]
        info = connection.get("pageInfo") or {}
        end = info.get("endCursor")
        if not info.get("hasNextPage") or not end or end == at.page:
            return Page(records, None)
        return Page(records, Cursor(at.since, str(end)))

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Verification:
        lowered = _lowered(headers)
        signature = lowered.get("x-shopify-hmac-sha256") or lowered.get("shopify-hmac-sha256")
        return shopify_webhooks.verify_webhook_hmac(body, signature, self.secrets)

    def normalise_webhook(self, topic: str, payload: Mapping[str, Any]) -> list[Record]:
        if topic in shopify_webhooks.CUSTOMER_TOPICS:
            return [shopify_webhooks.customer_from_payload(payload)]
        if topic in shopify_webhooks.CONSENT_TOPICS:
            return [shopify_webhooks.consent_from_payload(payload)]
        if topic in shopify_webhooks.ORDER_TOPICS:
            return [shopify_webhooks.order_from_payload(payload)]
        if topic in shopify_webhooks.CHECKOUT_TOPICS:
            return [shopify_webhooks.checkout_from_payload(payload)]
        return []


# --- WooCommerce -----------------------------------------------------------------------------

# WooCommerce's `modified_after` is exclusive and has whole seconds: one second of overlap
# makes `Cursor.since` inclusive (newer-wins upserts make the re-read harmless).
_WOO_INCLUSIVE = timedelta(seconds=1)
_WOO_STREAMS = (
    Stream("customers", "id", None, WOO_MAX_PER_PAGE),
    Stream("products", "id", "date_modified_gmt", WOO_MAX_PER_PAGE),
    Stream("orders", "id", "date_modified_gmt", WOO_MAX_PER_PAGE),
)


class WooCommerceConnector:
    """`Connector` over `WooCommerceClient` (REST v3) and the WooCommerce mappers.

    Open orders (pending/failed/on-hold…) come out of the orders stream as checkouts, as in
    the sync job. `secrets`: the webhooks' secret, then the previous one during a rotation.
    """

    platform = "woocommerce"

    def __init__(self, client: WooCommerceClient, *, currency: str, secrets: Sequence[str]):
        self.client = client
        self.currency = currency
        self.secrets = tuple(secret for secret in secrets if secret)

    def streams(self) -> Sequence[Stream]:
        return _WOO_STREAMS

    def _params(self, stream: Stream, since: datetime | None) -> dict[str, Any]:
        if stream.name == "customers":
            return {"orderby": "id", "order": "asc", "role": "all"}
        params: dict[str, Any] = {"orderby": "id", "order": "asc"}
        if since is not None:
            params = {
                "orderby": "modified",
                "order": "asc",
                "modified_after": (since.astimezone(UTC) - _WOO_INCLUSIVE).strftime(
                    "%Y-%m-%dT%H:%M:%S"
                ),
                "dates_are_gmt": True,
            }
        if stream.name == "orders":
            params["status"] = "any"
        return params

    def _record(self, stream: Stream, item: dict[str, Any]) -> Record:
        if stream.name == "customers":
            return woo_mapping.customer_from_resource(item)
        if stream.name == "products":
            return woo_mapping.product_from_resource(item, self.currency)
        if woo_mapping.is_open_checkout(item):
            return woo_mapping.checkout_from_resource(item)
        return woo_mapping.order_from_resource(item)

    def read_page(self, stream: Stream, cursor: Cursor | None = None) -> Page:
        if stream.name not in {s.name for s in _WOO_STREAMS}:
            raise KeyError(f"no WooCommerce stream {stream.name!r}")
        at = cursor or Cursor()
        since = at.since if stream.cursor_field else None
        number = int(at.page or 1)
        response = self.client.request(
            "GET",
            stream.name,
            params={
                **self._params(stream, since),
                "page": number,
                "per_page": max(1, min(stream.page_size, WOO_MAX_PER_PAGE)),
            },
        )
        items = response.json()
        if not isinstance(items, list):
            items = []
        records = [self._record(stream, item) for item in items]
        total_pages = response.headers.get("X-WP-TotalPages", "")
        if total_pages.isdigit():
            more = number < int(total_pages)
        else:
            more = bool(items) and 'rel="next"' in response.headers.get("Link", "")
        return Page(records, Cursor(at.since, str(number + 1)) if more else None)

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> Verification:
        signature = _lowered(headers).get(woo_webhooks.SIGNATURE_HEADER.lower())
        return woo_webhooks.verify_webhook_signature(body, signature, self.secrets)

    def normalise_webhook(self, topic: str, payload: Mapping[str, Any]) -> list[Record]:
        resource, _, event = topic.partition(".")
        if event == "deleted":
            return []  # only an id: the caller marks the row deleted
        data = dict(payload)
        if resource == "customer":
            return [woo_mapping.customer_from_resource(data)]
        if resource == "product":
            return [woo_mapping.product_from_resource(data, self.currency)]
        if resource == "order":
            if woo_mapping.is_open_checkout(data):
                return [woo_mapping.checkout_from_resource(data)]
            return [woo_mapping.order_from_resource(data)]
        return []
