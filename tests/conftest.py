"""Shared fixtures: real PostgreSQL and Redis, the app, burst workers, and local HTTP servers.

Integration tests build their schema with `alembic upgrade head` in a database of their own and
use one Redis database; every table is truncated and that Redis database flushed (FLUSHDB, never
FLUSHALL) after each test. The suite runs in parallel (`pytest -n auto`, pytest-xdist): each
worker gets its own database and Redis index, so workers never see each other's rows or jobs.

- Database: `KIZUNA_TEST_DB` (default `kizuna_test`) without xdist; `<KIZUNA_TEST_DB>_<worker>`
  under xdist (`kizuna_test_gw0`, `kizuna_test_gw1`, ...), each dropped and migrated at start.
- Redis index: `KIZUNA_TEST_REDIS_DB` (default 13) is the base, used by gw0 and by a run
  without xdist. Further workers take the next indexes of `REDIS_DB_ORDER` (13, 15, 12, 11,
  10, ...: Redis has 16 databases, and 6, 8 and 14 belong to the benches), counting on from
  the base and wrapping round; a base outside that order is used by gw0 and the order follows
  it. So two checkouts run side by side with bases far enough apart (13 and 9 with `-n 2`
  take 13, 15 and 9, 7). More workers than indexes is refused at start.
  Each worker also claims its index with a lock file (`claim_redis_database`): when another
  pytest run on this machine holds it (two runs started with the same base, which would flush
  each other's sessions and jobs mid-test), the worker takes the next free index of the order.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from werkzeug.serving import BaseWSGIServer, make_server

from app import create_app
from app import entry as process_runtime
from app.auth.login_link import make_login_token
from app.config import Config, load_config
from app.db import Base
from app.queueing import QUEUE_NAMES, WEBHOOKS
from app.services.bulk_load import analyze_loaded_tables
from connectors.outbound import OutboundPolicy

PG_ADMIN_URL = os.environ.get("KIZUNA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE = os.environ.get("KIZUNA_TEST_REDIS", "redis://127.0.0.1:6379")
# Redis databases the suite may take, in the order workers take them (16 in all; the benches
# use 6, 8 and 14 after the suite).
REDIS_DB_ORDER = (13, 15, 12, 11, 10, 9, 7, 5, 4, 3, 2, 1, 0)


def xdist_worker_number(worker: str) -> int:
    """0 for a run without xdist (`worker` empty) and for gw0, 1 for gw1, ..."""
    return int(worker[2:]) if worker.startswith("gw") else 0


def worker_database_name(base: str, worker: str) -> str:
    return f"{base}_{worker}" if worker else base


def redis_database_index(base: int, worker_number: int) -> int:
    """The Redis index of xdist worker `worker_number` when the run's base index is `base`."""
    if base in REDIS_DB_ORDER:
        start = REDIS_DB_ORDER.index(base)
        order = REDIS_DB_ORDER[start:] + REDIS_DB_ORDER[:start]
    else:
        order = (base, *REDIS_DB_ORDER)
    if worker_number >= len(order):
        raise pytest.UsageError(
            f"xdist worker {worker_number} has no Redis database of its own: "
            f"run with at most {len(order)} workers"
        )
    return order[worker_number]


XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_DB = worker_database_name(os.environ.get("KIZUNA_TEST_DB", "kizuna_test"), XDIST_WORKER)
REDIS_DB = redis_database_index(
    int(os.environ.get("KIZUNA_TEST_REDIS_DB", "13")), xdist_worker_number(XDIST_WORKER)
)

SHOPIFY_API_KEY = "test-api-key"
SHOPIFY_API_SECRET = "test-api-secret-current-0123456789abcdef"
SHOPIFY_API_SECRET_PREVIOUS = "test-api-secret-previous-0123456789abcdef"
ENCRYPTION_KEY = Fernet.generate_key().decode()
SIMULATOR_HOST = "127.0.0.1"
# For WooCommerce clients built directly against a simulator (as make_test_env configures).
SIMULATOR_OUTBOUND = OutboundPolicy(development=True, allow_hosts=frozenset({SIMULATOR_HOST}))


def _test_database_url() -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{TEST_DB}"


