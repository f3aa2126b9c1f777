"""`SandboxSendGrid`: the simulated SendGrid account, its outbox, faults and event signing key.

Layer: connectors/sandbox. In memory under one lock (the server answers on several threads); one
`OutboxMessage` per accepted personalization; the private key never leaves this object.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.sandbox.sendgrid.engagement import EngagementModel, EventPoster
from connectors.sandbox.sendgrid.server import SandboxApp

# The sandbox keeps its own spelling of SendGrid's names, so a typo in the connector fails tests.
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
EVENT_USER_AGENT = "SendGrid Event API"
EVENT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
DELIVERY_STATUSES = {"processed": "processed", "delivered": "delivered"}
NOT_DELIVERED = frozenset({"dropped", "bounce"})


@dataclass(frozen=True)
class OutboxMessage:
    """One personalization of an accepted Mail Send request, with substitutions applied."""

    sg_message_id: str
    x_message_id: str
    accepted_at: datetime
    from_email: str
    from_name: str | None
    to: tuple[tuple[str, str | None], ...]  # (address, name)
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    reply_to: str | None
    subject: str
    text: str | None
    html: str | None
    categories: tuple[str, ...]
    custom_args: Mapping[str, str]
    headers: Mapping[str, str]
    send_at: int | None

    @property
    def to_email(self) -> str:
        return self.to[0][0]

    @property
    def kizuna_message_id(self) -> str | None:
        return self.custom_args.get("kizuna_message_id")

    def to_json(self) -> dict[str, Any]:
        return {
            "sg_message_id": self.sg_message_id,
            "x_message_id": self.x_message_id,
            "accepted_at": self.accepted_at.isoformat(),
            "from": {"email": self.from_email, "name": self.from_name},
            "to": [{"email": email, "name": name} for email, name in self.to],
            "cc": list(self.cc),
            "bcc": list(self.bcc),
            "reply_to": self.reply_to,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "categories": list(self.categories),
            "custom_args": dict(self.custom_args),
            "headers": dict(self.headers),
            "send_at": self.send_at,
        }


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour, consumed by the next API request."""

    status: int | None = None  # answer this status instead of handling the request
    reset_in: float = 1.0  # 429: seconds until X-RateLimit-Reset
    delay: float = 0.0  # handle the request, then wait this long before answering


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int


@dataclass
class _Activity:
    status: str = "processed"
    last_event_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    opens: int = 0
    clicks: int = 0


def _new_x_message_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


def _substitute(text: str | None, substitutions: Mapping[str, str]) -> str | None:
    if text is None:
        return None
    for tag, value in substitutions.items():
        text = text.replace(tag, value)
    return text


def _custom_args(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = json.loads(value)
    return {str(key): str(entry) for key, entry in (value or {}).items()}


# What a full-access key of a real account lists at GET /v3/scopes (the part Kizuna reads).
DEFAULT_SCOPES = ("mail.send", "messages.read", "user.webhooks.event.settings.read")


@dataclass
class VerifiedSender:
    """A Sender Identity as GET /v3/verified_senders lists it (single sender verification)."""

    id: int
    from_email: str
    from_name: str
    verified: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "nickname": self.from_name or self.from_email,
            "from_email": self.from_email,
            "from_name": self.from_name,
            "reply_to": self.from_email,
            "reply_to_name": self.from_name,
            "verified": self.verified,
            "locked": False,
        }


