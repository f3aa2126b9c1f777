"""`GET /healthz`: 200 when PostgreSQL and Redis answer, 503 when one does not."""

from __future__ import annotations

import socket
from pathlib import Path

from app import create_app
from app.config import load_config
from tests.conftest import make_test_env


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_healthy_when_database_and_redis_answer(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


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
