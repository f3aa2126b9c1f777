"""SendGrid client details that need no server: error text masking and rate-limit arithmetic.

Unit tests: no database, no network. Retries, timeouts and statuses over real HTTP are in
tests/integration/test_sendgrid_client.py.
"""

from __future__ import annotations

import json
import time

import pytest
from python_http_client.exceptions import HTTPError

from connectors.sendgrid.client import SendGridClient, _describe, _kizuna_message_ids

NOW = 1_800_000_000.0


def _client() -> SendGridClient:
    return SendGridClient("test-key", base_url="http://127.0.0.1:9", clock=lambda: NOW)


def test_error_text_keeps_sendgrid_messages_but_masks_addresses() -> None:
    body = json.dumps(
        {
            "errors": [
                {
                    "message": "Each email address should be unique. We found a@example.com twice.",
                    "field": "personalizations.0.to",
                    "help": None,
                }
            ]
        }
    ).encode()
    text = _describe(HTTPError(400, "Bad Request", body, {}))
    assert text.startswith("SendGrid HTTP 400: Each email address should be unique.")
    assert "(field: personalizations.0.to)" in text
    assert "a@example.com" not in text
    assert "<address>" in text


def test_error_text_survives_a_body_that_is_not_json() -> None:
    assert _describe(HTTPError(502, "Bad Gateway", b"<html>", {})) == (
        "SendGrid HTTP 502: no detail"
    )


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        ({"X-RateLimit-Reset": str(int(NOW) + 5)}, 5.0, 5.25),
        ({"X-RateLimit-Reset": str(int(NOW) - 5)}, 0.0, 0.25),  # already reset
        ({"Retry-After": "7"}, 7.0, 7.0),
        ({"Retry-After": "Fri, 15 Jan 2027 08:00:10 GMT"}, 10.0, 10.0),
    ],
)
def test_rate_limit_wait(headers: dict[str, str], low: float, high: float) -> None:
    wait = _client()._rate_limit_wait(headers)
    assert wait is not None
    assert low <= wait <= high


def test_rate_limit_wait_is_unknown_without_headers() -> None:
    assert _client()._rate_limit_wait({}) is None
    assert _client()._rate_limit_wait({"X-RateLimit-Reset": "soon"}) is None


def test_kizuna_ids_come_from_every_personalization() -> None:
    body = {
        "personalizations": [
            {"to": [{"email": "a@example.com"}], "custom_args": {"kizuna_message_id": "m1"}},
            {"to": [{"email": "b@example.com"}]},
            {"to": [{"email": "c@example.com"}], "custom_args": {"kizuna_message_id": "m3"}},
        ]
    }
    assert _kizuna_message_ids(body) == ("m1", "m3")


def test_find_messages_refuses_ids_that_would_change_the_query() -> None:
    with pytest.raises(ValueError, match="opaque"):
        _client().find_messages('x" OR status="delivered')


def test_masking_a_long_error_text_takes_linear_time() -> None:
    # An address-free run of 50,000 characters: a pattern anchored on "@" retried it from each
    # start position (seconds); the scan is one pass.
    body = json.dumps({"errors": [{"message": "x" * 50_000 + " and b@example.com"}]}).encode()
    started = time.perf_counter()
    text = _describe(HTTPError(400, "Bad Request", body, {}))
    assert time.perf_counter() - started < 2.0  # the quadratic scan took seconds
    assert "b@example.com" not in text
    assert text.endswith("and <address>")
