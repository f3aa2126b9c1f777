"""The web process as deployed: real gunicorn with `gunicorn.conf.py` on a free loopback port.

40 clients that send their headers and then one body byte a second must not starve `/healthz`:
each gets 408 after a couple of seconds instead of holding a worker thread for a minute. The
access log keeps paths but never query strings.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from app.heartbeats import beat_scheduler, beat_worker
from app.metrics import FLUSH_EVERY_S
from app.queueing import QUEUE_NAMES
from tests.conftest import make_test_env

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-0123456789abcdef"
SLOW_CLIENTS = 40
BODY_BYTES = 60  # a minute at one byte a second


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def gunicorn(
    database_url: str, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    # A worker and the scheduler have just beaten, so /healthz has nothing but speed to prove.
    redis_client.flushdb()
    beat_worker(redis_client, "test-worker", QUEUE_NAMES)
    beat_scheduler(redis_client, "test-scheduler")
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        **make_test_env(database_url, redis_url),
        "KIZUNA_INSTANCE": str(tmp_path / "instance"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "8",
        "METRICS_TOKEN": METRICS_TOKEN,
        "LOG_FORMAT": "json",
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(log_path.read_text()[-3000:])
                time.sleep(0.2)
            yield url, log_path
        finally:
            process.terminate()
            process.wait(timeout=40)
            redis_client.flushdb()


def trickle(port: int, answers: list[bytes], stop: threading.Event) -> None:
    """Send a webhook's headers at once, then its body one byte a second."""
    with socket.create_connection(("127.0.0.1", port), timeout=BODY_BYTES + 10) as conn:
        conn.sendall(
            b"POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(BODY_BYTES).encode() + b"\r\n\r\n"
        )
        conn.settimeout(1.0)
        for _ in range(BODY_BYTES):
            if stop.is_set():
                return
            try:
                answer = conn.recv(4096)
            except TimeoutError:
                answer = b""
            except OSError:
                return
            if answer:
                while b"}" not in answer:  # the rest of a 408's JSON body
                    more = conn.recv(4096)
                    if not more:
                        break
                    answer += more
                answers.append(answer)
                return
            try:
                conn.sendall(b" ")
            except OSError:
                return


@pytest.mark.slow
def test_forty_slow_bodies_do_not_starve_healthz(gunicorn: tuple[str, Path]) -> None:
    url, log_path = gunicorn
    port = int(url.rsplit(":", 1)[1])
    answers: list[bytes] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=trickle, args=(port, answers, stop), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    for client in clients:
        client.start()
    time.sleep(1.5)  # every slow client is connected and trickling

    started = time.monotonic()
    try:
        health = httpx.get(f"{url}/healthz?token=secret-in-query", timeout=20)
        waited = time.monotonic() - started
        for client in clients:
            client.join(timeout=15)
    finally:
        stop.set()
    assert health.status_code == 200
    # Bound: 40 clients over 2 × 8 threads, each cut within CHUNK_SECONDS (2 s): three rounds.
    # Without the deadline every thread stays taken for the minute the bodies last.
    assert waited < 10, f"/healthz took {waited:.1f}s behind slow clients"
    assert health.headers["X-Request-Id"]

    timed_out = [a for a in answers if a.startswith(b"HTTP/1.1 408")]
    assert len(timed_out) == SLOW_CLIENTS, answers[:3]
    assert b"arrived too slowly" in timed_out[0]
    log_text = log_path.read_text()
    assert "secret-in-query" not in log_text
    lines = [json.loads(line) for line in log_text.splitlines() if line.strip()]
    [access] = [
        line for line in lines if "GET /healthz" in line["message"] and " 200 " in line["message"]
    ][-1:]
    assert f"request_id={health.headers['X-Request-Id']}" in access["message"]
    assert any("request body too slow" in line["message"] for line in lines)


def test_metrics_add_up_across_gunicorn_workers(gunicorn: tuple[str, Path]) -> None:
    url, _log_path = gunicorn
    deliveries = 30
    for number in range(deliveries):
        # A new connection each time, so both worker processes take some of them.
        answer = httpx.post(
            f"{url}/webhooks/shopify",
            content=b"{}",
            headers={"X-Shopify-Topic": "orders/create", "X-Request-Id": f"edge-unsigned-{number}"},
        )
        assert answer.status_code == 401
    unsigned = ("kizuna_webhook_intake_total", (("platform", "shopify"), ("status", "401")))
    # Each worker flushes its requests' numbers to Redis within FLUSH_EVERY_S.
    deadline = time.monotonic() + 10 * FLUSH_EVERY_S
    while True:
        scrape = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scrape.status_code == 200
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(scrape.text)
            for sample in family.samples
        }
        if samples.get(unsigned) == deliveries or time.monotonic() > deadline:
            break
        time.sleep(FLUSH_EVERY_S / 5)
    assert samples[unsigned] == deliveries
