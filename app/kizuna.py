"""The per-process runtime: config, database, Redis, token cipher — attached to the Flask app.

Layer: infrastructure. Built once in `create_app()`; web requests reach it with `kizuna()` and
their database session with `db_session()`, jobs through `jobs.context` (`app.entry`). Nothing
here commits or performs platform I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import redis
from flask import current_app, g

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


def db_session() -> Any:
    """The request's database session (opened on first use, closed at teardown in `create_app`)."""
    if "db_session" not in g:
        g.db_session = kizuna().db.sessionmaker()
    return g.db_session
