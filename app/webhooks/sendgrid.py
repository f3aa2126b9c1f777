"""`POST /webhooks/sendgrid`: SendGrid's signed Event Webhook.

Layer: web. Verified against SENDGRID_EVENT_PUBLIC_KEY before parsing (no key or a bad signature:
401, nothing stored); `flows.runs.record_message_events` dedupes and commits before we answer.
Logs carry codes and counts, never addresses or bodies.
"""

from __future__ import annotations

import logging

from flask import Response, jsonify, request

from app.flows.runs import record_message_events
from app.kizuna import db_session, kizuna
from app.webhooks import bp
from connectors.sendgrid.events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EventPayloadError,
    parse_events,
    verify_event_signature,
)

log = logging.getLogger(__name__)


@bp.post("/webhooks/sendgrid")
def sendgrid_events() -> tuple[Response, int]:
    public_key = kizuna().config.sendgrid_event_public_key
    body = request.get_data(cache=False)
    if not public_key:
        log.warning("sendgrid events rejected reason=no_public_key_configured")
        return jsonify(error="unauthorized", reason="not_configured"), 401
    verification = verify_event_signature(
        public_key,
        body,
        request.headers.get(SIGNATURE_HEADER),
        request.headers.get(TIMESTAMP_HEADER),
    )
    if not verification.ok:
        log.warning("sendgrid events rejected reason=%s", verification.reason)
        return jsonify(error="unauthorized", reason=verification.reason), 401
    try:
        events = parse_events(body)
    except EventPayloadError as error:
        log.warning("sendgrid events refused reason=%s", error)
        return jsonify(error="invalid_payload", reason=str(error)), 400
    counts = record_message_events(db_session(), events)
    log.info("sendgrid events %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return jsonify(ok=True, **counts), 200
