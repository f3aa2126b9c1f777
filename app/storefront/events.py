"""Storefront events and back-in-stock requests: what the Shopify web pixel, a theme block and
the WooCommerce storefront script post.

Layer: web. Everything posted is public browser input: the body is capped before parsing,
every field is checked (a refusal is a 4xx naming its reason), posts are rate-limited per
store and per visitor, and consent decides what is kept: an event the shopper's consent does
not allow for analytics is dropped here; one not allowed for marketing is stored but starts no
email. Shopify stores are named by their myshopify domain (`shop_domain`, any origin: the pixel
runs in Shopify's sandbox), WooCommerce stores by id and public key from their own origin only.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from app.auth import throttle
from app.kizuna import db_session, kizuna
from app.models import Shop
from app.models.storefront import EVENT_KINDS
from app.services import stock_subscriptions, storefront_events
from app.services.storefront_events import StorefrontView
from app.storefront import _capped_body, _origin, _parse_json, _short_text, capture_key
from connectors.email_address import MAX_EMAIL_LENGTH, is_email_address
from connectors.shopify.domains import normalize_shop_domain

bp = Blueprint("storefront_events", __name__, url_prefix="/storefront")

MAX_EVENTS = 20  # per post; the pixel and the script send one or two at a time
MAX_BODY_BYTES = 16 * 1024
SHOP_RATE_LIMIT = 1200  # posts per store per minute
VISITOR_RATE_LIMIT = 60  # posts per visitor (else client address) per minute
SUBSCRIBE_RATE_LIMIT = 10  # back-in-stock requests per client address per minute
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_EVENT_AGE = timedelta(days=1)
_ID = re.compile(r"[A-Za-z0-9_.:-]{8,80}")
_VISITOR = re.compile(r"[A-Za-z0-9_.:-]{8,64}")
_EXTERNAL = re.compile(r"[0-9]{1,20}")
_GID = re.compile(r"gid://shopify/(?:Product|ProductVariant|Customer)/([0-9]{1,20})")
_LOCALE = re.compile(r"[A-Za-z]{2}(?:[-_][A-Za-z0-9]{2,8})?")


class Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def _shop() -> Shop | None:
    """The store a post names: a Shopify store by its myshopify domain, a WooCommerce store by
    id and public key; active stores only."""
    session = db_session()
    domain = request.args.get("shop_domain")
    if domain:
        normalized = normalize_shop_domain(domain)
        if normalized is None:
            return None
        return session.scalars(
            select(Shop).where(
                Shop.domain == normalized, Shop.platform == "shopify", Shop.status == "active"
            )
        ).one_or_none()
    shop_id = request.args.get("shop", type=int)
    key = request.args.get("key", "")
    if shop_id is None or not key or shop_id <= 0 or shop_id > 2**31 - 1:
        return None
    if not hmac.compare_digest(capture_key(kizuna().config.secret_key, shop_id), key):
        return None
    return session.scalars(
        select(Shop).where(
            Shop.id == shop_id, Shop.platform == "woocommerce", Shop.status == "active"
        )
    ).one_or_none()


def _allowed_origin(shop: Shop) -> str | None:
    """The origin the answer is for: a WooCommerce store's own; `*` for a Shopify store (its
    pixel runs on Shopify's sandbox origin and posts no credentials); None: refused."""
    origin = request.headers.get("Origin", "")
    if shop.platform == "shopify":
        return "*"
    return origin.lower() if origin.lower() == _origin(shop.domain) else None


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        response.headers["Vary"] = "Origin"
    return response


def _refuse(status: int, error: str, origin: str | None = None) -> Response:
    response = jsonify(error=error)
    response.status_code = status
    return _cors(response, origin)


def _over_limit(name: str, limit: int) -> bool:
    """A one-minute window from the first post (`throttle.over_limit`)."""
    return throttle.over_limit(kizuna().redis, "storefront", name, (limit, 60))


def _external_id(value: Any, field: str, *, required: bool) -> str | None:
    """A platform id: digits, or a Shopify global id of a product, variant or customer."""
    if value is None or value == "":
        if required:
            raise Refused(400, f"missing_{field}")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = _short_text(value, 80).strip()
    match = _GID.fullmatch(text)
    if match is not None:
        text = match.group(1)
    if not _EXTERNAL.fullmatch(text):
        raise Refused(400, f"invalid_{field}")
    return text


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise Refused(400, f"invalid_{field}")
    return value


def _moment(value: Any, now: datetime) -> datetime:
    if value is None:
        return now
    text = _short_text(value, 40)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, "invalid_time") from None
    if moment.tzinfo is None:
        raise Refused(400, "invalid_time")
    moment = moment.astimezone(UTC)
    if moment > now + MAX_CLOCK_SKEW or moment < now - MAX_EVENT_AGE:
        raise Refused(400, "invalid_time")
    return min(moment, now)


def _event(raw: Any, visitor: str, marketing: bool, now: datetime) -> StorefrontView:
    if not isinstance(raw, dict):
        raise Refused(400, "invalid_event")
    event_id = _short_text(raw.get("id"), 80)
    if not _ID.fullmatch(event_id):
        raise Refused(400, "invalid_event_id")
    kind = raw.get("type")
    if kind not in EVENT_KINDS:
        raise Refused(400, "invalid_event_type")
    product = _external_id(raw.get("product"), "product", required=True)
    assert product is not None  # noqa: S101 - required
    return StorefrontView(
        event_key=event_id,
        kind=str(kind),
        visitor_id=visitor,
        customer_external_id=None,
        product_external_id=product,
        variant_external_id=_external_id(raw.get("variant"), "variant", required=False),
        occurred_at=_moment(raw.get("at"), now),
        marketing_allowed=marketing,
    )


