"""SendGrid Event Webhook: signature check, event parsing and the keys that deduplicate events.

Layer: connectors (pure). ECDSA P-256 / SHA-256 over `timestamp + raw body`. SendGrid retries for
24 h and duplicates come even with a new `sg_event_id`, so intake is idempotent on both keys.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

# Custom args come back as top-level keys of each event; Kizuna's own all carry this prefix.
KIZUNA_ARG_PREFIX = "kizuna_"

DELIVERY_EVENTS = frozenset({"processed", "dropped", "delivered", "deferred", "bounce"})
ENGAGEMENT_EVENTS = frozenset(
    {"open", "click", "spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe"}
)
KNOWN_EVENTS = DELIVERY_EVENTS | ENGAGEMENT_EVENTS | {"account_status_change"}


# --- signature -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    ok: bool
    # "valid" | "current_key" | "previous_key" | "missing_signature" | "missing_timestamp"
    # | "malformed_timestamp" | "malformed_key" | "malformed_signature" | "bad_signature"
    # | "stale_timestamp"
    reason: str


@functools.lru_cache(maxsize=16)
def _load_public_key(public_key_b64: str) -> ec.EllipticCurvePublicKey | None:
    text = public_key_b64.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode("ascii"))
        else:
            key = load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return None
    return key


def verify_event_signature(
    public_key_b64: str,
    payload: bytes,
    signature_b64: str | None,
    timestamp: str | None,
    *,
    max_age_seconds: float | None = None,
    now: float | None = None,
) -> Verification:
    """Check one Event Webhook delivery against the raw body bytes exactly as received.

    Uses `cryptography` directly rather than `sendgrid.helpers.eventwebhook.EventWebhook`: the
    helper takes the body as `str`, raises (instead of refusing) on malformed base64, and the type
    of its `public_key` argument changed three times within 6.12.x.

    `max_age_seconds` (with `now`, epoch seconds, defaulting to the current time) refuses
    deliveries whose signed timestamp is too far from now. It is off by default because SendGrid
    defines no window; replays of an old batch are harmless anyway once events are deduplicated.
    """
    if not signature_b64:
        return Verification(False, "missing_signature")
    if not timestamp:
        return Verification(False, "missing_timestamp")
    if not (timestamp.isascii() and timestamp.isdigit()):
        return Verification(False, "malformed_timestamp")
    key = _load_public_key(public_key_b64)
    if key is None:
        return Verification(False, "malformed_key")
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (ValueError, binascii.Error):
        return Verification(False, "malformed_signature")
    try:
        key.verify(signature, timestamp.encode("ascii") + payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return Verification(False, "bad_signature")
    if max_age_seconds is not None:
        current = datetime.now(UTC).timestamp() if now is None else now
        if abs(current - int(timestamp)) > max_age_seconds:
            return Verification(False, "stale_timestamp")
    return Verification(True, "valid")


def verify_event_signature_any(
    public_keys_b64: Sequence[str],
    payload: bytes,
    signature_b64: str | None,
    timestamp: str | None,
    **options: Any,
) -> Verification:
    """Try the current key, then the previous one, so re-enabling signing loses no batch.

    SendGrid issues a new key pair when signing is turned off and on again; deliveries already
    queued (and their retries) may still carry the old signature for a while.
    """
    last = Verification(False, "malformed_key")
    for index, key in enumerate(public_keys_b64):
        result = verify_event_signature(key, payload, signature_b64, timestamp, **options)
        if result.ok:
            return Verification(True, "current_key" if index == 0 else "previous_key")
        last = result
    return last


# --- parsing ---------------------------------------------------------------------------------


class EventPayloadError(ValueError):
    """A batch or an event lacks what it needs; the message names positions and fields only."""


@dataclass(frozen=True)
class Event:
    """One Event Webhook event, with only the fields Kizuna acts on."""

    event: str
    email: str
    timestamp: datetime  # aware, UTC
    sg_event_id: str | None
    # Absent on some asynchronous bounces; then only email and custom args tie the event back.
    sg_message_id: str | None
    reason: str | None = None
    type: str | None = None  # bounce: "bounce" | "blocked"
    url: str | None = None
    status: str | None = None
    response: str | None = None
    attempt: int | None = None
    asm_group_id: int | None = None
    categories: tuple[str, ...] = ()
    custom_args: Mapping[str, str] = field(default_factory=dict)

    @property
    def x_message_id(self) -> str | None:
        """The `X-Message-Id` of the Mail Send request this event belongs to."""
        if not self.sg_message_id:
            return None
        return self.sg_message_id.split(".", 1)[0]

    @property
    def kizuna_message_id(self) -> str | None:
        return self.custom_args.get("kizuna_message_id")

    @property
    def kizuna_shop_id(self) -> str | None:
        return self.custom_args.get("kizuna_shop_id")


def _optional_str(item: Mapping[str, Any], name: str, where: str) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventPayloadError(f"{where}: {name} is not a string")
    return value


def _optional_int(item: Mapping[str, Any], name: str, where: str) -> int | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise EventPayloadError(f"{where}: {name} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise EventPayloadError(f"{where}: {name} is not an integer")


def _timestamp(item: Mapping[str, Any], where: str) -> datetime:
    seconds = _optional_int(item, "timestamp", where)
    if seconds is None:
        raise EventPayloadError(f"{where}: timestamp is missing")
    return datetime.fromtimestamp(seconds, tz=UTC)


def _categories(item: Mapping[str, Any], where: str) -> tuple[str, ...]:
    value = item.get("category")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(entry, str) for entry in value):
        return tuple(value)
    raise EventPayloadError(f"{where}: category is neither a string nor a list of strings")


def _kizuna_args(item: Mapping[str, Any]) -> dict[str, str]:
    return {
        key: str(value)
        for key, value in item.items()
        if key.startswith(KIZUNA_ARG_PREFIX) and isinstance(value, str | int)
    }


def parse_event(item: Any, *, position: int = 0) -> Event:
    """Map one decoded event object; raises EventPayloadError if it lacks event, email or time."""
    where = f"event {position}"
    if not isinstance(item, Mapping):
        raise EventPayloadError(f"{where}: not an object")
    name = _optional_str(item, "event", where)
    if not name:
        raise EventPayloadError(f"{where}: event is missing")
    email = _optional_str(item, "email", where)
    if not email:
        raise EventPayloadError(f"{where}: email is missing")
    return Event(
        event=name,
        email=email,
        timestamp=_timestamp(item, where),
        sg_event_id=_optional_str(item, "sg_event_id", where),
        sg_message_id=_optional_str(item, "sg_message_id", where),
        reason=_optional_str(item, "reason", where),
        type=_optional_str(item, "type", where),
        url=_optional_str(item, "url", where),
        status=_optional_str(item, "status", where),
        response=_optional_str(item, "response", where),
        attempt=_optional_int(item, "attempt", where),
        asm_group_id=_optional_int(item, "asm_group_id", where),
        categories=_categories(item, where),
        custom_args=_kizuna_args(item),
    )


def parse_events(payload: bytes) -> list[Event]:
    """Parse a verified batch (a JSON array); any malformed event fails the whole batch.

    Failing loudly keeps a bad batch visible; the raw body is stored before parsing, so it can be
    replayed once the cause is fixed. `parse_event` serves callers that prefer to skip items.
    """
    try:
        decoded = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise EventPayloadError("body is not JSON") from error
    if not isinstance(decoded, list):
        raise EventPayloadError("body is not a JSON array")
    return [parse_event(item, position=index) for index, item in enumerate(decoded)]


# --- deduplication ---------------------------------------------------------------------------


class DedupeKeys(NamedTuple):
    """`event_id` is SendGrid's own id; `natural` survives duplicates that carry a new one."""

    event_id: str | None
    natural: str  # 64 hex digits


def event_dedupe_keys(event: Event) -> DedupeKeys:
    """Both keys an event is unique on: `sg_event_id`, and (message, event, timestamp[, url]).

    The url separates two clicks on different links within one second. Without an
    `sg_message_id`, Kizuna's own message id stands in, then a digest of the address, so the
    natural key never carries the address itself.
    """
    if event.sg_message_id:
        message_ref = f"sg:{event.sg_message_id}"
    elif event.kizuna_message_id:
        message_ref = f"kizuna:{event.kizuna_message_id}"
    else:
        message_ref = "email:" + hashlib.sha256(event.email.strip().lower().encode()).hexdigest()
    parts = [message_ref, event.event, str(int(event.timestamp.timestamp())), event.url or ""]
    natural = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    return DedupeKeys(event.sg_event_id, natural)
