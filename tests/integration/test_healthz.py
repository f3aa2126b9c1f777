"""`GET /healthz`: 200 when PostgreSQL and Redis answer and the workers and scheduler beat,
503 with the reason when one does not (the processes themselves: `test_heartbeats.py`)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from app import create_app
from app.config import load_config
from app.heartbeats import beat_scheduler, beat_worker
from tests.conftest import make_test_env


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


QUEUES = ("webhooks", "flows", "email", "sync", "default")


def test_healthy_when_database_redis_worker_and_scheduler_answer(client: Any, runtime: Any) -> None:
    beat_worker(runtime.redis, "host-a:1", QUEUES)
    beat_scheduler(runtime.redis, "host-a:2")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["database"], body["redis"]) == ("ok", "ok", "ok")
    assert body["reasons"] == []
    assert body["workers"]["alive"] == 1
    assert body["workers"]["queues"] == dict.fromkeys(QUEUES, 1)
    assert body["scheduler"]["last_seen_seconds_ago"] < 5
    assert "host-a" not in response.get_data(as_text=True)  # counts and ages, no host names


def test_unhealthy_without_any_heartbeat(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["reasons"] == [
        "no worker seen for 120 s",
        "no scheduler seen for 120 s",
    ]


def test_a_queue_no_live_worker_listens_to_is_named(client: Any, runtime: Any) -> None:
    beat_worker(runtime.redis, "host-a:1", ("webhooks", "flows", "sync", "default"))
    beat_worker(runtime.redis, "host-b:1", QUEUES, now=time.time() - 600)  # long dead
    beat_scheduler(runtime.redis, "host-a:2")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["reasons"] == ["no worker listening on queue email seen for 120 s"]
    assert body["workers"]["queues"]["email"] == 0


def test_unhealthy_when_redis_is_down(database_url: str, tmp_path: Path) -> None:
    env = make_test_env(database_url, f"redis://127.0.0.1:{_closed_port()}/0")
    app = create_app(load_config(env, instance_path=tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("error")


def test_unhealthy_when_database_is_down(redis_url: str, tmp_path: Path) -> None:
    env = make_test_env(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nothing", redis_url
    )
    app = create_app(load_config(env, instance_path=tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"].startswith("error")
