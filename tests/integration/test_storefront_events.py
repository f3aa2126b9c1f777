"""The public storefront endpoints under hostile input: product views and back-in-stock
requests are refused with a reason (4xx) and store nothing, resent events are stored once,
and posts are rate-limited per visitor and per store (real PostgreSQL and Redis)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.services.redact import redact_customer
from app.storefront import capture_key
from app.storefront.events import MAX_BODY_BYTES, VISITOR_RATE_LIMIT
from tests.factories.post_purchase import BOWL, now
from tests.factories.shopify_webhooks import DOMAIN
from tests.factories.storefront import (
    VISITOR,
    event,
    pixel_post,
    stored_events,
    storefront_shop,
    subscriptions,
)


def post(client: Any, body: Any, domain: str = DOMAIN) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        f"/storefront/events?shop_domain={domain}",
        data=raw,
        headers={"Content-Type": "text/plain"},  # what navigator.sendBeacon sends
    )


def good(**changes: Any) -> dict[str, Any]:
    body = {
        "visitor": VISITOR,
        "customer": "7001",
        "consent": {"analytics": True, "marketing": True},
        "events": [event(BOWL)],
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[]", 400, "invalid_json"),
        (good(visitor="x"), 400, "invalid_visitor"),
        (good(visitor="<script>alert(1)</script>"), 400, "invalid_visitor"),
        (good(consent=None), 400, "missing_consent"),
        (good(consent={"analytics": "yes", "marketing": True}), 400, "invalid_consent"),
        (good(customer="1 OR 1=1"), 400, "invalid_customer"),
        (good(events=[]), 400, "invalid_events"),
        (good(events=[event(BOWL)] * 21), 400, "invalid_events"),
        (good(events=["product"]), 400, "invalid_event"),
        (good(events=[{**event(BOWL), "id": "x"}]), 400, "invalid_event_id"),
        (good(events=[{**event(BOWL), "type": "checkout_completed"}]), 400, "invalid_event_type"),
        (good(events=[{**event(BOWL), "product": "../../etc"}]), 400, "invalid_product"),
        (good(events=[{**event(BOWL), "product": None}]), 400, "missing_product"),
        (
            good(events=[{**event(BOWL), "variant": "gid://shopify/Order/1"}]),
            400,
            "invalid_variant",
        ),
        (good(events=[event(BOWL, at=now() + timedelta(days=2))]), 400, "invalid_time"),
        (good(events=[event(BOWL, at=now() - timedelta(days=9))]), 400, "invalid_time"),
        (good(events=[{**event(BOWL), "at": "yesterday"}]), 400, "invalid_time"),
        (b'{"visitor": "' + b"a" * MAX_BODY_BYTES + b'"}', 413, "body_too_large"),
        (b"[" * 100_000 + b"]" * 100_000, 413, "body_too_large"),
    ],
)
def test_hostile_views_are_refused_with_a_reason_and_store_nothing(
    client: Any, db: Session, body: Any, status: int, error: str
) -> None:
    shop, _ = storefront_shop(db)
    response = post(client, body)
    assert (response.status_code, response.get_json()["error"]) == (status, error)
    assert stored_events(db, shop) == []


def test_unknown_stores_and_foreign_origins_are_refused(
    client: Any, db: Session, runtime: Any
) -> None:
    shop, _ = storefront_shop(db)
    assert post(client, good(), domain="nobody.myshopify.com").status_code == 401
    assert post(client, good(), domain="javascript:alert(1)").status_code == 401
    shop.platform, shop.domain = "woocommerce", "https://tea.example.com"
    db.commit()
    key = capture_key(runtime.config.secret_key, shop.id)
    url = f"/storefront/events?shop={shop.id}&key={key}"
    assert (
        client.post(url, json=good(), headers={"Origin": "https://evil.example"}).status_code == 403
    )
    wrong_key = f"/storefront/events?shop={shop.id}&key={'0' * 32}"
    assert (
        client.post(
            wrong_key, json=good(), headers={"Origin": "https://tea.example.com"}
        ).status_code
        == 401
    )
    preflight = client.options(url, headers={"Origin": "https://tea.example.com"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://tea.example.com"
    assert stored_events(db, shop) == []


def test_a_resent_event_is_stored_once(client: Any, db: Session) -> None:
    shop, _ = storefront_shop(db)
    same = event(BOWL, event_id="event-resent-0001")
    assert pixel_post(client, [same]).get_json() == {"stored": 1}
    assert pixel_post(client, [same]).get_json() == {"stored": 0}
    assert len(stored_events(db, shop)) == 1


def test_a_visitor_posting_too_fast_is_limited_and_others_are_not(client: Any, db: Session) -> None:
    shop, _ = storefront_shop(db)
    for _ in range(VISITOR_RATE_LIMIT):
        assert pixel_post(client, [event(BOWL)], customer=None).status_code == 202
    limited = pixel_post(client, [event(BOWL)], customer=None)
    assert (limited.status_code, limited.get_json()["error"]) == (429, "too_many_requests")
    assert len(stored_events(db, shop)) == VISITOR_RATE_LIMIT


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"email": "not-an-email", "product": BOWL}, 400, "invalid_email"),
        ({"email": "a@example.jp" * 200, "product": BOWL}, 400, "invalid_email"),
        ({"email": "a@example.jp", "product": "1; DROP TABLE"}, 400, "invalid_product"),
        ({"email": "a@example.jp"}, 400, "missing_product"),
        ({"email": "a@example.jp", "product": "999999"}, 404, "unknown_product"),
        ({"email": "a@example.jp", "product": BOWL, "variant": "999"}, 404, "unknown_product"),
        ({"email": "a@example.jp", "product": BOWL, "locale": "<b>"}, 400, "invalid_locale"),
        (["a@example.jp"], 400, "invalid_json"),
    ],
)
def test_hostile_back_in_stock_requests_are_refused(
    client: Any, db: Session, body: Any, status: int, error: str
) -> None:
    shop, _ = storefront_shop(db)
    response = client.post(f"/storefront/back-in-stock?shop_domain={DOMAIN}", json=body)
    assert (response.status_code, response.get_json()["error"]) == (status, error)
    assert subscriptions(db, shop) == []


def test_back_in_stock_requests_are_rate_limited_per_address(client: Any, db: Session) -> None:
    shop, _ = storefront_shop(db)
    statuses = [
        client.post(
            f"/storefront/back-in-stock?shop_domain={DOMAIN}",
            json={"email": f"shopper{n}@example.jp", "product": BOWL},
        ).status_code
        for n in range(11)
    ]
    assert statuses == [201] * 10 + [429]
    assert len(subscriptions(db, shop)) == 10


def test_a_customer_redact_erases_their_views_and_back_in_stock_requests(
    client: Any, db: Session, runtime: Any
) -> None:
    shop, customer = storefront_shop(db)
    pixel_post(client, [event(BOWL)])
    response = client.post(
        f"/storefront/back-in-stock?shop_domain={DOMAIN}",
        json={"email": "hanako@example.jp", "product": BOWL},
    )
    assert response.status_code == 201
    assert len(stored_events(db, shop)) == 1
    with client.application.app_context():
        redact_customer(db, shop.id, customer.external_id, "hanako@example.jp")
        db.commit()
    assert stored_events(db, shop) == []
    assert subscriptions(db, shop) == []
