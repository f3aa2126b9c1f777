"""The per-process runtime: config, database, Redis, token cipher — attached to the Flask app.

Layer: infrastructure. Built once in `create_app()`; web requests reach it with `kizuna()`. A
process without a request (worker, scheduler, CLI) builds its one app with `get_app()` (tests bind
their own with `bind_app`). Nothing here commits or performs platform I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis
from flask import Flask, current_app

from app.config import Config
from app.crypto import TokenCipher
from app.db import Database
from app.redis_conn import connect_redis


@dataclass
class Kizuna:
    config: Config
    db: Database

    @cached_property
    def redis(self) -> redis.Redis:
        return connect_redis(self.config)

    @cached_property
    def cipher(self) -> TokenCipher:
        return TokenCipher(self.config.encryption_keys)


def kizuna() -> Kizuna:
    """The runtime of the current Flask app."""
    runtime: Kizuna = current_app.extensions["kizuna"]
    return runtime


_app: Flask | None = None


def bind_app(app: Flask | None) -> None:
    """Make `app` the process's app (tests); None forgets it."""
    global _app
    _app = app


def get_app() -> Flask:
    """The process's app, built from the environment on first use (workers, scheduler, CLI)."""
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app