class SandboxSendGrid:
    """A simulated SendGrid account; `api_key=None` accepts any non-empty bearer key."""

    def __init__(
        self,
        api_key: str | None = None,
        event_webhook_url: str | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        *,
        keep_outbox: bool = True,
    ) -> None:
        self.api_key = api_key
        # False (a bench of a million emails): accepted messages are only counted, by their
        # `kizuna_message_id` (`accepted_ids`); the outbox stays empty and no events are made.
        self.keep_outbox = keep_outbox
        self.accepted_ids: list[str] = []
        self.last_accepted_at: float | None = None
        self.event_webhook_url = event_webhook_url
        self.scopes = tuple(scopes)
        self._senders: list[VerifiedSender] = []
        self._lock = threading.Lock()
        self._outbox: list[OutboxMessage] = []
        self._activity: dict[str, _Activity] = {}
        self._faults: deque[Fault] = deque()
        self._failure_share = 0.0
        self._failure_statuses: tuple[int, ...] = (500,)
        self._random = random.Random(0)
        self._requests: list[RequestRecord] = []
        self._signing_key = ec.generate_private_key(ec.SECP256R1())
        der = self._signing_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key_b64 = base64.b64encode(der).decode("ascii")
        self.wsgi_app = SandboxApp(self)
        self._engagement: EngagementModel | None = None
        self._poster: EventPoster | None = None
        self._engagement_random = random.Random(0)

    # --- recipients' engagement ----------------------------------------------------------

    def start_engagement(
        self, model: EngagementModel | None = None, *, seed: int = 0, interval: float = 1.0
    ) -> None:
        """From now on every accepted message gets its events by `model` (delivered, a share
        opened and clicked, a few bounces, …), posted signed to `event_webhook_url` in batches
        at most every `interval` seconds, as SendGrid's Event Webhook does."""
        if not self.event_webhook_url:
            raise ValueError("engagement needs an event_webhook_url")
        self.stop_engagement()
        with self._lock:
            self._engagement = model or EngagementModel()
            self._engagement_random = random.Random(seed)
            self._poster = EventPoster(self._post_engagement, interval=interval)

    def stop_engagement(self) -> None:
        with self._lock:
            poster, self._poster, self._engagement = self._poster, None, None
        if poster is not None:
            poster.stop()

    @property
    def engagement_pending(self) -> int:
        """Events planned and not yet posted."""
        poster = self._poster
        return poster.pending if poster is not None else 0

    def _plan_engagement(self, messages: list[OutboxMessage]) -> None:
        with self._lock:
            model, poster, rng = self._engagement, self._poster, self._engagement_random
            if model is None or poster is None:
                return
            plans = [(message, model.plan(message, rng)) for message in messages]
        start, wall = time.monotonic(), time.time()
        for message, plan in plans:
            for delay, kind, url in plan:
                [event] = self.events_for(message, [kind], timestamp=int(wall + delay))
                if url is not None:
                    event["url"] = url
                poster.schedule(start + delay, event)

    def _post_engagement(self, events: list[dict[str, Any]]) -> bool:
        url = self.event_webhook_url
        return url is not None and 200 <= self.emit_events(url, events) < 300

    # --- sender identities ---------------------------------------------------------------

    def add_sender(self, from_email: str, from_name: str = "", *, verified: bool = True) -> int:
        """Register a Sender Identity (verified unless told otherwise); → its id."""
        with self._lock:
            sender = VerifiedSender(len(self._senders) + 1, from_email, from_name, verified)
            self._senders.append(sender)
            return sender.id

    @property
    def senders(self) -> list[VerifiedSender]:
        with self._lock:
            return list(self._senders)

    # --- outbox ------------------------------------------------------------------------------

    @property
    def outbox(self) -> list[OutboxMessage]:
        """A snapshot, oldest first."""
        with self._lock:
            return list(self._outbox)

    def find(self, sg_message_id: str) -> OutboxMessage | None:
        with self._lock:
            return next((m for m in self._outbox if m.sg_message_id == sg_message_id), None)

    def clear_outbox(self) -> None:
        with self._lock:
            self._outbox.clear()
            self._activity.clear()

    def accept(self, body: Mapping[str, Any]) -> str:
        """Store a validated Mail Send body, one message per personalization; → X-Message-Id."""
        x_message_id = _new_x_message_id()
        if not self.keep_outbox:
            ids = [
                str((item.get("custom_args") or {}).get("kizuna_message_id", ""))
                for item in body["personalizations"]
            ]
            with self._lock:
                self.accepted_ids.extend(ids)
                self.last_accepted_at = time.time()
            return x_message_id
        now = datetime.now(UTC)
        sender = body["from"]
        reply_to = body.get("reply_to") or {}
        contents = {item["type"]: item["value"] for item in body.get("content") or ()}
        categories = tuple(body.get("categories") or ())
        base_headers = dict(body.get("headers") or {})
        base_args = _custom_args(body.get("custom_args"))
        messages = []
        for index, item in enumerate(body["personalizations"]):
            substitutions = dict(item.get("substitutions") or {})
            subject = item.get("subject") or body.get("subject") or ""
            messages.append(
                OutboxMessage(
                    sg_message_id=(
                        f"{x_message_id}.filterdrecv-sandbox-1-{int(now.timestamp()):X}-{index}.0"
                    ),
                    x_message_id=x_message_id,
                    accepted_at=now,
                    from_email=sender["email"],
                    from_name=sender.get("name"),
                    to=tuple((entry["email"], entry.get("name")) for entry in item["to"]),
                    cc=tuple(entry["email"] for entry in item.get("cc") or ()),
                    bcc=tuple(entry["email"] for entry in item.get("bcc") or ()),
                    reply_to=reply_to.get("email"),
                    subject=_substitute(subject, substitutions) or "",
                    text=_substitute(contents.get("text/plain"), substitutions),
                    html=_substitute(contents.get("text/html"), substitutions),
                    categories=categories,
                    custom_args={**base_args, **_custom_args(item.get("custom_args"))},
                    headers={**base_headers, **(item.get("headers") or {})},
                    send_at=item.get("send_at", body.get("send_at")),
                )
            )
        with self._lock:
            self._outbox.extend(messages)
            for message in messages:
                self._activity[message.sg_message_id] = _Activity(last_event_time=now)
        self._plan_engagement(messages)
        return x_message_id

    def activity(self, message: OutboxMessage) -> dict[str, Any]:
        """The message as the Email Activity API (`GET /v3/messages`) lists it."""
        with self._lock:
            state = self._activity.get(message.sg_message_id) or _Activity()
            return {
                "from_email": message.from_email,
                "msg_id": message.sg_message_id,
                "subject": message.subject,
                "to_email": message.to_email,
                "status": state.status,
                "opens_count": state.opens,
                "clicks_count": state.clicks,
                "last_event_time": state.last_event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }

    # --- faults and the request log ----------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, reset_in: float = 1.0) -> None:
        """Answer the next `count` API requests with `status` (429 carries X-RateLimit-Reset)."""
        with self._lock:
            self._faults.extend(Fault(status=status, reset_in=reset_in) for _ in range(count))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Handle the next `count` API requests normally but answer only after `seconds`.

        A mail send is accepted (and in the outbox) before the wait, like a real send whose
        answer is lost to a client timeout.
        """
        with self._lock:
            self._faults.extend(Fault(delay=seconds) for _ in range(count))

    def fail_share(self, share: float, statuses: tuple[int, ...] = (500, 502, 503)) -> None:
        """Answer a random `share` of API requests (0 to 1) with one of `statuses`, until set
        back to 0; queued faults (`fail_next`, `delay_next`) are taken first."""
        with self._lock:
            self._failure_share = max(0.0, min(1.0, share))
            self._failure_statuses = statuses

    def take_fault(self) -> Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._failure_share and self._random.random() < self._failure_share:
                return Fault(status=self._random.choice(self._failure_statuses))
            return None

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append(RequestRecord(method, path, status))

    @property
    def request_log(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RequestRecord]:
        return [record for record in self.request_log if record.path == path]

    # --- signed Event Webhook ----------------------------------------------------------------

    def sign(self, payload: bytes, timestamp: str) -> str:
        """Base64 DER ECDSA P-256 / SHA-256 signature over `timestamp + payload`."""
        signature = self._signing_key.sign(
            timestamp.encode("ascii") + payload, ec.ECDSA(hashes.SHA256())
        )
        return base64.b64encode(signature).decode("ascii")

    def signed_delivery(
        self, events: list[dict[str, Any]], *, timestamp: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers SendGrid would POST for this batch."""
        body = json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        moment = timestamp or str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": EVENT_USER_AGENT,
            SIGNATURE_HEADER: self.sign(body, moment),
            TIMESTAMP_HEADER: moment,
        }
        return body, headers

    def emit_events(self, url: str, events: list[dict[str, Any]]) -> int:
        """POST one signed batch to `url`; → the receiver's HTTP status."""
        body, headers = self.signed_delivery(events)
        with httpx.Client(timeout=EVENT_TIMEOUT, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
        self._note_events(events)
        return response.status_code

    def events_for(
        self,
        message: OutboxMessage,
        kinds: Iterable[str] = ("processed", "delivered"),
        *,
        timestamp: int | None = None,
    ) -> list[dict[str, Any]]:
        """Events as SendGrid would report them for `message`, custom args as top-level keys."""
        now = int(time.time()) if timestamp is None else timestamp
        events = []
        for kind in kinds:
            event: dict[str, Any] = dict(message.custom_args)
            # SendGrid's own fields win over custom args of the same name.
            event.update(
                {
                    "email": message.to_email,
                    "timestamp": now,
                    "smtp-id": f"<{message.x_message_id}@sandbox.sendgrid.local>",
                    "event": kind,
                    "sg_event_id": _new_x_message_id(),
                    "sg_message_id": message.sg_message_id,
                }
            )
            if len(message.categories) == 1:
                event["category"] = message.categories[0]
            elif message.categories:
                event["category"] = list(message.categories)
            event.update(_EVENT_DETAILS.get(kind, {}))
            events.append(event)
        return events

    def _note_events(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            for event in events:
                state = self._activity.get(str(event.get("sg_message_id")))
                if state is None:
                    continue
                kind = event.get("event")
                state.last_event_time = datetime.now(UTC)
                if kind in DELIVERY_STATUSES:
                    state.status = DELIVERY_STATUSES[str(kind)]
                elif kind in NOT_DELIVERED:
                    state.status = "not_delivered"
                elif kind == "open":
                    state.opens += 1
                elif kind == "click":
                    state.clicks += 1


_EVENT_DETAILS: dict[str, dict[str, Any]] = {
    "delivered": {"response": "250 OK"},
    "deferred": {"response": "400 try again later", "attempt": "1"},
    "bounce": {"reason": "550 5.1.1 unknown recipient", "status": "5.1.1", "type": "bounce"},
    "dropped": {"reason": "Bounced Address", "status": "5.0.0"},
    "open": {"useragent": "Mozilla/5.0", "ip": "192.0.2.1"},
    "click": {"useragent": "Mozilla/5.0", "ip": "192.0.2.1", "url": "https://example.com/"},
}
