"""Webhook intake throughput: Kizuna's `/webhooks/shopify` against a bare Flask endpoint.

Both are served the same way in the same run (gunicorn, same worker count, loopback), and the
same load generator sends signed Shopify webhooks to each: a mix of topics with 10 % duplicate
deliveries. The generator is `wrk` (C, cheap enough not to starve the servers on two cores) fed
pre-signed requests through `bench/replay.lua`; without wrk, a slower asyncio generator is used.
After the run, two burst workers (`kizuna worker --burst`) drain the inbox, claiming events in
batches, then their RQ queues; the sweeper then processes anything still pending (as the
scheduler does in production), and the database is checked: every accepted delivery processed
(lost = 0), no delivery processed twice (duplicates_processed = 0).

    python bench/webhook_intake.py            # 30 s per target
    python bench/webhook_intake.py --quick    # a few seconds (CI)
    python bench/webhook_intake.py --history-orders 100000   # a shop with a history first

Needs PostgreSQL and Redis (KIZUNA_BENCH_PG, KIZUNA_BENCH_REDIS; KIZUNA_BENCH_DB names the
database it recreates, `kizuna_bench` by default). The last line printed is
`RESULT accepted_per_s=… p99_ms=… ratio_to_bare=… processed_per_s=… lost=…
duplicates_processed=…` (processed_per_s: events processed over the drain time); the exit
status is non-zero only when a delivery was lost or processed twice.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import add_shops, fresh_database  # noqa: E402

PG_ADMIN = os.environ.get("KIZUNA_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KIZUNA_BENCH_REDIS", "redis://127.0.0.1:6379/14")
BENCH_DB = os.environ.get("KIZUNA_BENCH_DB", "kizuna_bench")
SHOP = "bench-store.myshopify.com"
SECRET = "bench-shopify-secret"
TOPICS = (
    "customers/create",
    "customers/update",
    "orders/create",
    "orders/paid",
    "checkouts/create",
)


@dataclass
class Delivery:
    webhook_id: str
    request: bytes


@dataclass
class RunStats:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    accepted_ids: set[str] = field(default_factory=set)
    sent: int = 0
    elapsed: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None

    @property
    def accepted(self) -> int:
        return self.statuses.get(200, 0)

    def percentile_ms(self, q: float) -> float:
        if q == 0.5 and self.p50_ms is not None:
            return self.p50_ms
        if q == 0.99 and self.p99_ms is not None:
            return self.p99_ms
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _payload(topic: str, n: int, rng: random.Random) -> dict[str, object]:
    now = datetime.now(UTC) - timedelta(seconds=rng.randint(0, 3600))
    customer_id = 7_000_000 + rng.randint(0, 5000)
    customer = {
        "id": customer_id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "email": f"bench{customer_id}@example.com",
        "first_name": "Hanako",
        "last_name": "Sato",
        "created_at": (now - timedelta(days=30)).isoformat(),
        "updated_at": now.isoformat(),
        "currency": "JPY",
        "phone": None,
        "default_address": {"city": "Kyoto", "country_code": "JP"},
    }
    if topic.startswith("customers/"):
        return customer
    lines = [
        {
            "id": 9_000_000 + n * 10 + i,
            "title": f"Sencha {i}",
            "quantity": 1 + i,
            "price": "1800",
            "sku": f"TEA-{i}",
            "product_id": 500 + i,
            "variant_id": 600 + i,
        }
        for i in range(rng.randint(1, 3))
    ]
    if topic.startswith("checkouts/"):
        return {
            "token": uuid.uuid4().hex,
            "cart_token": uuid.uuid4().hex,
            "email": customer["email"],
            "created_at": now.isoformat(),
            "updated_at": now.isoformat(),
            "completed_at": None,
            "currency": "JPY",
            "total_price": "5400",
            "abandoned_checkout_url": f"https://{SHOP}/1/checkouts/ac/{n}/recover?key=k",
            "customer": customer,
            "line_items": lines,
        }
    order_id = 8_000_000 + n
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{1000 + n}",
        "email": customer["email"],
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "processed_at": now.isoformat(),
        "currency": "JPY",
        "total_price": "5400",
        "subtotal_price": "5400",
        "financial_status": "paid",
        "fulfillment_status": None,
        "cancelled_at": None,
        "checkout_token": None,
        "source_name": "web",
        "customer": customer,
        "line_items": lines,
    }


def _history_payloads(n: int, customers: int, rng: random.Random) -> tuple[dict, dict, dict]:
    """Order `n` of the shop's history (placed over the last year, 1-3 of 20 products), its
    customer (one of `customers`, the live load's among them) and a checkout."""
    payload = _payload("orders/create", n, rng)
    placed = datetime.now(UTC) - timedelta(days=365 * rng.random(), hours=2)
    customer_id = 7_000_000 + n % customers
    customer = {
        **payload["customer"],  # type: ignore[dict-item]
        "id": customer_id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "email": f"bench{customer_id}@example.com",
    }
    lines = [
        {**line, "id": 50_000_000 + n * 10 + i, "product_id": 500 + rng.randrange(20)}
        for i, line in enumerate(payload["line_items"])  # type: ignore[arg-type]
    ]
    order = {
        **payload,
        "id": 100_000_000 + n,
        "admin_graphql_api_id": f"gid://shopify/Order/{100_000_000 + n}",
        "name": f"#H{n}",
        "created_at": placed.isoformat(),
        "processed_at": placed.isoformat(),
        "updated_at": placed.isoformat(),
        "customer": customer,
        "line_items": lines,
    }
    checkout = {
        **_payload("checkouts/create", n, rng),
        "token": f"h{n:012d}",
        "created_at": placed.isoformat(),
        "updated_at": placed.isoformat(),
        "completed_at": placed.isoformat(),
        "customer": customer,
    }
    return order, customer, checkout


def load_history(orders: int) -> None:
    """Load the bench shop's history through the import path a first sync takes on PostgreSQL
    (`bulk_load`: COPY into staging and set-wise merges, a commit per batch of
    `sync.BULK_SET_BATCH`, statistics refreshed as the tables grow, totals recomputed once at
    the end), then run the shop's daily job as after a first sync."""
    from app import create_app
    from app.kizuna import kizuna
    from app.models import Shop
    from app.services import bulk_load
    from app.services.sync import BULK_SET_BATCH
    from connectors.shopify.webhooks import (
        checkout_from_payload,
        customer_from_payload,
        order_from_payload,
    )
    from jobs.scoring import score_shop_job

    rng = random.Random(7)
    customers = max(1, orders // 5)
    app = create_app()
    with app.app_context(), kizuna().db.session() as session:
        shop_id = session.query(Shop.id).filter(Shop.domain == SHOP).scalar()
        totals_later: set[int] = set()
        write_orders = bulk_load.loader_for("orders", totals_later)
        statistics = bulk_load.GrowingStatistics(bulk_load.LOADED_TABLES["orders"])
        for start in range(0, orders, BULK_SET_BATCH):
            batch = [
                _history_payloads(n, customers, rng)
                for n in range(start, min(orders, start + BULK_SET_BATCH))
            ]
            bulk_load.load_customers(
                session, shop_id, [customer_from_payload(c) for _o, c, _k in batch]
            )
            write_orders(session, shop_id, [order_from_payload(o) for o, _c, _k in batch])
            checkouts = [checkout_from_payload(k) for _o, _c, k in batch[: len(batch) // 5 or 1]]
            bulk_load.load_checkouts(session, shop_id, checkouts)
            statistics.add(session, len(batch))
            session.commit()
            if start and start % (10 * BULK_SET_BATCH) == 0:
                print(f"history: {start:,} of {orders:,} orders", flush=True)
        bulk_load.refresh_totals(session, shop_id, totals_later)
        bulk_load.analyze_loaded_tables(
            session, {table for tables in bulk_load.LOADED_TABLES.values() for table in tables}
        )
        session.commit()
    score_shop_job(shop_id)


def build_deliveries(count: int, port_placeholder: str = "{host}") -> list[Delivery]:
    """Signed HTTP requests, 10 % of them repeats of an earlier delivery (same webhook id)."""
    rng = random.Random(42)
    deliveries: list[Delivery] = []
    for n in range(count):
        if deliveries and rng.random() < 0.10:
            deliveries.append(rng.choice(deliveries))
            continue
        topic = TOPICS[n % len(TOPICS)]
        body = json.dumps(_payload(topic, n, rng), separators=(",", ":")).encode()
        signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
        webhook_id = str(uuid.uuid4())
        head = (
            f"POST /webhooks/shopify HTTP/1.1\r\nHost: {port_placeholder}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Shopify-Topic: {topic}\r\n"
            f"X-Shopify-Hmac-Sha256: {signature.decode()}\r\n"
            f"X-Shopify-Shop-Domain: {SHOP}\r\n"
            "X-Shopify-API-Version: 2026-07\r\n"
            f"X-Shopify-Webhook-Id: {webhook_id}\r\n"
            f"X-Shopify-Event-Id: {uuid.uuid4()}\r\n"
            f"X-Shopify-Triggered-At: {datetime.now(UTC).isoformat()}\r\n"
            "Connection: close\r\n\r\n"
        )
        deliveries.append(Delivery(webhook_id, head.encode() + body))
    return deliveries


async def _one(port: int, delivery: Delivery, stats: RunStats) -> None:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(delivery.request)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
        writer.close()
        status = int(status_line.split()[1])
    except (OSError, IndexError, ValueError):
        status = 0
    stats.latencies.append(time.perf_counter() - started)
    stats.statuses[status] = stats.statuses.get(status, 0) + 1
    if status == 200:
        stats.accepted_ids.add(delivery.webhook_id)


async def _load(
    port: int, deliveries: list[Delivery], seconds: float, concurrency: int
) -> RunStats:
    stats = RunStats()
    deadline = time.perf_counter() + seconds
    index = 0

    async def worker() -> None:
        nonlocal index
        while time.perf_counter() < deadline:
            delivery = deliveries[index % len(deliveries)]
            index += 1
            stats.sent += 1
            await _one(port, delivery, stats)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats.elapsed = time.perf_counter() - started
    return stats


def _wrk_load(
    port: int, deliveries: list[Delivery], seconds: float, concurrency: int, workdir: Path
) -> RunStats:
    """Replay `deliveries` with wrk; accepted ids are the ones Kizuna's 200 responses name."""
    threads = 2
    request_file = workdir / "requests.bin"
    with request_file.open("wb") as out:
        for delivery in deliveries:
            request = delivery.request.replace(b"Connection: close\r\n", b"")
            out.write(f"{len(request)}\n".encode() + request)
    env = dict(os.environ, KIZUNA_REQUESTS=str(request_file), KIZUNA_THREADS=str(threads))
    completed = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "replay.lua"),
            f"http://127.0.0.1:{port}/webhooks/shopify",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    stats = RunStats()
    for line in completed.stdout.splitlines():
        fields = line.split()
        if line.startswith("THREAD"):
            tid, sent, ok, bad = (int(value) for value in fields[1:5])
            stats.sent += sent
            stats.statuses[200] = stats.statuses.get(200, 0) + ok
            if bad:
                stats.statuses[0] = stats.statuses.get(0, 0) + bad
            accepted = Path(f"{request_file}.accepted-{tid}").read_text().split()
            stats.accepted_ids.update(accepted)
        elif line.startswith("LATENCY"):
            values = dict(field.split("=") for field in fields[1:])
            stats.p50_ms = int(values["p50_us"]) / 1000
            stats.p99_ms = int(values["p99_us"]) / 1000
        elif line.startswith("TOTAL"):
            values = dict(field.split("=") for field in fields[1:])
            stats.elapsed = int(values["duration_us"]) / 1e6
    return stats


def _gunicorn(target: str, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # The same server configuration as the Procfile's web process.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
            target,
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"gunicorn did not start for {target}")


def kizuna_env(database_url: str) -> dict[str, str]:
    """This process's environment with Kizuna configured for the bench: `database_url`, the
    bench's Redis, development settings and the bench's instance folder."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="bench-secret-key-0123456789",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        SHOPIFY_API_KEY="bench-app",
        SHOPIFY_API_SECRET=SECRET,
        KIZUNA_ENV="development",
        KIZUNA_INSTANCE=str(ROOT / "instance" / "bench"),
        PYTHONPATH=str(ROOT),
    )
    return env


def prepare_database(history_orders: int = 0) -> tuple[str, dict[str, str]]:
    """The bench's database made afresh with its shop (and, with `history_orders`, that many
    orders loaded through the import path) and the environment Kizuna runs with against it;
    → (database URL, environment)."""
    url = fresh_database(PG_ADMIN, BENCH_DB)
    add_shops(url, [SHOP], "ja")
    env = kizuna_env(url)
    if history_orders:
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import bench.webhook_intake as b; b.load_history({history_orders})",
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
        print(f"history: {history_orders} orders loaded in {time.perf_counter() - started:.0f}s")
    return url, env


def _drain(env: dict[str, str], workers: int) -> float:
    started = time.perf_counter()
    processes = [
        subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--burst"], cwd=ROOT, env=env)
        for _ in range(workers)
    ]
    for process in processes:
        process.wait()
    return time.perf_counter() - started


SWEEP = "from jobs.sweeper import sweep_webhook_events; print(sweep_webhook_events(0.0))"


def _sweep(env: dict[str, str]) -> int:
    """Run the scheduler's sweeper once: it processes events still pending (the backstop for
    workers that did not). Returns how many it claimed."""
    output = subprocess.run(
        [sys.executable, "-c", SWEEP], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return int(output[-1]) if output else 0


def _check(url: str, accepted_ids: set[str]) -> tuple[int, int, dict[str, int]]:
    """Lost = accepted but not processed; duplicates = deliveries processed more than once."""
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        rows = connection.execute(
            "SELECT dedupe_key, status, attempts FROM webhook_events WHERE platform = 'shopify'"
        ).fetchall()
    by_key = {key: (status, attempts) for key, status, attempts in rows}
    statuses: dict[str, int] = {}
    for status, _attempts in by_key.values():
        statuses[status] = statuses.get(status, 0) + 1
    lost = sum(1 for key in accepted_ids if by_key.get(key, ("missing", 0))[0] != "processed")
    duplicates = sum(max(0, attempts - 1) for _status, attempts in by_key.values())
    return lost, duplicates, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per target")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--history-orders",
        type=int,
        default=0,
        help="first load this many orders (a fifth as many customers and checkouts)",
    )
    args = parser.parse_args()
    seconds = args.seconds or (4.0 if args.quick else 30.0)

    redis.Redis.from_url(REDIS_URL).flushdb()
    database_url, env = prepare_database(args.history_orders)
    use_wrk = shutil.which("wrk") is not None
    deliveries = build_deliveries(int(seconds * 4000) + 1000)
    warmup, measured = deliveries[:200], deliveries[200:]
    print(f"load generator: {'wrk' if use_wrk else 'asyncio (install wrk for a truer ceiling)'}")

    results: dict[str, RunStats] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name, target in (("kizuna", "app:create_app()"), ("bare", "bench.bare_app:app")):
            port = _free_port()
            process = _gunicorn(target, port, args.web_workers, env)
            try:
                warm = asyncio.run(_load(port, warmup, 1.0, 4))
                if use_wrk:
                    run = _wrk_load(port, measured, seconds, args.concurrency, Path(workdir))
                else:
                    run = asyncio.run(_load(port, measured, seconds, args.concurrency))
            finally:
                process.terminate()
                process.wait()
            run.accepted_ids |= warm.accepted_ids
            results[name] = run

    kizuna, bare = results["kizuna"], results["bare"]
    drain_seconds = _drain(env, workers=2)
    swept = _sweep(env)
    if swept:
        drain_seconds += _drain(env, workers=2)
    lost, duplicates, statuses = _check(database_url, kizuna.accepted_ids)
    processed = statuses.get("processed", 0)

    accepted_per_s = kizuna.accepted / kizuna.elapsed
    bare_per_s = bare.accepted / bare.elapsed
    print(
        f"kizuna: sent={kizuna.sent} statuses={kizuna.statuses} "
        f"p50_ms={kizuna.percentile_ms(0.5):.1f} p99_ms={kizuna.percentile_ms(0.99):.1f}"
    )
    print(
        f"bare:   sent={bare.sent} statuses={bare.statuses} "
        f"p50_ms={bare.percentile_ms(0.5):.1f} p99_ms={bare.percentile_ms(0.99):.1f} "
        f"accepted_per_s={bare_per_s:.0f}"
    )
    print(
        f"drain: {drain_seconds:.1f}s for {sum(statuses.values())} events {statuses}; "
        f"left to the sweeper: {swept}"
    )
    print(
        f"RESULT accepted_per_s={accepted_per_s:.0f} p99_ms={kizuna.percentile_ms(0.99):.1f} "
        f"ratio_to_bare={accepted_per_s / bare_per_s:.2f} "
        f"processed_per_s={processed / drain_seconds:.0f} lost={lost} "
        f"duplicates_processed={duplicates}"
    )
    return 1 if lost or duplicates else 0


if __name__ == "__main__":
    sys.exit(main())