@pytest.fixture(scope="session")
def database_url() -> str:
    """A fresh PostgreSQL database for this run, migrated to head."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{TEST_DB}"')
    from app.migrate import upgrade

    url = _test_database_url()
    upgrade(url)
    return url


# Open lock files of the Redis indexes this process claimed, held until it exits.
_REDIS_CLAIMS: list[Any] = []


def claim_redis_database(preferred: int, base_url: str = REDIS_BASE) -> int:
    """`preferred` when no other pytest run on this machine holds it, else the next free index.

    A run flushes its index after every test, so two runs sharing one (the same
    `KIZUNA_TEST_REDIS_DB` base, e.g. two checkouts or two terminals) lose each other's sessions,
    login links and queued jobs at random. The claim is an exclusive lock on a file named after
    the Redis server and index, released by the OS when the process ends.
    """
    server = re.sub(r"[^A-Za-z0-9]+", "_", base_url)
    for index in (preferred, *(i for i in REDIS_DB_ORDER if i != preferred)):
        path = Path(tempfile.gettempdir()) / f"kizuna-test-redis-{server}-{index}.lock"
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _REDIS_CLAIMS.append(handle)
        return index
    raise pytest.UsageError("every test Redis index is in use by another pytest run")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return f"{REDIS_BASE}/{claim_redis_database(REDIS_DB)}"


def make_test_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key-0123456789",
        "ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "APP_URL": "http://127.0.0.1:8000",
        "SHOPIFY_API_KEY": SHOPIFY_API_KEY,
        "SHOPIFY_API_SECRET": SHOPIFY_API_SECRET,
        "SHOPIFY_API_SECRET_PREVIOUS": SHOPIFY_API_SECRET_PREVIOUS,
        "SHOPIFY_API_VERSION": "2026-07",
        # Loopback APP_URL and no mail setting; the simulated stores listen on loopback:
        # reachable only because they are listed here.
        "KIZUNA_ENV": "development",
        "OUTBOUND_ALLOW_HOSTS": SIMULATOR_HOST,
    }
    env.update(extra)
    return env


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Path) -> Config:
    return load_config(make_test_env(database_url, redis_url), instance_path=tmp_path / "instance")


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    application = create_app(config, TESTING=True)
    process_runtime.bind_app(application)
    runtime = application.extensions["kizuna"]
    runtime.redis.flushdb()
    yield application
    process_runtime.bind_app(None)
    _truncate_all(runtime.db.engine)
    runtime.redis.flushdb()
    runtime.db.dispose()


def analyze_after_bulk_load(session: Any, *tables: str) -> None:
    """Refresh the planner's statistics on `tables` after a fixture loaded many rows into them,
    through the product's own step after a bulk load (`bulk_load.analyze_loaded_tables`).

    Tables are emptied between tests, so PostgreSQL would otherwise plan the test's queries
    with the statistics of whatever an earlier test left (or none). Rows the session has not
    committed count too.
    """
    session.flush()
    analyze_loaded_tables(session, tables)


_USED_SEQUENCES = """
SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences
WHERE schemaname = current_schema() AND last_value IS NOT NULL
"""


def _truncate_all(engine: Any) -> None:
    """Empty every table and restart every id sequence, as `TRUNCATE … RESTART IDENTITY` would.

    Only the tables a test left rows in are emptied, with DELETE in dependency order, and only
    the sequences it used are restarted: a TRUNCATE costs about a second even of empty tables
    (new files at commit, cascading to every referencing table), a DELETE of a few rows
    nothing. A cycle the DELETE order cannot break falls back to one TRUNCATE of them all.
    """
    tables = Base.metadata.sorted_tables
    probe = "SELECT '{0}' WHERE EXISTS (SELECT 1 FROM \"{0}\")"  # our own table names
    written = " UNION ALL ".join(probe.format(table.name) for table in tables)
    try:
        with engine.begin() as connection:
            dirty = set(connection.scalars(text(written)))
            for table in reversed(tables):
                if table.name in dirty:
                    connection.execute(table.delete())
            for sequence in connection.scalars(text(_USED_SEQUENCES)).all():
                connection.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
    except IntegrityError:
        names = ", ".join(f'"{table.name}"' for table in tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def runtime(app: Flask) -> Any:
    return app.extensions["kizuna"]


@pytest.fixture
def db(runtime: Any) -> Iterator[Any]:
    with runtime.db.session() as session:
        yield session


@pytest.fixture(params=["postgresql", "sqlite"])
def db_or_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Each test twice: on the test database (PostgreSQL), then on a fresh SQLite file migrated
    to head (the embedded demo's database), for writes that must come out the same on both."""
    if request.param == "postgresql":
        yield request.getfixturevalue("db")
        return
    from app.db import Database
    from app.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'kizuna.sqlite3'}"
    upgrade(url)
    database = Database(url)
    with database.session() as sqlite_session:
        yield sqlite_session
    database.dispose()


def drain(app: Flask, queues: tuple[str, ...] = QUEUE_NAMES) -> int:
    """Run every queued job to completion in this process (RQ's burst SimpleWorker), after
    the webhook inbox when `webhooks` is among the queues (as a burst worker does); → the RQ
    jobs finished."""
    from rq import Queue, SimpleWorker

    from jobs.webhook_inbox import drain as drain_inbox

    connection = app.extensions["kizuna"].redis
    if WEBHOOKS in queues:
        drain_inbox(app.extensions["kizuna"])
    queue_objects = [Queue(name, connection=connection) for name in queues]

    def finished() -> int:
        return sum(queue.finished_job_registry.count for queue in queue_objects)

    before = finished()
    SimpleWorker(queue_objects, connection=connection).work(burst=True, with_scheduler=False)
    return finished() - before


@pytest.fixture
def drain_jobs(app: Flask) -> Any:
    return lambda *queues: drain(app, queues or QUEUE_NAMES)


class LiveServer:
    """A WSGI app served over real HTTP on a loopback port, in a thread."""

    def __init__(self, wsgi_app: Any) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Dispatcher:
    """A WSGI app forwarding to this test's target: servers outlive tests, apps do not."""

    def __init__(self) -> None:
        self.target: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.target(environ, start_response)


@dataclass
class Served:
    server: LiveServer
    dispatcher: Dispatcher

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def serve() -> Iterator[Any]:
    """`serve(wsgi_app)` → a LiveServer; all are stopped after the test."""
    servers: list[LiveServer] = []

    def _serve(wsgi_app: Any) -> LiveServer:
        server = LiveServer(wsgi_app)
        servers.append(server)
        return server

    yield _serve
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def sign_in_with_link(client: Any, runtime: Any, account_id: int) -> Any:
    """Sign `client` in as a person opening a login link does: the page, then its POST."""
    token = make_login_token(runtime.redis, account_id)
    page = client.get("/login/link").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the login link page has no CSRF token"
    return client.post("/login/link", data={"token": token, "csrf_token": found.group(1)})
