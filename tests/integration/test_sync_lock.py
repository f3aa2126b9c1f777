"""The per-shop sync lock: renewed while a sync runs, gone soon after a worker dies."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.services import sync


@pytest.fixture
def short_ttl(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(sync, "SYNC_LOCK_TTL", 1.5)
    return 1.5


def test_a_running_sync_keeps_its_lock_past_the_ttl(runtime: Any, short_ttl: float) -> None:
    key = "kizuna:sync-lock:41"
    with sync.shop_sync_lock(runtime, 41, wait=None) as locked:
        assert locked
        time.sleep(short_ttl * 2.5)  # longer than the TTL: only the heartbeat keeps it
        assert runtime.redis.exists(key)
        with sync.shop_sync_lock(runtime, 41, wait=None) as second:
            assert not second
    assert not runtime.redis.exists(key)


def test_the_lock_of_a_dead_worker_expires(runtime: Any, short_ttl: float) -> None:
    # A worker killed mid-sync leaves its lock behind with no heartbeat.
    abandoned = runtime.redis.lock("kizuna:sync-lock:42", timeout=short_ttl)
    assert abandoned.acquire(blocking=False)
    with sync.shop_sync_lock(runtime, 42, wait=None) as locked:
        assert not locked
    with sync.shop_sync_lock(runtime, 42, wait=short_ttl * 3) as locked:
        assert locked
