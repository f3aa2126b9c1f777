"""OAuth query signatures: Shopify's official vectors, tampering, rotation, timestamps, URLs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.shopify.oauth import (
    authorize_url,
    check_timestamp,
    grant_from_response,
    query_hmac,
    verify_query_hmac,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
VECTORS = json.loads(
    (SHARED / "specs/shopify/test_vectors/oauth_query_hmac_vectors.json").read_text()
)


def _params(raw: dict[str, Any]) -> dict[str, str | list[str]]:
    return {
        key: [str(v) for v in value] if isinstance(value, list) else str(value)
        for key, value in raw.items()
    }


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["id"])
def test_official_valid_vectors_verify(vector: dict[str, Any]) -> None:
    params = _params(vector["params"])
    params["hmac"] = vector["expected_hmac_hex"]
    assert verify_query_hmac(params, [vector["secret"]]).ok
    assert query_hmac(params, vector["secret"]) == vector["expected_hmac_hex"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["id"])
def test_official_invalid_vectors_are_refused(vector: dict[str, Any]) -> None:
    result = verify_query_hmac(_params(vector["params"]), [vector["secret"]])
    assert not result.ok
    assert result.reason == "hmac does not match"


def test_the_raw_docs_query_string_verifies() -> None:
    vector = VECTORS["valid"][0]
    params = {key: values[0] for key, values in parse_qs(vector["query_string"]).items()}
    assert verify_query_hmac(params, ["hush"]).ok


def _docs_params() -> dict[str, str | list[str]]:
    return _params(VECTORS["valid"][0]["params"])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p.update(code="0907a61c0c8d55e99db179b68161bc01"),
        lambda p: p.update(state="0.6784241404160824"),
        lambda p: p.update(timestamp="1337178174"),
        lambda p: p.update(extra="1"),
        lambda p: p.pop("shop"),
        lambda p: p.update(hmac=p["hmac"].upper()),  # type: ignore[union-attr]
        lambda p: p.update(hmac="not-hex-at-all-é"),
    ],
)
def test_a_tampered_query_is_refused(tamper: Any) -> None:
    params = _docs_params()
    tamper(params)
    assert not verify_query_hmac(params, ["hush"]).ok


def test_missing_hmac_is_refused_with_a_reason() -> None:
    params = _docs_params()
    del params["hmac"]
    assert verify_query_hmac(params, ["hush"]).reason == "missing hmac"


def test_a_repeated_plain_parameter_is_refused() -> None:
    params = _docs_params()
    params["shop"] = ["some-shop.myshopify.com", "evil.myshopify.com"]
    assert verify_query_hmac(params, ["hush"]).reason == "a query parameter is repeated"


def test_a_delimiter_inside_a_value_cannot_forge_a_pair() -> None:
    # "a=1&b=2" signed as one pair must not verify as two pairs a=1, b=2.
    signed = {"a": "1&b=2"}
    signature = query_hmac(signed, "secret")
    assert not verify_query_hmac({"a": "1", "b": "2", "hmac": signature}, ["secret"]).ok
    assert verify_query_hmac({**signed, "hmac": signature}, ["secret"]).ok


def test_previous_secret_is_accepted_during_rotation() -> None:
    params = _docs_params()
    assert verify_query_hmac(params, ["new-secret", "hush"]).ok
    assert verify_query_hmac(params, ["hush", "new-secret"]).ok
    assert not verify_query_hmac(params, ["new-secret", "older-secret"]).ok
    assert not verify_query_hmac(params, []).ok


def test_timestamp_window() -> None:
    now = 1_700_000_000.0
    assert check_timestamp("1700000000", now).ok
    assert check_timestamp(str(int(now) - 89), now).ok
    assert check_timestamp(str(int(now) + 60), now).ok
    stale = check_timestamp(str(int(now) - 91), now)
    assert not stale.ok
    assert stale.reason == "timestamp too old or in the future"
    assert not check_timestamp(str(int(now) + 3600), now).ok
    assert not check_timestamp(None, now).ok
    assert not check_timestamp("yesterday", now).ok
    assert check_timestamp(str(int(now) - 3000), now, max_age=3600).ok


def test_authorize_url() -> None:
    url = authorize_url(
        "Demo.myshopify.com",
        "key",
        "read_customers,read_orders",
        "https://app.example/auth/shopify/callback",
        "abc",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "demo.myshopify.com",
        "/admin/oauth/authorize",
    )
    assert parse_qs(parts.query) == {
        "client_id": ["key"],
        "scope": ["read_customers,read_orders"],
        "redirect_uri": ["https://app.example/auth/shopify/callback"],
        "state": ["abc"],
    }
    with pytest.raises(ValueError, match="myshopify"):
        authorize_url("evil.com", "key", "s", "https://x", "abc")


def test_grant_from_response_and_its_repr_hides_tokens() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, tzinfo=UTC)
    grant = grant_from_response(
        {
            "access_token": "shpat_secret",
            "scope": "read_orders",
            "expires_in": 3600,
            "refresh_token": "shprt_secret",
            "refresh_token_expires_in": 7776000,
        },
        now,
    )
    assert grant.expires_at == now + timedelta(hours=1)
    assert grant.refresh_token_expires_at == now + timedelta(days=90)
    assert "shpat_secret" not in repr(grant)
    assert "shprt_secret" not in repr(grant)
    permanent = grant_from_response({"access_token": "t", "scope": "s"}, now)
    assert permanent.expires_at is None
    assert permanent.refresh_token is None
