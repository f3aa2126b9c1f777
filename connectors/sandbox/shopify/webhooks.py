"""Signed webhook delivery, as Shopify does it: background POSTs with retries and stable ids.

Layer: connectors/sandbox. `X-Shopify-Webhook-Id` is the same on every retry; a non-2xx or a
timeout is retried on a short backoff, then failed. The secret is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)

API_VERSION = "2026-07"
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
# Delivered to app subscriptions even when the app is not (or no longer) installed.
ALWAYS_DELIVERED = COMPLIANCE_TOPICS | {"app/uninstalled"}
DEFAULT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
DELIVERY_TIMEOUT = httpx.Timeout(5.0, connect=1.0)
DELIVERY_HISTORY = 10_000

# Topics whose enum name does not map by "last underscore becomes a slash".
_ENUM_EXCEPTIONS = {
    "CUSTOMER_TAGS_ADDED": "customer.tags_added",
    "CUSTOMER_TAGS_REMOVED": "customer.tags_removed",
    "CUSTOMER_JOINED_SEGMENT": "customer.joined_segment",
    "CUSTOMER_LEFT_SEGMENT": "customer.left_segment",
}
_TOPIC_EXCEPTIONS = {topic: name for name, topic in _ENUM_EXCEPTIONS.items()}


def topic_from_enum(name: str) -> str:
    """`ORDERS_CREATE` → `orders/create`; `CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE` →
    `customers_email_marketing_consent/update`."""
    if name in _ENUM_EXCEPTIONS:
        return _ENUM_EXCEPTIONS[name]
    resource, _, action = name.lower().rpartition("_")
    return f"{resource}/{action}"


def topic_enum(topic: str) -> str:
    """`orders/create` → `ORDERS_CREATE` (the `WebhookSubscriptionTopic` value)."""
    if topic in _TOPIC_EXCEPTIONS:
        return _TOPIC_EXCEPTIONS[topic]
    return topic.replace("/", "_").replace(".", "_").upper()


def serialize(payload: dict[str, Any]) -> bytes:
    """Compact JSON, raw UTF-8, "/" escaped as "\\/": the bytes Shopify's Ruby serializer sends."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    # "/" only ever occurs inside JSON strings, so escaping every one keeps the document valid.
    return text.replace("/", "\\/").encode()


def sign(body: bytes, secret: str) -> str:
    """`X-Shopify-Hmac-Sha256`: base64 of HMAC-SHA256 over the exact body bytes."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Delivery:
    """One webhook delivery and how it went. `status`: pending, delivered or failed."""

    topic: str
    uri: str
    status: str
    webhook_id: str
    attempts: int
    shop_domain: str = ""
    event_id: str = ""
    response_status: int | None = None  # last HTTP status; None when no answer came
    error: str | None = None
    triggered_at: str = ""
    body: bytes = field(default=b"", repr=False)

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass(order=True)
class _Job:
    due: float
    sequence: int
    delivery: Delivery = field(compare=False)
    headers: dict[str, str] = field(compare=False)


class WebhookDispatcher:
    """A small pool of sender threads working through a time-ordered queue of deliveries."""

    def __init__(
        self,
        secret: Callable[[], str],
        *,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        workers: int = 4,
        timeout: httpx.Timeout = DELIVERY_TIMEOUT,
    ) -> None:
        self._secret = secret
        self.retry_delays = tuple(retry_delays)
        self._workers = workers
        self._timeout = timeout
        self._queue: list[_Job] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition()
        self._unfinished = 0
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._client: httpx.Client | None = None
        self.history: deque[Delivery] = deque(maxlen=DELIVERY_HISTORY)

    def enqueue(
        self,
        *,
        shop_domain: str,
        topic: str,
        uri: str,
        body: bytes,
        event_id: str,
        webhook_id: str,
        triggered_at: datetime,
        name: str | None = None,
    ) -> Delivery:
        moment = triggered_at.astimezone(UTC)
        # Shopify stamps nanoseconds: nine fractional digits, then Z
        triggered = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}000Z"
        delivery = Delivery(
            topic=topic,
            uri=uri,
            status="pending",
            webhook_id=webhook_id,
            attempts=0,
            shop_domain=shop_domain,
            event_id=event_id,
            triggered_at=triggered,
            body=body,
        )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(body, self._secret()),
            "X-Shopify-Shop-Domain": shop_domain,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at,
        }
        if name:
            headers["X-Shopify-Name"] = name
        with self._condition:
            if self._closed:
                raise RuntimeError("the webhook dispatcher is closed")
            self._start_workers()
            self.history.append(delivery)
            self._unfinished += 1
            heapq.heappush(
                self._queue, _Job(time.monotonic(), next(self._sequence), delivery, headers)
            )
            self._condition.notify()
        return delivery

    def wait(self, timeout: float) -> None:
        """Block until every queued delivery has been delivered or has failed for good."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._unfinished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self._unfinished} webhook deliveries still pending")
                self._condition.wait(remaining)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout=6)
        if self._client is not None:
            self._client.close()

    # ---- workers ---------------------------------------------------------------------------

    def _start_workers(self) -> None:
        if self._threads:
            return
        self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
        for number in range(self._workers):
            thread = threading.Thread(
                target=self._work, name=f"sandbox-webhooks-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _next_job(self) -> _Job | None:
        with self._condition:
            while True:
                if self._closed:
                    return None
                if self._queue:
                    wait = self._queue[0].due - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._queue)
                    self._condition.wait(wait)
                else:
                    self._condition.wait()

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            finished = self._attempt(job)
            with self._condition:
                if finished:
                    self._unfinished -= 1
                    self._condition.notify_all()
                else:
                    delay = self.retry_delays[job.delivery.attempts - 1]
                    job.due = time.monotonic() + delay
                    heapq.heappush(self._queue, job)
                    self._condition.notify()

    def _attempt(self, job: _Job) -> bool:
        """Send once; True when the delivery is settled (delivered, or out of retries)."""
        delivery = job.delivery
        delivery.attempts += 1
        client = self._client
        if client is None:
            return True
        try:
            response = client.post(delivery.uri, content=delivery.body, headers=job.headers)
            delivery.response_status = response.status_code
            delivery.error = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as error:
            delivery.response_status = None
            delivery.error = type(error).__name__
        if delivery.error is None:
            delivery.status = "delivered"
            return True
        if delivery.attempts > len(self.retry_delays):
            delivery.status = "failed"
            log.info(
                "webhook delivery failed",
                extra={
                    "topic": delivery.topic,
                    "shop": delivery.shop_domain,
                    "webhook_id": delivery.webhook_id,
                    "attempts": delivery.attempts,
                },
            )
            return True
        return False
