"""Session tokens: the derived vectors and tokens minted here, including the iss/dest check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest

from connectors.shopify.session_token import verify_session_token

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
VECTORS = json.loads(
    (SHARED / "specs/shopify/test_vectors/session_token_jwt_vectors.DERIVED.json").read_text()
)
API_KEY = "test-api-key"
# Long enough for PyJWT's key-length rule even for HS384, so only the algorithm check refuses it.
CURRENT = "current-secret-0123456789abcdef0123456789abcdef0123"
PREVIOUS = "previous-secret-0123456789abcdef0123456789abcdef012"
NOW = 1_800_000_000


# The vectors' secret ("API Secret") is shorter than PyJWT likes; that is the vectors' choice.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["id"])
def test_derived_vectors(case: dict[str, Any]) -> None:
    result = verify_session_token(
        case["token"], VECTORS["api_key"], [VECTORS["secret"]], now=case["verify_at_unix"]
    )
    assert result.ok is case["expected"].startswith("valid"), result.reason
    if result.ok:
        assert result.shop_domain == "test-shop.myshopify.com"
        assert result.user_id == "1"


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": "https://demo-store.myshopify.com/admin",
        "dest": "https://demo-store.myshopify.com",
        "aud": API_KEY,
        "sub": "42",
        "exp": NOW + 60,
        "nbf": NOW - 5,
        "iat": NOW - 5,
        "jti": "b1b2b3",
        "sid": "s1s2s3",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _mint(secret: str = CURRENT, algorithm: str = "HS256", **overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), secret, algorithm=algorithm)


def _verify(token: str, now: float = NOW) -> Any:
    return verify_session_token(token, API_KEY, [CURRENT, PREVIOUS], now=now)


def test_a_valid_token_names_its_shop_and_user() -> None:
    result = _verify(_mint())
    assert result.ok
    assert result.shop_domain == "demo-store.myshopify.com"
    assert result.user_id == "42"
    assert result.claims["sid"] == "s1s2s3"


def test_the_previous_secret_is_accepted() -> None:
    assert _verify(_mint(secret=PREVIOUS)).ok


@pytest.mark.parametrize(
    ("token_args", "now", "reason"),
    [
        ({"secret": "some-other-secret-0123456789abcdef0123456789abcdef0"}, NOW, "bad signature"),
        ({"aud": "another-app"}, NOW, "wrong audience"),
        ({"exp": NOW - 11}, NOW, "expired"),
        ({"nbf": NOW + 11}, NOW, "not yet valid"),
        ({"iss": "https://other-shop.myshopify.com/admin"}, NOW, "issuer and destination"),
        ({"dest": "https://other-shop.myshopify.com"}, NOW, "issuer and destination"),
        ({"iss": "https://evil.com/admin"}, NOW, "invalid issuer"),
        ({"dest": "https://demo-store.myshopify.com.evil.com"}, NOW, "invalid destination"),
        ({"dest": "http://demo-store.myshopify.com"}, NOW, "invalid destination"),
        ({"sub": None}, NOW, "missing claim sub"),
        ({"dest": None}, NOW, "missing claim dest"),
        ({"algorithm": "HS384"}, NOW, "algorithm not allowed"),
    ],
)
def test_untrustworthy_tokens_are_refused(
    token_args: dict[str, Any], now: int, reason: str
) -> None:
    result = _verify(_mint(**token_args), now=now)
    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith(reason)
    assert result.shop_domain is None


def test_leeway_is_ten_seconds_each_way() -> None:
    assert _verify(_mint(exp=NOW - 9)).ok
    assert _verify(_mint(nbf=NOW + 9)).ok


def test_garbage_and_empty_tokens_are_refused() -> None:
    assert _verify("not.a.jwt").reason == "malformed token"
    assert _verify("").reason == "missing token"
    assert _verify("x" * 10_000).reason == "missing token"


def test_the_result_never_shows_the_claims_in_its_repr() -> None:
    assert "s1s2s3" not in repr(_verify(_mint()))
