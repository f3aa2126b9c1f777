"""Log lines, request ids, Sentry scrubbing and their settings, without I/O."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from app.config import ConfigError, load_config
from app.error_reporting import scrub_event
from app.logs import job_context, make_handler, request_id_from

PRODUCTION = {
    "DATABASE_URL": "postgresql://db/kizuna",
    "SECRET_KEY": "s" * 32,
    "ENCRYPTION_KEYS": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "APP_URL": "https://kizuna.example.com",
    "SHOPIFY_API_KEY": "client-id",
    "SHOPIFY_API_SECRET": "secret",
    "SENDGRID_API_KEY": "SG.key",
}


# What a database error says about the row it failed on (stack lines show code, not this).
DATABASE_ERROR_TEXT = "duplicate key (email)=(hanako@example.jp)"


def test_logs_are_json_in_production_and_text_when_embedded_or_in_development(
    tmp_path: Path,
) -> None:
    assert load_config(PRODUCTION, instance_path=tmp_path).log_format == "json"
    assert load_config({}, instance_path=tmp_path).log_format == "text"
    development = {**PRODUCTION, "KIZUNA_ENV": "development"}
    assert load_config(development, instance_path=tmp_path).log_format == "text"
    text = load_config({**PRODUCTION, "LOG_FORMAT": "TEXT"}, instance_path=tmp_path)
    assert text.log_format == "text"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOG_FORMAT", "yaml", "LOG_FORMAT must be json or text"),
        ("METRICS_TOKEN", "short", "METRICS_TOKEN must be at least 16 characters"),
        ("SENTRY_DSN", "not a url", "SENTRY_DSN must be a URL"),
    ],
)
def test_bad_observability_settings_fail_fast(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({**PRODUCTION, name: value}, instance_path=tmp_path)


@pytest.mark.parametrize(
    "incoming", [None, "", "short", "has space", "x" * 200, "a\nb-injected-line", "<script>x"]
)
def test_a_malformed_request_id_is_replaced(incoming: str | None) -> None:
    assert request_id_from(incoming) != incoming
    assert len(request_id_from(incoming)) == 32


def test_a_well_formed_request_id_is_kept() -> None:
    assert request_id_from("edge-4f1c2a9b:0001.a_b") == "edge-4f1c2a9b:0001.a_b"


def test_a_json_line_carries_ids_and_exception_frames_but_not_the_exception_text() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("kizuna.test.json")
    handler = make_handler("json", stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with job_context("webhook-7", {"request_id": "edge-0001-abcdef"}):
            try:
                raise ValueError(DATABASE_ERROR_TEXT)
            except ValueError:
                logger.exception("webhook failed event_id=%s", 7)
    finally:
        logger.removeHandler(handler)
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == "webhook failed event_id=7"
    assert (line["job_id"], line["request_id"]) == ("webhook-7", "edge-0001-abcdef")
    assert line["exc_type"] == "ValueError"
    assert "test_observability_units.py" in line["stack"]
    assert "hanako" not in stream.getvalue()


def test_sentry_events_lose_bodies_cookies_queries_and_database_error_text() -> None:
    event = {
        "request": {
            "url": "https://kizuna.test/login?email=hanako@example.jp",
            "query_string": "email=hanako@example.jp",
            "data": {"email": "hanako@example.jp"},
            "cookies": {"session": "abc"},
            "headers": {"Cookie": "session=abc", "Authorization": "Bearer t", "Accept": "*/*"},
        },
        "user": {"email": "hanako@example.jp"},
        "exception": {
            "values": [
                {"module": "psycopg.errors", "type": "UniqueViolation", "value": "(hanako@…)"},
                {"module": None, "type": "RuntimeError", "value": "the route failed"},
            ]
        },
    }
    scrubbed = json.dumps(scrub_event(event))
    assert "hanako" not in scrubbed
    assert "abc" not in scrubbed
    assert "Bearer" not in scrubbed
    assert "the route failed" in scrubbed
    assert '"Accept": "*/*"' in scrubbed
    assert "https://kizuna.test/login" in scrubbed
