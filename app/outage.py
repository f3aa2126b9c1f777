"""What a request gets while the database or Redis is down: 503 with `Retry-After`, not a 500.

Layer: web wiring. Nothing was stored, so the caller may retry as is (platforms redeliver). The
error's text is never shown; the log line carries only its class.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
_JSON_PREFIXES = ("/webhooks/", "/api/", "/storefront/", "/healthz")


# The database refused or dropped the connection; Redis did not answer.
OUTAGES = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)


def register(app: Flask) -> None:
    """Answer 503 for a database or Redis outage; other errors keep their handling."""

    def unavailable(error: Exception) -> Response | tuple[str, int, dict[str, str]]:
        log.warning("dependency unavailable path=%s error=%s", request.path, type(error).__name__)
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        if request.path.startswith(_JSON_PREFIXES):
            response = jsonify(error="service_unavailable", retry_after=RETRY_AFTER_S)
            response.status_code = 503
            response.headers.update(headers)
            return response
        message = "Kizuna is briefly unavailable. Please try again in a few seconds."
        return message, 503, {**headers, "Content-Type": "text/plain; charset=utf-8"}

    for kind in OUTAGES:
        app.register_error_handler(kind, unavailable)
