"""The Shopify Admin GraphQL client: cost-aware, retrying, refreshing its token once on a 401.

Layer: connectors. Tracks `throttleStatus`, waits before a request the bucket cannot pay for and
after THROTTLED, never longer than the bucket takes to fill (a cost above its maximum is asked
again with backoff); 408/409/429/5xx/network errors back off exponentially honouring `Retry-After`;
other 4xx and GraphQL `errors` raise. httpx directly: `shopify_app` drops THROTTLED data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.shopify.domains import normalize_shop_domain
from connectors.telemetry import problem_kind, report_api_problem

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 60.0


class TokenProvider(Protocol):
    def access_token(self) -> str: ...

    def refresh(self) -> str: ...


@dataclass
class ThrottleStatus:
    """The bucket as Shopify last reported it, and when (monotonic seconds)."""

    maximum: float
    available: float
    restore_rate: float
    observed_at: float

    def available_at(self, moment: float) -> float:
        restored = self.available + (moment - self.observed_at) * self.restore_rate
        return min(self.maximum, restored)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_messages(errors: Any) -> tuple[str, str | None]:
    """All GraphQL error messages joined, and the first error's `extensions.code`."""
    if not isinstance(errors, list):
        return str(errors), None
    messages, codes = [], []
    for error in errors:
        if isinstance(error, Mapping):
            messages.append(str(error.get("message", "")))
            extensions = error.get("extensions") or {}
            if isinstance(extensions, Mapping) and extensions.get("code"):
                codes.append(str(extensions["code"]))
        else:
            messages.append(str(error))
    return "; ".join(m for m in messages if m) or "unknown error", (codes[0] if codes else None)


