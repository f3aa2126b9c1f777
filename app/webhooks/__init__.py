"""The webhooks blueprint: `POST /webhooks/shopify` — verify, record, enqueue, answer 200 fast.

Layer: web. The raw body is verified before it is parsed: a bad signature is 401 and nothing is
stored; a verified body that is not a JSON object is 400. `services.ingest_webhook` commits before
we answer. Logs carry codes, never bodies.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from app.kizuna import kizuna
from app.services.ingest_webhook import ingest_shopify_webhook, installed_shop_id
from app.services.webhook_stats import count_rejected
from connectors.shopify.webhooks import WebhookHeaders, verify_webhook_hmac

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

# Column widths of webhook_events: longer values are refused rather than truncated.
_HEADER_LIMITS = {"topic": 80, "webhook_id": 200, "event_id": 100, "api_version": 20}


def _refuse(status: int, error: str, reason: str) -> tuple[Response, int]:
    return jsonify(error=error, reason=reason), status


@bp.post("/webhooks/shopify")
def shopify_webhook() -> tuple[Response, int]:
    runtime = kizuna()
    body = request.get_data(cache=False)
    headers = WebhookHeaders.from_headers(request.headers)
    verification = verify_webhook_hmac(body, headers.signature, runtime.config.shopify_secrets)
    if not verification.ok:
        log.warning("webhook rejected reason=%s shop=%s", verification.reason, headers.shop_domain)
        shop_id = installed_shop_id(runtime.db, headers.shop_domain)
        if shop_id is not None:
            count_rejected(runtime.redis, shop_id)
        return _refuse(401, "unauthorized", verification.reason)

    try:
        payload: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _refuse(400, "invalid_json", "the body is not valid UTF-8 JSON")
    if not isinstance(payload, dict):
        return _refuse(400, "invalid_json", "the JSON body must be an object")
    if headers.shop_domain is None:
        return _refuse(400, "invalid_shop_domain", "X-Shopify-Shop-Domain must be *.myshopify.com")
    if not headers.topic:
        return _refuse(400, "missing_topic", "X-Shopify-Topic is required")
    for name, limit in _HEADER_LIMITS.items():
        value = getattr(headers, name)
        if value is not None and len(value) > limit:
            return _refuse(400, "header_too_long", f"{name} is longer than {limit} characters")

    result = ingest_shopify_webhook(runtime, headers, body, payload)
    # The acknowledgement names the delivery it covers (Shopify ignores the body; load tests and
    # operators reading logs of a proxy do not).
    return jsonify(ok=True, duplicate=result.duplicate, webhook_id=headers.webhook_id), 200


from app.webhooks import sendgrid, woocommerce  # noqa: E402, F401  (routes register on bp)
