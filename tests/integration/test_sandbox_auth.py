"""The simulated Shopify's authentication over real HTTP: authorization code grant, token exchange
(managed install), refresh-token rotation, expired and revoked tokens, and the admin opening the
embedded app."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlparse

import httpx
import pytest

from connectors.sandbox.shopify import SandboxShopify, query_hmac
from connectors.sandbox.shopify.oauth import verify_session_token
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET

SHOP = "auth-shop.myshopify.com"
APP_URL = "http://kizuna.test:8000"
EXCHANGE = {
    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
    "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
}
SHOP_QUERY = {"query": "{ shop { name myshopifyDomain } }"}


@pytest.fixture
def sandbox() -> Iterator[SandboxShopify]:
    sandbox = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, app_url=APP_URL, seed=11)
    sandbox.add_shop(SHOP, customers=20)
    yield sandbox
    sandbox.close()


@pytest.fixture
def http(sandbox: SandboxShopify, serve: Any) -> Iterator[httpx.Client]:
    server = serve(sandbox.wsgi_app)
    with httpx.Client(base_url=f"{server.url}/{SHOP}", timeout=30) as client:
        yield client


def credentials(**extra: Any) -> dict[str, Any]:
    return {"client_id": SHOPIFY_API_KEY, "client_secret": SHOPIFY_API_SECRET, **extra}


def graphql(http: httpx.Client, token: str) -> httpx.Response:
    return http.post(
        "/admin/api/2026-07/graphql.json",
        json=SHOP_QUERY,
        headers={"X-Shopify-Access-Token": token},
    )


def exchange(http: httpx.Client, sandbox: SandboxShopify, **claims: Any) -> httpx.Response:
    session_token = sandbox.mint_session_token(SHOP, **claims)
    return http.post(
        "/admin/oauth/access_token",
        json=credentials(subject_token=session_token, expiring=1, **EXCHANGE),
    )


def test_authorization_code_grant_end_to_end(sandbox: SandboxShopify, http: httpx.Client) -> None:
    authorize = http.get(
        "/admin/oauth/authorize",
        params={
            "client_id": SHOPIFY_API_KEY,
            "scope": "read_customers,read_orders",
            "redirect_uri": f"{APP_URL}/auth/callback",
            "state": "nonce-123",
        },
    )
    assert authorize.status_code == 302
    location = urlparse(authorize.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{APP_URL}/auth/callback"
    params = dict(parse_qsl(location.query))
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == SHOP
    assert params["state"] == "nonce-123"
    assert params["hmac"] == query_hmac(SHOPIFY_API_SECRET, params)
    host = base64.b64decode(params["host"] + "=" * (-len(params["host"]) % 4)).decode()
    assert host == "admin.shopify.com/store/auth-shop"

    assert not sandbox.is_installed(SHOP)
    granted = http.post("/admin/oauth/access_token", data=credentials(code=params["code"]))
    assert granted.status_code == 200
    body = granted.json()
    assert body["scope"] == "read_customers,read_orders"
    assert body["access_token"].startswith("shpat_")
    assert sandbox.is_installed(SHOP)
    assert graphql(http, body["access_token"]).json()["data"]["shop"]["myshopifyDomain"] == SHOP

    reused = http.post("/admin/oauth/access_token", json=credentials(code=params["code"]))
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [
        ("someone-else", f"{APP_URL}/auth/callback"),
        (SHOPIFY_API_KEY, "https://attacker.example/auth/callback"),
        (SHOPIFY_API_KEY, "http://kizuna.test:8000.attacker.example/auth/callback"),
    ],
    ids=["wrong-client", "foreign-redirect", "lookalike-redirect"],
)
def test_authorize_refuses_bad_requests(
    http: httpx.Client, client_id: str, redirect_uri: str
) -> None:
    response = http.get(
        "/admin/oauth/authorize",
        params={"client_id": client_id, "scope": "read_orders", "redirect_uri": redirect_uri},
    )
    assert response.status_code == 400


def test_code_grant_with_expiring_returns_a_refresh_token(http: httpx.Client) -> None:
    authorize = http.get(
        "/admin/oauth/authorize",
        params={"client_id": SHOPIFY_API_KEY, "scope": "read_orders", "redirect_uri": APP_URL},
    )
    code = dict(parse_qsl(urlparse(authorize.headers["Location"]).query))["code"]
    body = http.post("/admin/oauth/access_token", json=credentials(code=code, expiring=1)).json()
    assert body["expires_in"] == 3600
    assert body["refresh_token"].startswith("shprt_")
    assert body["refresh_token_expires_in"] == 90 * 24 * 3600


def test_wrong_client_secret_is_401_invalid_client(
    sandbox: SandboxShopify, http: httpx.Client
) -> None:
    token = sandbox.mint_session_token(SHOP)
    response = http.post(
        "/admin/oauth/access_token",
        json={
            "client_id": SHOPIFY_API_KEY,
            "client_secret": "wrong",
            "subject_token": token,
            **EXCHANGE,
        },
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_exchange_installs_the_app(sandbox: SandboxShopify, http: httpx.Client) -> None:
    response = exchange(http, sandbox)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "scope",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
    }
    assert sandbox.is_installed(SHOP)
    assert sandbox.access_token_count(SHOP) == 1
    assert graphql(http, body["access_token"]).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"secret": "not-the-app-secret"},
        {"ttl": -60},
        {"aud": "another-app"},
        {"dest": "https://other-shop.myshopify.com"},
    ],
    ids=["bad-signature", "expired", "other-app", "other-shop"],
)
def test_token_exchange_refuses_a_bad_session_token(
    sandbox: SandboxShopify, http: httpx.Client, claims: dict[str, Any]
) -> None:
    response = exchange(http, sandbox, **claims)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_subject_token"
    assert not sandbox.is_installed(SHOP)


def test_refresh_rotation_over_http(sandbox: SandboxShopify, http: httpx.Client) -> None:
    first = exchange(http, sandbox).json()

    def refresh(token: str) -> httpx.Response:
        return http.post(
            "/admin/oauth/access_token",
            json=credentials(grant_type="refresh_token", refresh_token=token),
        )

    second = refresh(first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert refresh(first["refresh_token"]).status_code == 200  # replacement not used yet
    assert refresh(second.json()["refresh_token"]).status_code == 200
    stale = refresh(first["refresh_token"])
    assert stale.status_code == 400
    assert stale.json()["error"] == "invalid_grant"


def test_expired_access_token_is_401_until_refreshed(
    sandbox: SandboxShopify, http: httpx.Client
) -> None:
    body = exchange(http, sandbox).json()
    assert graphql(http, body["access_token"]).status_code == 200
    sandbox.expire_access_tokens(SHOP)
    refused = graphql(http, body["access_token"])
    assert refused.status_code == 401
    assert refused.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    renewed = http.post(
        "/admin/oauth/access_token",
        json=credentials(grant_type="refresh_token", refresh_token=body["refresh_token"]),
    ).json()
    assert graphql(http, renewed["access_token"]).status_code == 200


def test_missing_or_unknown_token_and_unknown_shop(
    sandbox: SandboxShopify, http: httpx.Client
) -> None:
    assert http.post("/admin/api/2026-07/graphql.json", json=SHOP_QUERY).status_code == 401
    assert graphql(http, "shpat_00000000000000000000000000000000").status_code == 401
    base = str(http.base_url).rsplit("/", 2)[0]
    unknown = httpx.post(f"{base}/nowhere.myshopify.com/admin/api/2026-07/graphql.json", json={})
    assert unknown.status_code == 404


def test_uninstall_revokes_every_token(sandbox: SandboxShopify, http: httpx.Client) -> None:
    body = exchange(http, sandbox).json()
    sandbox.shop(SHOP).uninstall_app()
    assert not sandbox.is_installed(SHOP)
    assert sandbox.access_token_count(SHOP) == 0
    assert graphql(http, body["access_token"]).status_code == 401
    refreshed = http.post(
        "/admin/oauth/access_token",
        json=credentials(grant_type="refresh_token", refresh_token=body["refresh_token"]),
    )
    assert refreshed.status_code == 400


def test_opening_the_app_from_the_admin(sandbox: SandboxShopify, http: httpx.Client) -> None:
    response = http.get(f"/admin/apps/{SHOPIFY_API_KEY}")
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{APP_URL}/app"
    params = dict(parse_qsl(location.query))
    assert params["embedded"] == "1"
    assert params["shop"] == SHOP
    assert params["locale"] == "ja"
    assert params["hmac"] == query_hmac(SHOPIFY_API_SECRET, params)
    claims = verify_session_token(
        params["id_token"], api_key=SHOPIFY_API_KEY, secret=SHOPIFY_API_SECRET, shop_domain=SHOP
    )
    assert claims is not None
    assert http.get("/admin/apps/some-other-app").status_code == 404
