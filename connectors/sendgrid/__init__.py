"""SendGrid: Mail Send v3 request bodies, the sending client, and the signed Event Webhook.

Layer: connectors (no Flask, no database). `mail` builds bodies with the official `sendgrid`
helpers, `client` posts them with bounded retries, `events` verifies and parses event batches.
Personal data (addresses, names) travels in bodies and events but never in logs or custom args.
"""

from connectors.sendgrid.client import (
    ActivityMessage,
    SendGridClient,
    SendOutcomeUnknown,
    SendResult,
)
from connectors.sendgrid.events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DedupeKeys,
    Event,
    EventPayloadError,
    Verification,
    event_dedupe_keys,
    parse_event,
    parse_events,
    verify_event_signature,
    verify_event_signature_any,
)
from connectors.sendgrid.mail import (
    KIZUNA_MESSAGE_ID_ARG,
    KIZUNA_SHOP_ID_ARG,
    MAX_PERSONALIZATIONS,
    InvalidEmailError,
    OutgoingEmail,
    build_batch,
    build_mail_body,
)

__all__ = [
    "KIZUNA_MESSAGE_ID_ARG",
    "KIZUNA_SHOP_ID_ARG",
    "MAX_PERSONALIZATIONS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "ActivityMessage",
    "DedupeKeys",
    "Event",
    "EventPayloadError",
    "InvalidEmailError",
    "OutgoingEmail",
    "SendGridClient",
    "SendOutcomeUnknown",
    "SendResult",
    "Verification",
    "build_batch",
    "build_mail_body",
    "event_dedupe_keys",
    "parse_event",
    "parse_events",
    "verify_event_signature",
    "verify_event_signature_any",
]
