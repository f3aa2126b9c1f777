"""The per-process runtime: config, database, Redis, token cipher — attached to the Flask app.

Layer: infrastructure. Built once in `create_app()`; web requests reach it with `kizuna()`, jobs
through `jobs.context`. Nothing here commits or performs platform I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis
from flask import current_app

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
