"""First sync of a big store: install Kizuna into the simulated Shopify, time until it is synced.

The simulated store (`connectors.sandbox.shopify`, in this process, served over loopback HTTP)
has `--customers` customers and two years of orders; big streams are served as bulk operations
(JSONL over HTTP, `bulk_operations/finish` webhooks), as Shopify does. Kizuna runs as in
production, on PostgreSQL: web (gunicorn), one worker and the scheduler, started as the demo starts
them (`app.demo.Supervisor`). The clock starts when the merchant installs (OAuth code grant) and
stops when the shop's `sync_state` says the first sync is done; the bulk operations' run time
at the simulator is part of it, as Shopify's is for a merchant. Checked: every stream's done
count equals the store's count, and the database holds every order.

    python bench/first_sync.py                      # 200,000 customers (~1,000,000 orders)
    python bench/first_sync.py --customers 20000    # a size this machine runs in minutes
    python bench/first_sync.py --quick              # 1,000 customers (CI, well under a minute)

Needs PostgreSQL (KIZUNA_BENCH_PG; a private database, KIZUNA_BENCH_FIRST_SYNC_DB, is made afresh)
and Redis (KIZUNA_BENCH_FIRST_SYNC_REDIS, a database index of its own: it is flushed). The last
line printed is `RESULT records=… first_sync_s=… records_per_s=…` (records: customers,
products, orders and checkouts synced); the exit status is non-zero only when a check fails.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("KIZUNA_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KIZUNA_BENCH_FIRST_SYNC_REDIS", "redis://127.0.0.1:6379/5")
BENCH_DB = os.environ.get("KIZUNA_BENCH_FIRST_SYNC_DB", "kizuna_bench_first_sync")
TIMEOUT_SECONDS = 4 * 3600


def log(message: str) -> None:
    print(message, flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 customers")
    parser.add_argument("--customers", type=int, default=None)
    args = parser.parse_args()
    customers = args.customers or (1_000 if args.quick else 200_000)

    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{BENCH_DB}"')
    base = PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
    database_url = f"{base}/{BENCH_DB}"
    redis.Redis.from_url(REDIS_URL).flushdb()  # this bench's own index only

    sys.path.insert(0, str(ROOT))
    from app import demo
    from app.config import load_config
    from app.migrate import upgrade
    from connectors.sandbox.shopify import SandboxShopify, serve_sandbox

    port = _free_port()
    app_url = f"http://127.0.0.1:{port}"
    instance = Path(tempfile.mkdtemp(prefix="kizuna-first-sync-"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "APP_URL": app_url,
        "SECRET_KEY": "bench-secret-key-0123456789",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SHOPIFY_API_KEY": "bench-app",
        "SHOPIFY_API_SECRET": "bench-shopify-secret-0123456789",
        "KIZUNA_ENV": "development",
        "KIZUNA_INSTANCE": str(instance),
        "PYTHONPATH": str(ROOT),
    }
    started = time.perf_counter()
    sandbox = SandboxShopify(
        env["SHOPIFY_API_KEY"], env["SHOPIFY_API_SECRET"], app_url=app_url, plan="enterprise"
    )
    store = sandbox.add_shop(demo.DEMO_SHOP, customers=customers, years=2, name="Bench Store")
    expected = {
        "customers": len(store.customers),
        "products": len(store.products),
        "orders": len(store.orders),
        "checkouts": len(store.checkouts),
    }
    log(f"store generated in {time.perf_counter() - started:.1f}s: {expected}")
    server, sandbox_url = serve_sandbox(sandbox)
    env["SHOPIFY_SANDBOX_URL"] = sandbox_url
    config = load_config(env)
    upgrade(database_url)

    supervisor = demo.Supervisor(env, instance / "logs")
    failures: list[str] = []
    try:
        supervisor.start("web", ["-m", "app.cli", "web", "--port", str(port)])
        supervisor.start("worker", ["-m", "app.cli", "worker"])
        supervisor.start("scheduler", ["-m", "app.cli", "scheduler"])  # /healthz wants it
        demo._wait_for_health(app_url, supervisor)
        started = time.perf_counter()
        demo._install(app_url, sandbox_url)
        state: dict[str, object] = {}
        last_report = 0.0
        while time.perf_counter() - started < TIMEOUT_SECONDS:
            supervisor.check_alive()
            _account, state = demo._sync_state(config)
            if state.get("status") in ("done", "failed"):
                break
            if time.perf_counter() - last_report > 15:
                last_report = time.perf_counter()
                log(f"  {time.perf_counter() - started:6.0f}s done={state.get('done')}")
            time.sleep(0.25)
        first_sync_s = time.perf_counter() - started
    finally:
        supervisor.stop()
        server.shutdown()
    done = state.get("done") or {}
    if state.get("status") != "done":
        failures.append(f"the sync ended {state.get('status')}: {state.get('error')}")
    if done != expected:
        failures.append(f"done {done} != the store's {expected}")
    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        stored = connection.execute("SELECT count(*) FROM orders").fetchone()[0]  # type: ignore[index]
    if stored != expected["orders"]:
        failures.append(f"{stored} orders stored, the store has {expected['orders']}")
    records = sum(expected.values())
    log(f"first sync in {first_sync_s:.1f}s, bulk streams: {sorted(state.get('bulk') or {})}")
    for failure in failures:
        log(f"FAILED: {failure}")
    log(
        f"RESULT records={records} first_sync_s={first_sync_s:.1f} "
        f"records_per_s={records / first_sync_s:.0f}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
