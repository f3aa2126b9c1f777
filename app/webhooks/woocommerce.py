"""`POST /webhooks/woocommerce?shop=<id>`: signed WooCommerce deliveries — verify, record, 200.

Layer: web. The shop comes from our own delivery URL, never from the headers; unknown shop or bad
signature → 401, nothing stored; the unsigned creation ping is acknowledged and ignored.
`services.woocommerce_install.ingest_webhook` commits before we answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response, jsonify, request

from app.kizuna import kizuna
from app.services.webhook_stats import count_rejected
from app.services.woocommerce_events import HANDLERS
from app.services.woocommerce_install import ingest_webhook, webhook_shop
from app.webhooks import bp
from connectors.woocommerce.webhooks import (
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    TOPIC_HEADER,
    is_ping,
    verify_webhook_signature,
)

log = logging.getLogger(__name__)


def _refuse(status: int, error: str, reason: str) -> tuple[Response, int]:
    return jsonify(error=error, reason=reason), status


@bp.post("/webhooks/woocommerce")
def woocommerce_webhook() -> tuple[Response, int]:
    runtime = kizuna()
    body = request.get_data(cache=False)
    if is_ping(body, dict(request.headers)):
        return jsonify(ok=True, ping=True), 200
    shop = webhook_shop(runtime, request.args.get("shop", type=int))
    if shop is None:
        log.warning("woocommerce webhook rejected reason=unknown_shop")
        return _refuse(401, "unauthorized", "unknown_shop")
    verification = verify_webhook_signature(
        body, request.headers.get(SIGNATURE_HEADER), shop.secrets
    )
    if not verification.ok:
        log.warning(
            "woocommerce webhook rejected reason=%s shop_id=%s", verification.reason, shop.shop_id
        )
        if shop.status != "uninstalled":
            count_rejected(runtime.redis, shop.shop_id)
        return _refuse(401, "unauthorized", verification.reason)
    try:
        payload: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _refuse(400, "invalid_json", "the body is not valid UTF-8 JSON")
    if not isinstance(payload, dict):
        return _refuse(400, "invalid_json", "the JSON body must be an object")
    topic = request.headers.get(TOPIC_HEADER, "").strip()
    if not topic or len(topic) > 80:
        return _refuse(400, "missing_topic", "X-WC-Webhook-Topic is required")
    result = ingest_webhook(
        runtime,
        shop,
        topic,
        body,
        payload,
        delivery_id=request.headers.get(DELIVERY_ID_HEADER),
        handled=topic in HANDLERS,
    )
    return jsonify(ok=True, duplicate=result.duplicate), 200
