"""Real worker and scheduler processes beat; `/healthz` and the admin see one die and come back.

The stall threshold is two seconds here (`STALLED_AFTER_SECONDS`), so a SIGKILLed worker reads as
stalled within seconds; processes run `python -m app.cli worker|scheduler` as the Procfile does.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.models import Account, Shop
from tests.conftest import make_test_env, sign_in_with_link
from tests.processes import cli_processes

ROOT = Path(__file__).resolve().parents[2]
STALLED_AFTER = "2"
BANNER_EN = "Automations are stalled: emails are not being sent."
BANNER_JA = "自動化が停止しています：メールは送信されていません。"


@pytest.fixture
def env(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    return make_test_env(
        database_url,
        redis_url,
        STALLED_AFTER_SECONDS=STALLED_AFTER,
        KIZUNA_INSTANCE=str(tmp_path / "instance"),
    )


@pytest.fixture
def config(env: dict[str, str]) -> Config:
    return load_config(env)


@pytest.fixture
def start(env: dict[str, str]) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    yield from cli_processes(env, ROOT)


def wait_for_health(client: Any, status: int, timeout: float = 45.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/healthz")
        if response.status_code == status or time.monotonic() > deadline:
            assert response.status_code == status, response.get_json()
            return dict(response.get_json())
        time.sleep(0.25)


def admin_page(client: Any, runtime: Any, account: Account, language: str = "en") -> str:
    assert sign_in_with_link(client, runtime, account.id).status_code == 302
    response = client.get("/app", headers={"Accept-Language": language})
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def test_a_killed_worker_stalls_automations_until_one_runs_again(
    client: Any, runtime: Any, db: Session, start: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    account = Account(name="Merchant")
    db.add(account)
    db.commit()
    db.add(
        Shop(
            account_id=account.id,
            platform="shopify",
            domain="beat.myshopify.com",
            status="active",
            timezone="Asia/Tokyo",
        )
    )
    db.commit()

    worker = start("worker")
    start("scheduler")
    body = wait_for_health(client, 200)
    assert body["workers"]["alive"] == 1
    assert body["scheduler"]["last_seen_seconds_ago"] <= float(STALLED_AFTER)
    assert BANNER_EN not in admin_page(client, runtime, account)

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    body = wait_for_health(client, 503, timeout=15)
    assert "no worker seen for 2 s" in body["reasons"]
    assert body["workers"]["alive"] == 0
    assert BANNER_EN in admin_page(client, runtime, account)
    assert BANNER_JA in admin_page(client, runtime, account, "ja")

    start("worker")
    body = wait_for_health(client, 200)
    assert body["reasons"] == []
    page = admin_page(client, runtime, account)
    assert BANNER_EN not in page
    assert "automations-stalled" not in page


def test_a_stopped_scheduler_is_named(
    client: Any, start: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    start("worker")
    scheduler = start("scheduler")
    wait_for_health(client, 200)
    scheduler.send_signal(signal.SIGKILL)
    scheduler.wait(timeout=10)
    body = wait_for_health(client, 503, timeout=15)
    assert body["reasons"] == ["no scheduler seen for 2 s"]
