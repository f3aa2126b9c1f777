"""Storefront cart capture for WooCommerce stores: the storefront script and its endpoint (the
script also sends product views and back-in-stock requests: `storefront/events.py`).

Layer: web. The shop key and origin are public, so nothing else in the post is trusted: the body
is capped before parsing, every field before any check, only http(s) URLs are kept, and consent
is never changed (a tick asks for confirmation, `services/opt_in`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, jsonify, render_template, request
from sqlalchemy import select

from app.auth import throttle
from app.kizuna import db_session, kizuna
from app.models import Shop
from app.services import storefront_capture
from connectors.base import CheckoutRecord
from connectors.birthdays import parse_birthday
from connectors.email_address import MAX_EMAIL_LENGTH, is_email_address

bp = Blueprint("storefront", __name__, url_prefix="/storefront/woocommerce")

MAX_ITEMS = 100
# A real cart is a few KiB; 100 items with long titles and image URLs fit in 32 KiB.
MAX_BODY_BYTES = 32 * 1024
MAX_URL_LENGTH = 1000
RATE_LIMIT = 60  # captures per IP per minute (`remote_addr`, which ProxyFix sets behind a proxy)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# A plain CSS selector for the merchant's own opt-in checkbox: no quotes, angle brackets or
# control characters (it is written into the script as a JSON string all the same).
_SELECTOR = re.compile(r"^[^\"'`<>\x00-\x1f\x7f]{1,100}$")


def capture_key(secret_key: str, shop_id: int) -> str:
    """The store's public capture key: names the store in the script; not a secret."""
    digest = hmac.new(secret_key.encode(), f"wc-capture:{shop_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def capture_script_src(app_url: str, secret_key: str, shop_id: int) -> str:
    """The address of the store's storefront script: the `src` of the tag the merchant adds to
    every page of the WooCommerce store (`kizuna shops capture-script`)."""
    key = capture_key(secret_key, shop_id)
    return f"{app_url}/storefront/woocommerce/capture.js?shop={shop_id}&key={key}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _web_url(value: Any) -> str | None:
    """`value` when it is an absolute http(s) URL of sane length, else None: a shopper's URL
    reaches emails and pages, where `javascript:` or `data:` must never land."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URL_LENGTH:
        return None
    if any(char <= " " or char == "\x7f" for char in value.strip()):  # no spaces or controls
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return value.strip()


def _short_text(value: Any, limit: int) -> str:
    """A string field capped at `limit` characters before anything else looks at it."""
    return value[: limit + 1] if isinstance(value, str) else ""


def _capped_body() -> bytes | None:
    """The request body, or None when it is over MAX_BODY_BYTES (declared or streamed): a
    chunked body has no length to check, so at most one byte more than the cap is read."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return None
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    return raw if len(raw) <= MAX_BODY_BYTES else None


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        return None


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
    """A one-minute window from the client address's first capture (`throttle.over_limit`)."""
    address = request.remote_addr or "unknown"
    return throttle.over_limit(kizuna().redis, "capture", address, (RATE_LIMIT, 60))


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
                "image_url": _web_url(entry.get("image_url")),
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
    # `birthday=1`: the merchant asks for the shopper's birthday next to the opt-in box.
    birthday_field = request.args.get("birthday") == "1"
    base = f"{kizuna().config.app_url}/storefront/woocommerce"
    key = request.args.get("key", "")
    query = {
        "shop": shop.id,
        "key": key,
        **({"consent": consent} if consent else {}),
        **({"birthday": "1"} if birthday_field else {}),
    }
    body = render_template(
        "storefront/capture.js",
        endpoint=f"{base}/capture",
        events_endpoint=f"{kizuna().config.app_url}/storefront/events",
        stock_endpoint=f"{kizuna().config.app_url}/storefront/back-in-stock",
        script_url=f"{base}/capture.js?{urlencode(query)}",
        shop_id=shop.id,
        key=key,
        consent_selector=consent,
        birthday_field=birthday_field,
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
    raw = _capped_body()
    if raw is None:
        return _refuse(413, "body_too_large", origin)
    data = _parse_json(raw)
    if not isinstance(data, dict):
        return _refuse(400, "invalid_json", origin)
    email = _short_text(data.get("email"), 2 * MAX_EMAIL_LENGTH).strip()
    cart_token = _short_text(data.get("cart_token"), 64)
    currency = _short_text(data.get("currency") or shop.currency, 3).upper()
    if not is_email_address(email):
        return _refuse(400, "invalid_email", origin)
    if not _TOKEN.fullmatch(cart_token):
        return _refuse(400, "invalid_cart_token", origin)
    items = _items(data.get("items"))
    if items is None:
        return _refuse(400, "invalid_items", origin)
    if not _CURRENCY.fullmatch(currency):
        return _refuse(400, "invalid_currency", origin)
    marketing_consent = data.get("marketing_consent")
    if marketing_consent is not None and not isinstance(marketing_consent, bool):
        return _refuse(400, "invalid_marketing_consent", origin)
    birthday = None
    if data.get("birthday") not in (None, ""):
        birthday = parse_birthday(_short_text(data.get("birthday"), 32))
        if birthday is None:
            return _refuse(400, "invalid_birthday", origin)
    cart_url = _web_url(data.get("cart_url"))
    if cart_url is None or _origin(cart_url) != origin:
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
    storefront_capture.record_capture(
        db_session(), shop.id, record, marketing_consent, now, birthday=birthday
    )
    return _with_cors(jsonify(ok=True), origin)
