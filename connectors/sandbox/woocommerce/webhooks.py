"""Webhook delivery of the simulated WooCommerce: signed, never retried, auto-disabled.

Layer: connectors/sandbox. The payload is rendered at delivery time; a creation ping is unsigned;
after `max_failures` consecutive failures the webhook is `disabled`, as WooCommerce does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 10.0
USER_AGENT = "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def serialize(payload: Any) -> bytes:
    # wp_json_encode escapes slashes; the exact bytes matter only to the signature.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Delivery:
    """One attempted delivery, kept for tests: what was sent and what came back."""

    webhook_id: int
    topic: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None


@dataclass(frozen=True)
class _Job:
    kind: str  # "ping" | "event"
    store_key: str
    webhook_id: int
    topic: str
    resource_id: int


class Dispatcher:
    """A FIFO of deliveries worked by one thread; `wait()` returns when the FIFO is empty."""

    def __init__(
        self,
        render: Callable[[_Job], tuple[Any, bytes, dict[str, str]] | None],
        max_failures: int = 5,
    ):
        self._render = render  # job → (store, webhook) pair with the rendered body, or None
        self.max_failures = max_failures
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._http = requests.Session()
        self._thread = threading.Thread(target=self._work, daemon=True, name="wc-sandbox-hooks")
        self._thread.start()

    def ping(self, store_key: str, webhook_id: int) -> None:
        self._queue.put(_Job("ping", store_key, webhook_id, "", 0))

    def event(self, store_key: str, webhook_id: int, topic: str, resource_id: int) -> None:
        self._queue.put(_Job("event", store_key, webhook_id, topic, resource_id))

    def wait(self, timeout: float = 10.0) -> None:
        done = threading.Event()

        def _joined() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=_joined, daemon=True).start()
        if not done.wait(timeout):
            raise TimeoutError("webhook deliveries still pending")

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._http.close()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._deliver(job)
            except Exception:
                log.exception("sandbox webhook delivery crashed")
            finally:
                self._queue.task_done()

    def _deliver(self, job: _Job) -> None:
        rendered = self._render(job)
        if rendered is None:
            return
        webhook, body, headers = rendered
        status: int | None
        try:
            answer = self._http.post(
                webhook.delivery_url,
                data=body,
                headers=headers,
                timeout=DELIVERY_TIMEOUT,
                allow_redirects=False,
            )
            status = answer.status_code
        except requests.RequestException:
            status = None
        self.deliveries.append(
            Delivery(webhook.id, job.topic or "ping", webhook.delivery_url, headers, body, status)
        )
        if job.kind == "ping":
            return  # the ping's outcome is not counted (REST create ignores it)
        if status is not None and 200 <= status <= 302:
            webhook.failure_count = 0
            return
        webhook.failure_count += 1
        if webhook.failure_count >= self.max_failures and webhook.status == "active":
            webhook.status = "disabled"
            log.info("sandbox webhook %s disabled after %s failures", webhook.id, self.max_failures)


def event_headers(
    webhook_id: int, topic: str, source: str, body: bytes, secret: str
) -> dict[str, str]:
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign(body, secret),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
    }
