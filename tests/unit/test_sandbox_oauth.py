"""The simulated Shopify's OAuth pieces: query HMAC (against Shopify's published vectors), session
tokens (readable by PyJWT, refused when wrong), and the token authority's code, exchange and
refresh-rotation rules, driven by a fake clock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest

from connectors.sandbox.shopify.oauth import (
    ID_TOKEN_TYPE,
    OFFLINE_TOKEN_TYPE,
    TOKEN_EXCHANGE_GRANT,
    OAuthError,
    TokenAuthority,
    mint_session_token,
    query_hmac,
    verify_session_token,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
VECTORS = SHARED / "specs" / "shopify" / "test_vectors" / "oauth_query_hmac_vectors.json"
SHOP = "demo-store.myshopify.com"
KEY = "sandbox-key"
SECRET = "sandbox-secret-0123456789-abcdefghij"  # 32+ bytes: PyJWT reads it without warnings


def _vectors() -> list[dict[str, Any]]:
    data = json.loads(VECTORS.read_text())
    return [v for v in data["valid"] if all(isinstance(x, str) for x in v["params"].values())]


@pytest.mark.parametrize("vector", _vectors(), ids=lambda vector: vector["id"])
def test_query_hmac_matches_shopify_published_vectors(vector: dict[str, Any]) -> None:
    assert query_hmac(vector["secret"], vector["params"]) == vector["expected_hmac_hex"]


def test_query_hmac_changes_when_a_parameter_is_tampered() -> None:
    params = {"code": "abc", "shop": SHOP, "timestamp": "1700000000"}
    tampered = {**params, "shop": "other-shop.myshopify.com"}
    assert query_hmac("hush", params) != query_hmac("hush", tampered)


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_session_token_has_app_bridge_claims_and_pyjwt_accepts_it() -> None:
    token = mint_session_token(SHOP, api_key=KEY, secret=SECRET, user_id=42)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=KEY)
    assert claims["iss"] == f"https://{SHOP}/admin"
    assert claims["dest"] == f"https://{SHOP}"
    assert claims["sub"] == "42"
    assert claims["exp"] - claims["iat"] == 60
    assert {"nbf", "jti", "sid"} <= set(claims)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


@pytest.mark.parametrize(
    ("overrides", "secret", "shop"),
    [
        ({}, "another-secret-0123456789-abcdefghij", SHOP),
        ({"aud": "another-app"}, SECRET, SHOP),
        ({"exp": 1_000}, SECRET, SHOP),
        ({}, SECRET, "other-shop.myshopify.com"),
        ({"iss": "https://other-shop.myshopify.com/admin"}, SECRET, SHOP),
    ],
    ids=["wrong-secret", "wrong-audience", "expired", "other-shop", "mismatched-iss"],
)
def test_verify_session_token_refuses(overrides: dict[str, Any], secret: str, shop: str) -> None:
    token = mint_session_token(SHOP, api_key=KEY, secret=secret, **overrides)
    assert verify_session_token(token, api_key=KEY, secret=SECRET, shop_domain=shop) is None


def test_verify_session_token_allows_ten_seconds_of_clock_skew() -> None:
    token = mint_session_token(SHOP, api_key=KEY, secret=SECRET, now=1_000, ttl=60)
    verify = verify_session_token
    assert verify(token, api_key=KEY, secret=SECRET, shop_domain=SHOP, now=1_069) is not None
    assert verify(token, api_key=KEY, secret=SECRET, shop_domain=SHOP, now=1_071) is None
    assert verify(token, api_key=KEY, secret=SECRET, shop_domain=SHOP, now=991) is not None
    assert verify(token, api_key=KEY, secret=SECRET, shop_domain=SHOP, now=989) is None


def _authority(clock: FakeClock) -> TokenAuthority:
    return TokenAuthority(KEY, SECRET, token_ttl=3600, refresh_token_ttl=90 * 86400, clock=clock)


def _client(**params: Any) -> dict[str, Any]:
    return {"client_id": KEY, "client_secret": SECRET, **params}


def test_code_is_single_use_and_expires_after_sixty_seconds() -> None:
    clock = FakeClock()
    authority = _authority(clock)
    code = authority.issue_code(SHOP, "read_customers")
    body = authority.token_endpoint(SHOP, _client(code=code), default_scope="x")
    assert body["scope"] == "read_customers"
    assert body["access_token"].startswith("shpat_")
    assert "refresh_token" not in body
    with pytest.raises(OAuthError) as reused:
        authority.token_endpoint(SHOP, _client(code=code), default_scope="x")
    assert reused.value.status == 400
    assert reused.value.body["error"] == "invalid_request"

    late = authority.issue_code(SHOP, "read_customers")
    clock.now += 61
    with pytest.raises(OAuthError):
        authority.token_endpoint(SHOP, _client(code=late), default_scope="x")


def test_wrong_client_secret_is_invalid_client() -> None:
    authority = _authority(FakeClock())
    code = authority.issue_code(SHOP, "read_customers")
    with pytest.raises(OAuthError) as refused:
        authority.token_endpoint(
            SHOP, {"client_id": KEY, "client_secret": "nope", "code": code}, default_scope="x"
        )
    assert refused.value.status == 401
    assert refused.value.body["error"] == "invalid_client"


def _exchange(authority: TokenAuthority, token: str) -> dict[str, Any]:
    return authority.token_endpoint(
        SHOP,
        _client(
            grant_type=TOKEN_EXCHANGE_GRANT,
            subject_token=token,
            subject_token_type=ID_TOKEN_TYPE,
            requested_token_type=OFFLINE_TOKEN_TYPE,
            expiring=1,
        ),
        default_scope="read_orders",
    )


def test_refresh_token_rotates_and_the_previous_one_dies_when_its_replacement_is_used() -> None:
    clock = FakeClock()
    authority = _authority(clock)
    first = _exchange(
        authority, mint_session_token(SHOP, api_key=KEY, secret=SECRET, now=clock.now)
    )
    assert first["expires_in"] == 3600
    assert first["refresh_token"].startswith("shprt_")

    def refresh(token: str) -> dict[str, Any]:
        return authority.token_endpoint(
            SHOP, _client(grant_type="refresh_token", refresh_token=token), default_scope="x"
        )

    second = refresh(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    # A lost answer must not strand the app: the old refresh token still works until the new
    # one has been used.
    again = refresh(first["refresh_token"])
    refresh(second["refresh_token"])
    with pytest.raises(OAuthError) as stale:
        refresh(first["refresh_token"])
    assert stale.value.body["error"] == "invalid_grant"
    assert refresh(again["refresh_token"])["access_token"].startswith("shpat_")


def test_expired_access_token_is_refused_while_its_refresh_token_still_works() -> None:
    clock = FakeClock()
    authority = _authority(clock)
    body = _exchange(authority, mint_session_token(SHOP, api_key=KEY, secret=SECRET, now=clock.now))
    assert authority.authenticate(SHOP, body["access_token"]) is not None
    assert authority.authenticate("other-shop.myshopify.com", body["access_token"]) is None
    clock.now += 3601
    assert authority.authenticate(SHOP, body["access_token"]) is None
    renewed = authority.token_endpoint(
        SHOP,
        _client(grant_type="refresh_token", refresh_token=body["refresh_token"]),
        default_scope="x",
    )
    assert authority.authenticate(SHOP, renewed["access_token"]) is not None


def test_revoking_a_shop_kills_access_and_refresh_tokens() -> None:
    clock = FakeClock()
    authority = _authority(clock)
    body = _exchange(authority, mint_session_token(SHOP, api_key=KEY, secret=SECRET, now=clock.now))
    assert authority.access_token_count(SHOP) == 1
    authority.revoke_shop(SHOP)
    assert authority.authenticate(SHOP, body["access_token"]) is None
    assert authority.access_token_count(SHOP) == 0
    with pytest.raises(OAuthError):
        authority.token_endpoint(
            SHOP,
            _client(grant_type="refresh_token", refresh_token=body["refresh_token"]),
            default_scope="x",
        )


def test_authorize_redirect_is_signed_like_shopify() -> None:
    from urllib.parse import parse_qsl, urlparse

    from werkzeug.test import Client

    from connectors.sandbox.shopify import SandboxShopify

    sandbox = SandboxShopify(KEY, SECRET, app_url="http://kizuna.test")
    sandbox.add_shop(SHOP, customers=1)
    response = Client(sandbox.wsgi_app).get(
        f"/{SHOP}/admin/oauth/authorize",
        query_string={
            "client_id": KEY,
            "scope": "read_orders",
            "redirect_uri": "http://kizuna.test/auth/callback?from=admin",
            "state": "a&b=c",  # delimiters in a value must not let it forge a pair
            "grant_options[]": "per-user",
        },
    )
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    params = dict(parse_qsl(location.query))
    assert params["from"] == "admin"
    assert params["state"] == "a&b=c"
    signed = {key: value for key, value in params.items() if key != "hmac"}
    assert params["hmac"] == query_hmac(SECRET, signed)
    assert params["hmac"] != query_hmac(SECRET, {**signed, "state": "a"})
    body = sandbox.tokens.token_endpoint(SHOP, _client(code=params["code"]), default_scope="x")
    assert body["associated_user"]["id"] == 1, "grant_options[]=per-user gives an online token"
