"""What recipients do with the simulated SendGrid's mail: delivered, opened, clicked, bounced.

Layer: connectors/sandbox. `EngagementModel` decides, from a seeded random source, which events
one accepted message gets and when (shares and delays as a healthy list sees them: most
delivered, a share opened and clicked, a few bounces). `EventPoster` keeps the due events in a
heap and, on its own thread, posts them as signed Event Webhook batches, as SendGrid does: up to
`max_batch` events per POST, at most one POST per `interval` seconds. Off unless started.
"""

from __future__ import annotations

import heapq
import itertools
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.sandbox.sendgrid.sandbox import OutboxMessage

MAX_ATTEMPTS = 3
RETRY_AFTER = 5.0
_LINK = re.compile(r"""href=["'](https?://[^"']+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class EngagementModel:
    """Shares of messages that get each outcome, and the typical seconds until it happens at
    `pace` 1 (a demo's minutes); `pace` N makes everything N times sooner.

    Per message: `bounce_share` bounce (no delivery); the rest are delivered; of those,
    `open_share` are opened, of the opened `click_share` clicked, and `unsubscribe_share` of
    the opened unsubscribe.
    """

    bounce_share: float = 0.03
    open_share: float = 0.45
    click_share: float = 0.35
    unsubscribe_share: float = 0.02
    delivered_after: float = 20.0
    opened_after: float = 120.0
    clicked_after: float = 60.0  # after the open
    pace: float = 1.0

    def plan(
        self, message: OutboxMessage, rng: random.Random
    ) -> list[tuple[float, str, str | None]]:
        """(seconds from now, event, clicked url or None) for one message, in order."""

        def later(typical: float) -> float:
            return rng.uniform(0.2, 1.8) * typical / max(self.pace, 1e-6)

        at = later(self.delivered_after)
        plan: list[tuple[float, str, str | None]] = [(at / 4, "processed", None)]
        if rng.random() < self.bounce_share:
            return [*plan, (at, "bounce", None)]
        plan.append((at, "delivered", None))
        if rng.random() >= self.open_share:
            return plan
        at += later(self.opened_after)
        plan.append((at, "open", None))
        if rng.random() < self.click_share:
            links = links_of(message)
            if links:
                at += later(self.clicked_after)
                plan.append((at, "click", rng.choice(links)))
        if rng.random() < self.unsubscribe_share:
            plan.append((at + later(self.clicked_after), "unsubscribe", None))
        return plan


def links_of(message: OutboxMessage) -> list[str]:
    """The links a reader could click: every http(s) link of the HTML but the unsubscribe."""
    return [
        url for url in dict.fromkeys(_LINK.findall(message.html or "")) if "/unsubscribe" not in url
    ]


class EventPoster:
    """Due events, posted in batches by a daemon thread until `stop`; `post` answers whether
    the receiver took the batch (2xx), else it is tried again, up to MAX_ATTEMPTS times."""

    def __init__(
        self,
        post: Callable[[list[dict[str, Any]]], bool],
        *,
        interval: float = 1.0,
        max_batch: int = 500,
    ) -> None:
        self._post = post
        self.interval = interval
        self.max_batch = max_batch
        self._heap: list[tuple[float, int, int, dict[str, Any]]] = []
        self._order = itertools.count()
        self._lock = threading.Condition()
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="sandbox-sendgrid-events", daemon=True
        )
        self._thread.start()

    def schedule(self, due: float, event: dict[str, Any], attempt: int = 1) -> None:
        """Post `event` at `due` (time.monotonic seconds) or soon after."""
        with self._lock:
            heapq.heappush(self._heap, (due, next(self._order), attempt, event))
            self._lock.notify()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._heap)

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            self._lock.notify()
        self._thread.join(timeout=5)

    def _take_due(self) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            while not self._stopped.is_set():
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    batch: list[tuple[int, dict[str, Any]]] = []
                    while self._heap and self._heap[0][0] <= now and len(batch) < self.max_batch:
                        _due, _order, attempt, event = heapq.heappop(self._heap)
                        batch.append((attempt, event))
                    return batch
                wait = self._heap[0][0] - now if self._heap else None
                self._lock.wait(timeout=wait)
        return []

    def _run(self) -> None:
        while not self._stopped.is_set():
            batch = self._take_due()
            if not batch:
                continue
            try:
                delivered = self._post([event for _attempt, event in batch])
            except Exception:
                delivered = False
            if not delivered:  # SendGrid retries a batch the receiver did not take
                for attempt, event in batch:
                    if attempt < MAX_ATTEMPTS:
                        self.schedule(time.monotonic() + RETRY_AFTER, event, attempt + 1)
            self._stopped.wait(self.interval)
