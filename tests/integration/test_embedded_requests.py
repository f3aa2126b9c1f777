"""The embedded admin's requests without cookies: a form POST with a valid session token in
`Authorization: Bearer` saves with no CSRF token and no cookie is created; an `id_token` in the
query or a bad Bearer token is not enough for a POST; error pages shown in Shopify's frame load
App Bridge and may be framed by the shop's admin; the simulated admin frames the app with a
signed query and a fresh session token, and serves the stand-in App Bridge.

Integration tests on the real app (PostgreSQL, Redis) and the simulated Shopify over HTTP.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.inquiry import Inquiry
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.oauth import verify_session_token
from connectors.sandbox.shopify.server import embedded_admin_url
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET
from tests.factories.admin import make_account, make_customer, make_shop

pytestmark = pytest.mark.integration

DOMAIN = "tea-house.myshopify.com"
APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"


@pytest.fixture
def sandbox() -> Any:
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=5)
    platform.add_shop(DOMAIN, customers=1, years=1, name="Tea House")
    yield platform
    platform.close()


@pytest.fixture
def shop(db: Session, runtime: Any) -> Any:
    made = make_shop(db, make_account(db), DOMAIN, name="Tea House")
    made.access_token_encrypted = runtime.cipher.encrypt("shpat_embedded")
    db.commit()
    return made


def _embedded(token: str | None = None) -> dict[str, str]:
    query = {"embedded": "1", "shop": DOMAIN, "host": "YWRtaW4", "locale": "en"}
    if token:
        query["id_token"] = token
    return query


INQUIRY = {"channel": "phone", "kind": "complaint", "subject": "Tea arrived stale", "notes": ""}


def _query(token: str | None = None) -> str:
    return "&".join(f"{k}={v}" for k, v in _embedded(token).items())


def test_a_post_with_a_valid_bearer_token_saves_without_csrf_or_cookie(
    client: Any, db: Session, shop: Any, sandbox: SandboxShopify
) -> None:
    customer = make_customer(db, shop)
    page = client.get(
        f"/app/customers/{customer.id}", query_string=_embedded(sandbox.mint_session_token(DOMAIN))
    )
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers
    assert 'name="csrf_token" value=""' in page.get_data(as_text=True)  # no session made
    response = client.post(
        f"/app/customers/{customer.id}/inquiries?{_query()}",
        data=INQUIRY,
        headers={"Authorization": f"Bearer {sandbox.mint_session_token(DOMAIN)}"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert "Set-Cookie" not in response.headers
    assert "embedded=1" in response.headers["Location"]
    assert "inquiry=logged" in response.headers["Location"]
    db.expire_all()
    assert [i.subject for i in db.scalars(select(Inquiry))] == ["Tea arrived stale"]
    assert client.get_cookie("session") is None


def test_a_post_without_a_valid_bearer_token_needs_the_csrf_token(
    client: Any, db: Session, shop: Any, sandbox: SandboxShopify
) -> None:
    customer = make_customer(db, shop)
    target = f"/app/customers/{customer.id}/inquiries"
    # A token in the query is what a link or a plain form carries: not proof for a POST.
    in_query = client.post(f"{target}?{_query(sandbox.mint_session_token(DOMAIN))}", data=INQUIRY)
    assert in_query.status_code == 400
    page = in_query.get_data(as_text=True)
    assert "This form has expired" in page
    assert f'<script src="{APP_BRIDGE}"></script>' in page
    assert f"https://{DOMAIN}" in in_query.headers["Content-Security-Policy"]
    bad = sandbox.mint_session_token(DOMAIN, secret="x" * 40)
    forged = client.post(target, data=INQUIRY, headers={"Authorization": f"Bearer {bad}"})
    assert forged.status_code == 400
    assert db.scalars(select(Inquiry)).all() == []


def test_error_pages_in_the_frame_load_app_bridge(client: Any, shop: Any) -> None:
    missing = client.get("/app/nowhere", query_string=_embedded())
    assert missing.status_code == 404
    page = missing.get_data(as_text=True)
    assert f'<script src="{APP_BRIDGE}"></script>' in page
    assert f'<meta name="shopify-api-key" content="{SHOPIFY_API_KEY}">' in page
    assert (
        "frame-ancestors https://tea-house.myshopify.com https://admin.shopify.com"
        in (missing.headers["Content-Security-Policy"])
    )
    back = re.search(r'class="btn" href="([^"]+)"', page)
    assert back
    assert parse_qs(urlsplit(html.unescape(back[1])).query)["shop"] == [DOMAIN]
    # Outside the frame: the plain page, never framed, no App Bridge.
    plain = client.get("/nowhere")
    assert plain.status_code == 404
    assert "app-bridge.js" not in plain.get_data(as_text=True)
    assert plain.headers["Content-Security-Policy"] == "frame-ancestors 'none';"
    # The JSON API keeps its JSON errors.
    assert client.get("/api/v1/nowhere").json["error"] == "not_found"


def test_the_simulated_admin_frames_the_app(serve: Any, sandbox: SandboxShopify) -> None:
    sandbox.set_app_url("http://127.0.0.1:9")
    base = serve(sandbox.wsgi_app).url
    page = httpx.get(embedded_admin_url(base, DOMAIN, SHOPIFY_API_KEY, "ja") + "&x=1")
    assert page.status_code == 200
    src = re.search(r'<iframe id="app-iframe"[^>]* src="([^"]+)"', page.text)
    assert src
    frame = urlsplit(html.unescape(src[1]))
    assert (frame.scheme, frame.netloc, frame.path) == ("http", "127.0.0.1:9", "/app")
    query = {k: v[0] for k, v in parse_qs(frame.query).items()}
    assert query["embedded"] == "1"
    assert (query["shop"], query["locale"], query["x"]) == (DOMAIN, "ja", "1")
    claims = verify_session_token(
        query["id_token"], api_key=SHOPIFY_API_KEY, secret=SHOPIFY_API_SECRET, shop_domain=DOMAIN
    )
    assert claims is not None
    assert claims["exp"] - claims["iat"] == 60
    assert {"iss", "dest", "aud", "sub", "nbf", "jti", "sid"} <= set(claims)
    signed = {k: v for k, v in query.items() if k not in ("hmac", "x")}
    assert sandbox.sign_query(signed) == query["hmac"]
    deeper = httpx.get(f"{base}/store/tea-house/apps/{SHOPIFY_API_KEY}/outbox")
    assert "/app/outbox?" in html.unescape(deeper.text)
    assert httpx.get(f"{base}/store/tea-house/apps/another-app").status_code == 404
    script = httpx.get(f"{base}/_sandbox/app-bridge.js")
    assert script.status_code == 200
    assert "idToken" in script.text
    assert "shopify:navigate" in script.text