class ShopifyAdminClient:
    """GraphQL Admin API calls for one shop; one instance per job or request, not thread-safe."""

    def __init__(
        self,
        shop_domain: str,
        api_version: str,
        http_client: httpx.Client,
        token_provider: TokenProvider,
        *,
        max_attempts: int = 5,
        max_throttle_waits: int = 10,
        backoff_base: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        domain = normalize_shop_domain(shop_domain)
        if domain is None:
            raise ValueError("not a valid *.myshopify.com shop domain")
        self.shop_domain = domain
        self.endpoint = f"https://{domain}/admin/api/{api_version}/graphql.json"
        self.http = http_client
        self.tokens = token_provider
        self.max_attempts = max_attempts
        self.max_throttle_waits = max_throttle_waits
        self.backoff_base = backoff_base
        self._sleep = sleep
        self._clock = clock
        self.throttle: ThrottleStatus | None = None
        self._known_costs: dict[str, float] = {}

    def __enter__(self) -> ShopifyAdminClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def execute(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run one GraphQL document; its `data`, or `ConnectorError` (or a subclass)."""
        payload = {"query": document, "variables": dict(variables or {})}
        failures = throttle_waits = 0
        refreshed = False
        token = self.tokens.access_token()
        while True:
            self._wait_for_budget(document)
            try:
                response = self.http.post(
                    self.endpoint,
                    json=payload,
                    headers={"X-Shopify-Access-Token": token, "Accept": "application/json"},
                )
            except (httpx.TimeoutException, httpx.TransportError) as error:
                report_api_problem("shopify", "network")
                failures += 1
                self._back_off(failures, None, f"network error {type(error).__name__}")
                continue

            status = response.status_code
            if status != 200:
                report_api_problem("shopify", problem_kind(status))
            if status == 401:
                if refreshed:
                    raise AuthenticationError("Shopify refused the refreshed token", status=401)
                token = self.tokens.refresh()
                refreshed = True
                continue
            if status in RETRYABLE_STATUSES:
                failures += 1
                self._back_off(failures, _retry_after_seconds(response), f"HTTP {status}")
                continue
            if status == 403:
                raise AuthenticationError("Shopify denied access (403)", status=403)
            if status != 200:
                raise ConnectorError(f"Shopify answered HTTP {status}", status=status)

            body = self._json(response)
            self._record_cost(document, body)
            errors = body.get("errors")
            if errors:
                message, code = _error_messages(errors)
                if code == "THROTTLED":
                    report_api_problem("shopify", "throttled")
                    throttle_waits += 1
                    if throttle_waits > self.max_throttle_waits:
                        raise RetryableError("still throttled after waiting", code=code)
                    self._wait_after_throttle(body, throttle_waits)
                    continue
                raise ConnectorError(f"GraphQL error: {message}", status=200, code=code)
            data = body.get("data")
            if not isinstance(data, dict):
                raise ConnectorError("GraphQL answer without data", status=200)
            return data

    def paginate(
        self,
        document: str,
        connection: str,
        variables: Mapping[str, Any] | None = None,
        page_size: int = 50,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the `nodes` of each page of `connection` (a dotted path into `data`)."""
        after: str | None = None
        while True:
            data = self.execute(document, {**(variables or {}), "first": page_size, "after": after})
            page: Any = data
            for key in connection.split("."):
                page = page.get(key) if isinstance(page, Mapping) else None
            if not isinstance(page, Mapping):
                raise ConnectorError(f"GraphQL answer has no {connection!r} connection")
            yield list(page.get("nodes") or [])
            page_info = page.get("pageInfo") or {}
            if not page_info.get("hasNextPage"):
                return
            cursor = page_info.get("endCursor")
            if not cursor or cursor == after:
                raise ConnectorError(f"{connection!r} has a next page but no usable cursor")
            after = cursor

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as error:
            raise ConnectorError("Shopify answered with invalid JSON", status=200) from error
        if not isinstance(body, dict):
            raise ConnectorError("Shopify answered with a JSON value that is not an object")
        return body

    @property
    def requested_costs(self) -> dict[str, float]:
        """The requested cost Shopify last reported for each document sent (a copy)."""
        return dict(self._known_costs)

    def _record_cost(self, document: str, body: Mapping[str, Any]) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float):
            self._known_costs[document] = float(requested)
        bucket = cost.get("throttleStatus") or {}
        try:
            self.throttle = ThrottleStatus(
                maximum=float(bucket["maximumAvailable"]),
                available=float(bucket["currentlyAvailable"]),
                restore_rate=float(bucket["restoreRate"]),
                observed_at=self._clock(),
            )
        except (KeyError, TypeError, ValueError):
            return

    def _wait_for_budget(self, document: str) -> None:
        """Sleep until the bucket holds the document's last requested cost."""
        cost = self._known_costs.get(document)
        bucket = self.throttle
        if cost is None or bucket is None or bucket.restore_rate <= 0:
            return
        cost = min(cost, bucket.maximum)
        available = bucket.available_at(self._clock())
        if cost > available:
            wait = (cost - available) / bucket.restore_rate
            log.info("shopify budget wait shop=%s seconds=%.2f", self.shop_domain, wait)
            self._sleep(wait)

    def _wait_after_throttle(self, body: Mapping[str, Any], waits: int) -> None:
        """Sleep until the bucket holds the refused request's cost (`waits`: this is the
        request's how-manyth THROTTLED answer). A cost above the bucket's maximum (its limit
        was lowered) is never paid by waiting: the request is tried again once the bucket is
        full, and no sooner than the exponential backoff, in case the limit is raised."""
        cost = (body.get("extensions") or {}).get("cost") or {}
        bucket = self.throttle
        requested = cost.get("requestedQueryCost")
        if bucket is None or bucket.restore_rate <= 0 or not isinstance(requested, int | float):
            wait = self.backoff_base
        elif requested > bucket.maximum:
            backoff = min(MAX_BACKOFF_SECONDS, self.backoff_base * 2 ** (waits - 1))
            wait = max(backoff, (bucket.maximum - bucket.available) / bucket.restore_rate)
        else:
            wait = max(0.0, (float(requested) - bucket.available) / bucket.restore_rate)
        log.info("shopify throttled shop=%s wait=%.2f", self.shop_domain, wait)
        self._sleep(wait)

    def _back_off(self, failures: int, retry_after: float | None, what: str) -> None:
        if failures >= self.max_attempts:
            raise RetryableError(
                f"Shopify call failed {failures} times ({what})", retry_after=retry_after
            )
        wait = min(MAX_BACKOFF_SECONDS, self.backoff_base * 2 ** (failures - 1))
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_BACKOFF_SECONDS))
        log.warning(
            "shopify retry shop=%s reason=%s attempt=%d wait=%.2f",
            self.shop_domain,
            what,
            failures,
            wait,
        )
        self._sleep(wait)
