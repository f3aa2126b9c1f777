"""Storefront cart capture for WooCommerce stores: a small script and the endpoint it posts to.

Layer: web. WooCommerce creates no order until the shopper pays, so a shopper who types an
email at checkout and leaves is invisible to the REST API. A store that adds the script (see
README) posts the email as it is typed and the cart (read from the store's own Store API) here.
Invariants: the shop comes from our records and a per-store capture key, the request must come
from that store's own origin, input is validated and rate-limited, and nothing is sent from here:
the checkout is upserted ("newer wins") and the cart flow decides, consent first.
Marketing opt-in: the script reads a checkbox (Kizuna's own, inserted after the billing email, or
the merchant's, named by the `consent` CSS selector on the script URL) and posts
`marketing_consent`; a ticked box subscribes the customers with that email (or waits on the
checkout for them), an unticked one never unsubscribes anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit

import redis
from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import select

from app import db_session
from app.kizuna import kizuna
from app.models import Shop
from app.services import flow_triggers, upsert
from connectors.base import CheckoutRecord

bp = Blueprint("storefront", __name__, url_prefix="/storefront/woocommerce")

MAX_ITEMS = 100
RATE_LIMIT = 60  # captures per IP per minute
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A plain CSS selector for the merchant's own opt-in checkbox: no quotes, angle brackets or
# control characters (it is written into the script as a JSON string all the same).
_SELECTOR = re.compile(r"^[^\"'`<>\x00-\x1f\x7f]{1,100}$")


def capture_key(secret_key: str, shop_id: int) -> str:
    """The store's public capture key: names the store in the script; not a secret."""
    digest = hmac.new(secret_key.encode(), f"wc-capture:{shop_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _shop() -> Shop | None:
    shop_id = request.args.get("shop", type=int)
    key = request.args.get("key", "")
    if shop_id is None or not key:
        return None
    expected = capture_key(kizuna().config.secret_key, shop_id)
    if not hmac.compare_digest(expected, key):
        return None
    return (
        db_session()
        .scalars(
            select(Shop).where(
                Shop.id == shop_id, Shop.platform == "woocommerce", Shop.status == "active"
            )
        )
        .one_or_none()
    )


def _with_cors(response: Response, origin: str) -> Response:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Vary"] = "Origin"
    return response


def _refuse(status: int, error: str, origin: str | None = None) -> Response:
    response = jsonify(error=error)
    response.status_code = status
    return _with_cors(response, origin) if origin else response


def _rate_limited() -> bool:
    minute = int(datetime.now(UTC).timestamp() // 60)
    key = f"kizuna:capture:{request.remote_addr or 'unknown'}:{minute}"
    try:
        count = int(kizuna().redis.incr(key))  # type: ignore[arg-type]
        if count == 1:
            kizuna().redis.expire(key, 120)
    except (redis.RedisError, OSError):
        return False  # losing the limit is better than losing the cart
    return count > RATE_LIMIT


def _items(raw: Any) -> list[dict[str, Any]] | None:
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_ITEMS:
        return None
    items = []
    for entry in raw:
        if not isinstance(entry, dict):
            return None
        try:
            quantity = int(entry.get("quantity", 1))
            price = Decimal(str(entry.get("price", "0")))
        except (TypeError, ValueError, InvalidOperation):
            return None
        if not 0 < quantity <= 1000 or not price.is_finite() or price < 0:
            return None
        items.append(
            {
                "title": str(entry.get("title") or "")[:500],
                "quantity": quantity,
                "price": str(price),
                "product_id": str(entry.get("product_id") or "")[:64] or None,
                "variant_id": str(entry.get("variant_id") or "")[:64] or None,
                "image_url": str(entry.get("image_url") or "")[:1000] or None,
            }
        )
    return items


@bp.get("/capture.js")
def capture_script() -> Response:
    shop = _shop()
    if shop is None:
        return _refuse(404, "unknown_store")
    consent = request.args.get("consent")
    if consent is not None and not _SELECTOR.match(consent.strip()):
        return _refuse(400, "invalid_consent_selector")
    consent = consent.strip() if consent else None
    base = f"{kizuna().config.app_url}/storefront/woocommerce"
    key = request.args.get("key", "")
    query = {"shop": shop.id, "key": key, **({"consent": consent} if consent else {})}
    body = render_template(
        "storefront/capture.js",
        endpoint=f"{base}/capture",
        script_url=f"{base}/capture.js?{urlencode(query)}",
        shop_id=shop.id,
        key=key,
        consent_selector=consent,
    )
    return Response(body, mimetype="application/javascript")


@bp.route("/capture", methods=["POST", "OPTIONS"])
def capture() -> Response:
    shop = _shop()
    if shop is None:
        return _refuse(401, "unknown_store")
    origin = _origin(shop.domain)
    if request.headers.get("Origin", "").lower() != origin:
        return _refuse(403, "wrong_origin")
    if request.method == "OPTIONS":
        return _with_cors(Response(status=204), origin)
    if _rate_limited():
        return _refuse(429, "too_many_requests", origin)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _refuse(400, "invalid_json", origin)
    email = str(data.get("email") or "").strip()
    cart_token = str(data.get("cart_token") or "")
    items = _items(data.get("items"))
    currency = str(data.get("currency") or shop.currency).upper()
    if not _EMAIL.match(email):
        return _refuse(400, "invalid_email", origin)
    if not _TOKEN.match(cart_token):
        return _refuse(400, "invalid_cart_token", origin)
    if items is None:
        return _refuse(400, "invalid_items", origin)
    if not re.fullmatch(r"[A-Z]{3}", currency):
        return _refuse(400, "invalid_currency", origin)
    marketing_consent = data.get("marketing_consent")
    if marketing_consent is not None and not isinstance(marketing_consent, bool):
        return _refuse(400, "invalid_marketing_consent", origin)
    cart_url = str(data.get("cart_url") or "")
    if _origin(cart_url) != origin:
        cart_url = f"{shop.domain}/cart/"
    now = datetime.now(UTC)
    record = CheckoutRecord(
        external_id=f"capture:{cart_token}",
        updated_at=now,
        created_at=now,
        currency=currency,
        total_price=sum((Decimal(item["price"]) * item["quantity"] for item in items), Decimal(0)),
        email=email,
        recovery_url=cart_url,
        line_items=tuple(items),
    )
    session = db_session()
    upsert.upsert_checkouts(session, shop.id, [record])
    if marketing_consent is not None:  # absent: a script from before the checkbox
        upsert.record_storefront_opt_in(
            session, shop.id, record.external_id, marketing_consent, now
        )
    flow_triggers.after_checkouts(session, shop.id, [record])
    session.commit()
    return _with_cors(jsonify(ok=True), origin)