def _parse_events(data: Any, shop: Shop, now: datetime) -> tuple[str, list[StorefrontView]]:
    """(visitor id, events) of a post, or Refused. An event not allowed for analytics is left
    out; the customer id is taken from a Shopify store's pixel only (a signed-in customer)."""
    if not isinstance(data, dict):
        raise Refused(400, "invalid_json")
    visitor = _short_text(data.get("visitor"), 64)
    if not _VISITOR.fullmatch(visitor):
        raise Refused(400, "invalid_visitor")
    consent = data.get("consent")
    if not isinstance(consent, dict):
        raise Refused(400, "missing_consent")
    analytics = _flag(consent.get("analytics"), "consent")
    marketing = _flag(consent.get("marketing"), "consent")
    customer = None
    if shop.platform == "shopify":
        customer = _external_id(data.get("customer"), "customer", required=False)
    raw_events = data.get("events")
    if not isinstance(raw_events, list) or not 0 < len(raw_events) <= MAX_EVENTS:
        raise Refused(400, "invalid_events")
    events = [_event(raw, visitor, marketing, now) for raw in raw_events]
    if not analytics:
        return visitor, []
    if customer is not None:
        events = [replace(event, customer_external_id=customer) for event in events]
    return visitor, events


def _body(origin: str | None) -> Any:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise Refused(413, "body_too_large")
    raw = _capped_body()
    if raw is None or len(raw) > MAX_BODY_BYTES:
        raise Refused(413, "body_too_large")
    return _parse_json(raw)


@bp.route("/events", methods=["POST", "OPTIONS"])
def events() -> Response:
    """Product views and adds to cart (JSON: visitor, consent {analytics, marketing}, customer
    (Shopify), events [{id, type, product, variant, at}]) → 202 with the number stored."""
    shop = _shop()
    if shop is None:
        return _refuse(401, "unknown_store", "*" if request.method == "OPTIONS" else None)
    origin = _allowed_origin(shop)
    if origin is None:
        return _refuse(403, "wrong_origin")
    if request.method == "OPTIONS":
        return _cors(Response(status=204), origin)
    if _over_limit(f"shop:{shop.id}", SHOP_RATE_LIMIT):
        return _refuse(429, "too_many_requests", origin)
    now = datetime.now(UTC)
    try:
        data = _body(origin)
        visitor, views = _parse_events(data, shop, now)
    except Refused as refused:
        return _refuse(refused.status, refused.error, origin)
    if _over_limit(f"visitor:{shop.id}:{visitor}", VISITOR_RATE_LIMIT) or _over_limit(
        f"address:{shop.id}:{request.remote_addr or 'unknown'}", VISITOR_RATE_LIMIT
    ):
        return _refuse(429, "too_many_requests", origin)
    stored = storefront_events.record_events(db_session(), shop.id, views, now)
    response = jsonify(stored=stored)
    response.status_code = 202
    return _cors(response, origin)


@bp.route("/back-in-stock", methods=["POST", "OPTIONS"])
def back_in_stock() -> Response:
    """A shopper asks to hear when a product (variant) is back (JSON: email, product, variant,
    locale) → 201, or 200 when they already wait for it. Nothing else about them changes."""
    shop = _shop()
    if shop is None:
        return _refuse(401, "unknown_store", "*" if request.method == "OPTIONS" else None)
    origin = _allowed_origin(shop)
    if origin is None:
        return _refuse(403, "wrong_origin")
    if request.method == "OPTIONS":
        return _cors(Response(status=204), origin)
    if _over_limit(f"subscribe:{shop.id}:{request.remote_addr or 'unknown'}", SUBSCRIBE_RATE_LIMIT):
        return _refuse(429, "too_many_requests", origin)
    try:
        data = _body(origin)
        if not isinstance(data, dict):
            raise Refused(400, "invalid_json")
        email = _short_text(data.get("email"), 2 * MAX_EMAIL_LENGTH).strip()
        if not is_email_address(email):
            raise Refused(400, "invalid_email")
        product = _external_id(data.get("product"), "product", required=True)
        variant = _external_id(data.get("variant"), "variant", required=False)
        locale = _short_text(data.get("locale") or "", 20).strip() or None
        if locale is not None and not _LOCALE.fullmatch(locale):
            raise Refused(400, "invalid_locale")
        assert product is not None  # noqa: S101 - required
        outcome = stock_subscriptions.subscribe(
            db_session(),
            shop,
            email=email,
            product_external_id=product,
            variant_external_id=variant,
            locale=locale,
            source=f"{shop.platform}_storefront",
            now=datetime.now(UTC),
        )
    except Refused as refused:
        return _refuse(refused.status, refused.error, origin)
    except stock_subscriptions.UnknownProduct:
        return _refuse(404, "unknown_product", origin)
    response = jsonify(subscribed=True)
    response.status_code = 201 if outcome.created else 200
    return _cors(response, origin)
