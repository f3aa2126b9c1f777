"""Logs, request ids, /metrics and error reporting, seen from outside: real HTTP to the simulated
SendGrid, real PostgreSQL and Redis, jobs drained by RQ's burst worker, a local HTTP listener
standing in for Sentry. Log lines are captured as the product writes them (JSON, one per line).
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from rq.job import Job
from sqlalchemy.orm import Session

from app import create_app
from app import entry as process_runtime
from app.config import Config, load_config
from app.logs import make_handler
from app.queueing import EMAIL, QUEUE_NAMES, WEBHOOKS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step
from tests.conftest import SHOPIFY_API_SECRET, make_test_env
from tests.factories import cart_flow
from tests.factories.cart_flow import CUSTOMER_ID, TOKEN, checkout_body, runs, setup_shop
from tests.factories.shopify_webhooks import deliver, shopify_headers

sendgrid = cart_flow.sendgrid

METRICS_TOKEN = "metrics-token-0123456789abcdef"
PERSONAL = ("hanako@example.jp", "hanako", "花子", TOKEN, "/unsubscribe/", "/recover?key=")
SECRETS = (SHOPIFY_API_SECRET, METRICS_TOKEN, "ciphertext-access")


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Path, sendgrid: Any) -> Config:
    env = make_test_env(
        database_url,
        redis_url,
        APP_URL="https://kizuna.test",
        SENDGRID_SANDBOX_URL=sendgrid.url,
        SENDGRID_EVENT_PUBLIC_KEY=sendgrid.public_key_b64,
        METRICS_TOKEN=METRICS_TOKEN,
        LOG_FORMAT="json",
    )
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Reads every line the process logged so far in this test (DEBUG and up), parsed."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def deliver_checkout_with_id(client: Any, request_id: str) -> Any:
    raw = json.dumps(checkout_body()).encode()
    headers = shopify_headers("checkouts/create", raw, webhook_id="wh-observed-1")
    headers["X-Request-Id"] = request_id
    return client.post("/webhooks/shopify", data=raw, headers=headers)


def test_a_webhook_request_id_reaches_the_log_lines_of_its_jobs(
    client: Any,
    db: Session,
    runtime: Any,
    drain_jobs: Any,
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    setup_shop(db)
    request_id = "edge-4f1c2a9b-0001"
    response = deliver_checkout_with_id(client, request_id)
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == request_id

    drain_jobs(WEBHOOKS)
    job_lines = [line for line in log_lines() if line.get("job_id")]
    assert job_lines, "the webhook job logged nothing"
    webhook_lines = [line for line in job_lines if line["job_id"].startswith("webhook-")]
    assert any("webhook processed" in line["message"] for line in webhook_lines)
    assert {line.get("request_id") for line in webhook_lines} == {request_id}
    # The flow step the webhook scheduled carries the id on to its own job.
    [run] = runs(db)
    step_jobs = [
        Job.fetch(job_id.decode(), connection=runtime.redis)
        for job_id in runtime.redis.zrange("rq:scheduled:flows", 0, -1)
    ]
    assert [job.meta.get("request_id") for job in step_jobs] == [request_id]
    assert run.status == "running"


def test_a_malformed_request_id_is_replaced_by_a_fresh_one(client: Any) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": "x\u2028<script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])
    other = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", other.headers["X-Request-Id"])
    assert other.headers["X-Request-Id"] != response.headers["X-Request-Id"]


def test_a_flow_run_logs_no_personal_data_and_no_secret(
    client: Any,
    db: Session,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    setup_shop(db)
    assert deliver(client, "checkouts/create", checkout_body()).status_code == 200
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    sendgrid.fail_next(429, reset_in=0.1)  # a throttled attempt logs its retry too
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 1

    lines = log_lines()
    assert len(lines) > 5
    assert any("sendgrid retry" in line["message"] for line in lines)
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    for needle in (*PERSONAL, *SECRETS):
        assert needle not in text, f"{needle!r} appears in a log line"
    # The platform's customer id as a number of its own (RQ's hex worker names may contain it).
    assert not re.search(rf"(?<![0-9a-f]){CUSTOMER_ID}(?![0-9a-f])", text)


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_after_a_webhook_and_a_send(
    client: Any,
    db: Session,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
) -> None:
    setup_shop(db)
    before = scrape(client)
    assert deliver(client, "checkouts/create", checkout_body()).status_code == 200
    queued = scrape(client)
    assert value(queued, "kizuna_queue_jobs", queue=WEBHOOKS) == 0  # the inbox is the queue
    assert value(queued, "kizuna_webhook_oldest_pending_age_seconds") > 0
    assert value(queued, "kizuna_webhook_events", platform="shopify", status="pending") == 1

    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    sendgrid.fail_next(429, reset_in=0.1)
    run_flow_step(run.id, 1)
    drain_jobs(EMAIL)
    after = scrape(client)

    shopify_200 = {"platform": "shopify", "status": "200"}
    assert value(before, "kizuna_webhook_intake_total", **shopify_200) == 0
    assert value(after, "kizuna_webhook_intake_total", **shopify_200) == 1
    assert value(after, "kizuna_webhook_intake_seconds_count", platform="shopify") == 1
    assert value(after, "kizuna_webhook_intake_seconds_bucket", platform="shopify", le="+Inf") == 1
    assert (
        value(after, "kizuna_webhook_processed_total", platform="shopify", outcome="processed") == 1
    )
    assert value(after, "kizuna_webhook_processing_seconds_count", platform="shopify") == 1
    assert value(after, "kizuna_webhook_lag_seconds_sum", platform="shopify") > 0
    assert value(after, "kizuna_webhook_events", platform="shopify", status="processed") == 1
    assert value(after, "kizuna_webhook_events", platform="shopify", status="pending") == 0
    assert value(after, "kizuna_flow_messages", flow="cart", status="sent") == 1
    assert value(before, "kizuna_api_problems_total", service="sendgrid", kind="throttled") == 0
    assert value(after, "kizuna_api_problems_total", service="sendgrid", kind="throttled") == 1
    for queue in QUEUE_NAMES:
        assert ("kizuna_queue_jobs", (("queue", queue),)) in after
    assert value(after, "kizuna_queue_jobs", queue=WEBHOOKS) == 0
    assert value(after, "kizuna_queue_scheduled_jobs", queue="flows") >= 1  # step 2
    assert value(after, "kizuna_sync_shops", platform="shopify", status="never") == 1


def test_metrics_need_the_token(client: Any) -> None:
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401
    assert "METRICS_TOKEN" in wrong.get_data(as_text=True)


def test_metrics_are_off_without_a_token(database_url: str, redis_url: str, tmp_path: Path) -> None:
    config = load_config(make_test_env(database_url, redis_url), instance_path=tmp_path / "i")
    application = create_app(config, TESTING=True)
    answer = application.test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert answer.status_code == 404
    application.extensions["kizuna"].db.dispose()


def add_failing_route(application: Flask) -> None:
    # Kept away from the personal data below: Sentry ships a few source lines around each frame.
    @application.post("/boom")
    def boom() -> str:
        raise RuntimeError("the route failed")


class _Envelopes(BaseHTTPRequestHandler):
    received: list[bytes]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
        type(self).received.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def sentry_listener() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []
    handler = type("Envelopes", (_Envelopes,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_port}/42", received
    server.shutdown()
    server.server_close()


def test_an_error_in_a_route_reaches_sentry_without_personal_data(
    database_url: str, redis_url: str, tmp_path: Path, sentry_listener: tuple[str, list[bytes]]
) -> None:
    import sentry_sdk

    dsn, received = sentry_listener
    env = make_test_env(database_url, redis_url, SENTRY_DSN=dsn)
    application: Flask = create_app(load_config(env, instance_path=tmp_path / "i"))
    process_runtime.bind_app(application)
    add_failing_route(application)

    try:
        client = application.test_client()
        client.set_cookie("session", "cookie-hanako-secret")
        answer = client.post(
            "/boom?email=hanako@example.jp",
            data={"email": "hanako@example.jp", "name": "花子"},
            headers={"Authorization": "Bearer secret-token-123"},
        )
        assert answer.status_code == 500
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)  # no client for the tests that follow
        process_runtime.bind_app(None)
        application.extensions["kizuna"].db.dispose()

    assert received, "no event reached the listener"
    envelope = b"\n".join(received).decode()
    assert "RuntimeError" in envelope
    assert "the route failed" in envelope
    assert "/boom" in envelope
    for needle in ("hanako", "花子", "\\u82b1\\u5b50", "cookie-hanako-secret", "secret-token-123"):
        assert needle not in envelope, f"{needle!r} reached Sentry"


def test_without_a_dsn_nothing_is_initialised(client: Any) -> None:
    import sentry_sdk

    assert not sentry_sdk.get_client().is_active()
