"""Flow timeliness: many carts (or thank-yous) whose first email falls due in the same minute.

A shop with N subscribed customers and N open checkouts (bulk-inserted), one running cart flow
run each whose step 1 falls due within one minute; with `--flow thank_you`, N paid orders (two
lines each, a catalogue, the shop's purchase stats and bought products as the daily job and the
import leave them) and one running thank-you run each instead; the product's own
`schedule_step` schedules their jobs (RQ `enqueue_at`, one per due second). Real `kizuna worker`
processes (with RQ's scheduler) run them — claim the due runs, check them, create their
messages, send them in batches — against the simulated SendGrid, served over HTTP from this process.
Lateness of a cart = when the simulated SendGrid accepted its email minus its due time;
duplicates = (run, step) pairs found more than once in the simulator's outbox; lost = runs whose
email never arrived. The ceiling, measured first in the same run: the same number of processes
posting requests shaped like the product's cart batches (1,000 personalizations with their own
carts as substitutions) with Kizuna's SendGrid client in a bare loop — what the simulated
SendGrid and the client can do with no database, no checks and no rendering.

    python bench/flow_timeliness.py            # 100,000 carts due within 60 s
    python bench/flow_timeliness.py --quick    # 500 carts due within 20 s (CI)
    python bench/flow_timeliness.py --flow thank_you [--quick]   # thank-yous instead

Needs PostgreSQL and Redis (KIZUNA_BENCH_PG, KIZUNA_FLOW_BENCH_REDIS; the database's name
KIZUNA_FLOW_BENCH_DB). The last line printed is `RESULT carts=… p50_late_s=… p99_late_s=…
duplicates=… sends_per_s=… ceiling_sends_per_s=… lost=… unsent=…` (`thank_yous=…` for
`--flow thank_you`); the exit status is non-zero only when an email was lost or sent twice, not
when the lateness target is missed. `--max-minutes` bounds a run on a slow machine: emails still
unsent then count as `unsent` (not lost), at least as late as the time waited.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhook_intake import PG_ADMIN  # noqa: E402
from bench.workers import bench_env, measure_ceiling, poll, workers_running  # noqa: E402

REDIS_URL = os.environ.get("KIZUNA_FLOW_BENCH_REDIS", "redis://127.0.0.1:6379/6")
BENCH_DB = os.environ.get("KIZUNA_FLOW_BENCH_DB", "kizuna_flow_bench")
INSTANCE = ROOT / "instance" / "flow-bench"
# The sender details a merchant enters before any marketing email goes out.
SENDER_IDENTITY = {
    "sender_name": "絆ストア",
    "reply_to": "hello@kizuna-store.example",
    "postal_address": "東京都渋谷区神宮前1-2-3",
    "contact": "03-1234-5678",
}
SHOP = "flow-bench.myshopify.com"
STEP_DELAY = timedelta(hours=1)  # the cart flow's default first delay
SPREAD_S = 60.0  # every step 1 falls due within this window (--quick: 20 s)
TARGET_P99_S = 10.0  # issue 13: p99 lateness within 10 s, carts and thank-yous alike
LINE_ITEMS = [
    {"title": "抹茶セット", "variant_title": "缶入り", "quantity": 1, "price": "12800"},
    {"title": "煎茶", "variant_title": None, "quantity": 2, "price": "1800"},
]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- database ---------------------------------------------------------------------------------


def prepare_database(carts: int, flow: str = "cart") -> tuple[str, int]:
    """A fresh database at `upgrade head` with one shop, its customers and open checkouts (or,
    for thank-yous, paid orders)."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{BENCH_DB}"')
    base = PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{BENCH_DB}"
    from app.migrate import upgrade

    upgrade(url)
    now = datetime.now(UTC)
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        account_id = connection.execute(
            "INSERT INTO accounts (name, created_at) VALUES ('Flow bench', now()) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        shop_id = connection.execute(
            "INSERT INTO shops (account_id, platform, domain, name, status, timezone, currency,"
            " locale, webhooks_subscribed, sync_state, sender_identity, created_at) VALUES"
            " (%s, 'shopify', %s, '絆ストア', 'active', 'UTC', 'JPY', 'ja', 0, '{}', %s, now())"
            " RETURNING id",
            (account_id, SHOP, json.dumps(SENDER_IDENTITY)),
        ).fetchone()[0]  # type: ignore[index]
        # Holdout off (every cart is treated) and quiet hours off (nothing is deferred); with one
        # email per customer the frequency cap never applies. A post-purchase flow keeps its own
        # steps (the row the product creates on first use).
        from app.domain.orchestration import POST_PURCHASE_DEFAULTS

        config = {**POST_PURCHASE_DEFAULTS.get(flow, {}), "holdout_percent": 0}
        connection.execute(
            "INSERT INTO flow_settings (shop_id, flow_key, enabled, config, updated_at)"
            " VALUES (%s, %s, true, %s, now())",
            (shop_id, flow, json.dumps({**config, "quiet_hours": None})),
        )
        with connection.cursor().copy(
            "COPY customers (shop_id, external_id, email, email_normalized, first_name, locale,"
            " tags, email_marketing_state, orders_count, total_spent, currency, created_at,"
            " updated_at) FROM STDIN"
        ) as copy:
            for n in range(carts):
                email = f"bench{n}@example.jp"
                row = [shop_id, str(7_000_000 + n), email, email, "花子", "ja", "[]"]
                copy.write_row([*row, "SUBSCRIBED", 0, 0, "JPY", now, now])
        customer_ids = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM customers WHERE shop_id = %s ORDER BY external_id", (shop_id,)
            )
        ]
        if flow == "thank_you":
            add_orders(connection, shop_id, customer_ids, now)
            connection.commit()
            return url, int(shop_id)
        items = json.dumps(LINE_ITEMS, ensure_ascii=False)
        with connection.cursor().copy(
            "COPY checkouts (shop_id, external_id, customer_id, customer_external_id, email,"
            " recovery_url, total_price, currency, line_items, platform_created_at,"
            " platform_updated_at, created_at) FROM STDIN"
        ) as copy:
            for n, customer_id in enumerate(customer_ids):
                token = f"bench-cart-{n:07d}"
                recover = f"https://{SHOP}/checkouts/{token}/recover?key=k"
                row = [shop_id, token, customer_id, str(7_000_000 + n), f"bench{n}@example.jp"]
                copy.write_row([*row, recover, 16400, "JPY", items, now, now, now])
        connection.commit()
    return url, int(shop_id)


PRODUCTS = [(f"{9100 + n}", f"抹茶の道具 {n}", f"tool-{n}", 1200 + 100 * n) for n in range(20)]


def add_orders(
    connection: psycopg.Connection[Any], shop_id: int, customer_ids: list[int], now: datetime
) -> None:
    """A catalogue and one paid order of two products per customer (placed two hours ago),
    then what the import and the daily job leave: bought products, statistics, purchase stats."""
    with connection.cursor().copy(
        "COPY products (shop_id, external_id, title, handle, status, image_url, created_at)"
        " FROM STDIN"
    ) as copy:
        for external_id, title, handle, _price in PRODUCTS:
            image = f"https://cdn.example/{handle}.jpg"
            copy.write_row([shop_id, external_id, title, handle, "active", image, now])
    connection.execute(
        "INSERT INTO product_variants (shop_id, product_id, external_id, price, currency)"
        " SELECT shop_id, id, external_id || '1', 1200 + 100 * (id %% 20), 'JPY' FROM products"
        " WHERE shop_id = %s",
        (shop_id,),
    )
    placed = now - STEP_DELAY
    with connection.cursor().copy(
        "COPY orders (shop_id, external_id, customer_id, name, financial_status, total_price,"
        " currency, processed_at, platform_created_at, platform_updated_at, created_at)"
        " FROM STDIN"
    ) as copy:
        for n, customer_id in enumerate(customer_ids):
            row = [shop_id, str(5_000_000 + n), customer_id, f"#{10_000 + n}", "paid", 3400]
            copy.write_row([*row, "JPY", placed, placed, placed, now])
    orders = connection.execute(
        "SELECT id, external_id FROM orders WHERE shop_id = %s", (shop_id,)
    ).fetchall()
    with connection.cursor().copy(
        "COPY order_lines (shop_id, order_id, external_id, product_external_id, title, quantity,"
        " price, currency) FROM STDIN"
    ) as copy:
        for order_id, external_id in orders:
            n = int(external_id)
            for k in (0, 1 + n % 7):
                product, title, _handle, price = PRODUCTS[(n + k) % len(PRODUCTS)]
                line = f"{external_id}-{k}"
                copy.write_row([shop_id, order_id, line, product, title, 1, price, "JPY"])
    connection.execute(
        "INSERT INTO customer_products (shop_id, product_external_id, customer_id, orders,"
        " last_ordered_at) SELECT o.shop_id, l.product_external_id, o.customer_id,"
        " count(DISTINCT o.id), max(o.processed_at) FROM orders o JOIN order_lines l"
        " ON l.order_id = o.id AND l.shop_id = o.shop_id WHERE o.shop_id = %s"
        " GROUP BY o.shop_id, l.product_external_id, o.customer_id",
        (shop_id,),
    )
    connection.commit()
    connection.execute("ANALYZE")


def refresh_purchase_stats(shop_id: int) -> None:
    """The shop's cross-sells and re-buy intervals, as the daily job computes them."""
    from app.entry import get_app
    from app.flows.post_purchase import refresh_history_stats
    from app.kizuna import kizuna

    with get_app().app_context(), kizuna().db.session() as session:
        refresh_history_stats(session, shop_id)


def insert_runs(
    url: str, shop_id: int, first_due: datetime, spread_s: float, flow: str = "cart"
) -> dict[int, datetime]:
    """One running cart run per checkout (or thank-you run per order), step 1 due evenly across
    `spread_s` from `first_due`; → run id → due time. The rows are plain data; scheduling is
    `schedule_due_steps`."""
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        if flow == "thank_you":
            rows = connection.execute(
                "SELECT customer_id, 'order:' || id FROM orders WHERE shop_id = %s ORDER BY id",
                (shop_id,),
            ).fetchall()
        else:
            rows = connection.execute(
                "SELECT customer_id, external_id FROM checkouts WHERE shop_id = %s ORDER BY id",
                (shop_id,),
            ).fetchall()
        count = len(rows)
        with connection.cursor().copy(
            "COPY flow_runs (shop_id, flow_key, customer_id, trigger_key, status, next_step,"
            " next_step_at, started_at, updated_at) FROM STDIN"
        ) as copy:
            for n, (customer_id, token) in enumerate(rows):
                due = first_due + timedelta(seconds=spread_s * n / count)
                started = due - STEP_DELAY
                copy.write_row(
                    [shop_id, flow, customer_id, token, "running", 1, due, started, started]
                )
        due_by_run = {
            int(run_id): due
            for run_id, due in connection.execute(
                "SELECT id, next_step_at FROM flow_runs WHERE shop_id = %s", (shop_id,)
            )
        }
        connection.commit()
    return due_by_run


def schedule_due_steps(batch: int = 1000) -> float:
    """Schedule every running run's next step with the product's `schedule_step` (RQ
    `enqueue_at` after commit), a batch of runs per transaction; → seconds taken."""
    from sqlalchemy import select

    from app.entry import get_app
    from app.flows.scheduling import schedule_step
    from app.kizuna import kizuna
    from app.models.flow import FlowRun

    started = time.perf_counter()
    with get_app().app_context():
        runtime = kizuna()
        with runtime.db.session() as session:
            ids = session.scalars(
                select(FlowRun.id).where(FlowRun.status == "running").order_by(FlowRun.id)
            ).all()
            for start in range(0, len(ids), batch):
                runs = session.scalars(
                    select(FlowRun).where(FlowRun.id.in_(ids[start : start + batch]))
                ).all()
                for run in runs:
                    assert run.next_step is not None  # noqa: S101
                    assert run.next_step_at is not None  # noqa: S101
                    schedule_step(session, run, run.next_step, run.next_step_at)
                session.commit()
                session.expunge_all()
    return time.perf_counter() - started


def calibrate_scheduling(carts: int, spread_s: float, count: int = 2000) -> float:
    """Seconds per run of `schedule_due_steps`: the product's `schedule_step` over `count`
    unsaved runs of a scratch flow, due a day ahead as densely as the real ones; their jobs are
    removed afterwards."""
    from rq.registry import ScheduledJobRegistry

    from app.entry import get_app
    from app.flows.scheduling import schedule_step
    from app.kizuna import kizuna
    from app.models.flow import FlowRun
    from app.queueing import FLOWS

    with get_app().app_context():
        runtime = kizuna()
        first = datetime.now(UTC) + timedelta(days=1)
        started = time.perf_counter()
        with runtime.db.session() as session:
            for n in range(count):
                due = first + timedelta(seconds=spread_s * n / carts)
                run = FlowRun(id=-n, shop_id=-1, flow_key="calibration", next_step_at=due)
                schedule_step(session, run, 1, due)
            session.commit()
        per_run = (time.perf_counter() - started) / count
        registry = ScheduledJobRegistry(FLOWS, connection=runtime.redis)
        for job_id in registry.get_job_ids():
            if job_id.startswith("flow--1-calibration-"):
                registry.remove(job_id, delete_job=True)
    return per_run


def scheduled_jobs() -> int:
    from rq.registry import ScheduledJobRegistry

    from app.queueing import FLOWS

    return ScheduledJobRegistry(FLOWS, connection=redis.Redis.from_url(REDIS_URL)).count


def wait_for_workers(count: int, timeout: float = 120.0) -> None:
    from rq import Worker

    connection = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + timeout
    while Worker.count(connection=connection) < count and time.monotonic() < deadline:
        time.sleep(0.5)


def message_steps(url: str) -> dict[str, tuple[int, int]]:
    """kizuna_message_id → (flow run id, step), from the messages table."""
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        return {
            str(message_id): (int(run_id), int(step))
            for message_id, run_id, step in connection.execute(
                "SELECT id, flow_run_id, step FROM messages"
            )
        }


def message_statuses(url: str) -> dict[str, int]:
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        return {
            str(status): int(count)
            for status, count in connection.execute(
                "SELECT status, count(*) FROM messages GROUP BY status"
            )
        }


# --- the ceiling ------------------------------------------------------------------------------


def ceiling_child(url: str, seconds: float) -> None:
    """Post Mail Send requests shaped like the product's cart batches — 1,000 personalizations
    on shared content, each with its own cart as substitutions — in a bare loop for `seconds`;
    print how many personalizations were accepted."""
    from connectors.sendgrid.client import SendGridClient
    from connectors.sendgrid.mail import MAX_PERSONALIZATIONS, OutgoingEmail, build_batch

    html = "<html><body>" + "<p>カートに商品が残っています</p>" * 60 + "</body></html>"
    items = "<tr><td>抹茶セット 缶入り</td><td>¥12,800</td></tr>" * 8
    client = SendGridClient("sandbox", base_url=url, max_attempts=3)
    deadline = time.perf_counter() + seconds
    sent = 0
    while time.perf_counter() < deadline:
        emails = [
            OutgoingEmail(
                kizuna_message_id=f"ceiling-{os.getpid()}-{sent + n}",
                shop_id="1",
                from_email="no-reply@kizuna.example",
                from_name="絆ストア",
                to_email=f"ceiling{sent + n}@example.jp",
                subject="カートに商品が残っています",
                html=html,
                text="抹茶セット 缶入り ¥12,800\n" * 30,
                categories=("kizuna", "flow-cart", "cart-step-1"),
                substitutions={
                    "-cart_items_html-": items,
                    "-cart_items_text-": "抹茶セット 缶入り ¥12,800\n" * 8,
                    "-cart_recovery_html-": f"https://shop.example/checkouts/{sent + n}/recover",
                    "-unsub-": f"https://kizuna.bench/unsubscribe/{sent + n}",
                },
                unsubscribe_url=f"https://kizuna.bench/unsubscribe/{sent + n}",
            )
            for n in range(MAX_PERSONALIZATIONS)
        ]
        for body in build_batch(emails):
            client.send(body)
        sent += len(emails)
    print(sent)


# --- the run ----------------------------------------------------------------------------------


def wait_for_drain(
    sandbox: Any, url: str, expected: int, deadline: float, stall_s: float, last_due: float
) -> str:
    """Until every run's email has arrived and nothing is pending or sending (→ drained), or
    progress stops for `stall_s` after the last due time (→ stalled), or `deadline`."""
    seen, progress_at = -1, time.time()
    for _ in poll(deadline):
        arrived = len(sandbox.outbox)
        if arrived != seen:
            seen, progress_at = arrived, time.time()
        if arrived >= expected:
            statuses = message_statuses(url)
            if not statuses.get("pending") and not statuses.get("sending"):
                time.sleep(2.0)  # a late duplicate would land now
                return "drained"
        if time.time() > max(progress_at, last_due) + stall_s:
            return "stalled"
    return "deadline"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 carts (CI)")
    parser.add_argument(
        "--flow",
        choices=("cart", "thank_you"),
        default="cart",
        help="the flow whose emails fall due",
    )
    parser.add_argument("--carts", type=int, default=None)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--spread", type=float, default=None, help="seconds (default 60)")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop this long after the last due time; carts not sent by then are reported as "
        "unsent (their lateness as at least the time waited), not as lost",
    )
    parser.add_argument("--ceiling-seconds", type=float, default=None)
    parser.add_argument(
        "--ceiling-child", nargs=2, metavar=("URL", "SECONDS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.ceiling_child:
        ceiling_child(args.ceiling_child[0], float(args.ceiling_child[1]))
        return 0
    carts = args.carts or (500 if args.quick else 100_000)
    ceiling_seconds = args.ceiling_seconds or (4.0 if args.quick else 10.0)
    spread_s = args.spread or (20.0 if args.quick else SPREAD_S)
    max_wait_s = 60 * (args.max_minutes or (4.0 if args.quick else 600.0))

    from connectors.sandbox.sendgrid import SandboxSendGrid, serve_sandbox

    sandbox = SandboxSendGrid()
    server, sendgrid_url = serve_sandbox(sandbox)
    redis.Redis.from_url(REDIS_URL).flushdb()
    started = time.perf_counter()
    database_url, shop_id = prepare_database(carts, args.flow)
    env = bench_env(database_url, sendgrid_url, redis_url=REDIS_URL, instance=INSTANCE)
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    if args.flow == "thank_you":
        refresh_purchase_stats(shop_id)
    made = "paid orders" if args.flow == "thank_you" else "checkouts"
    print(f"setup: {carts} customers and {made} in {time.perf_counter() - started:.1f}s")

    ceiling = measure_ceiling(__file__, sendgrid_url, args.workers, ceiling_seconds)
    sandbox.clear_outbox()
    print(f"ceiling: {args.workers} bare-loop senders, {ceiling:.0f} sends/s")

    log_path = INSTANCE / "workers.log"
    with workers_running(env, args.workers, log_path) as workers:
        wait_for_workers(args.workers)
        # Scheduling must be done before the first step falls due.
        per_run = calibrate_scheduling(carts, spread_s)
        lead = 10.0 + carts * per_run * 3.0  # the machine may be busier than when calibrating
        first_due = datetime.now(UTC) + timedelta(seconds=lead)
        due_by_run = insert_runs(database_url, shop_id, first_due, spread_s, args.flow)
        scheduling_s = schedule_due_steps()
        margin = (first_due - datetime.now(UTC)).total_seconds()
        print(
            f"scheduled: {len(due_by_run)} runs as {scheduled_jobs()} jobs (one per due "
            f"second) in {scheduling_s:.1f}s, {margin:.1f}s before the first falls due"
        )
        last_due = max(due_by_run.values()).timestamp()
        ended = wait_for_drain(
            sandbox,
            database_url,
            len(due_by_run),
            deadline=last_due + max_wait_s,
            stall_s=120.0,
            last_due=last_due,
        )
        stopped_at = datetime.now(UTC)
    server.shutdown()
    failed = [p.returncode for p in workers if p.returncode not in (0, -signal.SIGTERM)]
    if failed:
        print(log_path.read_text()[-4000:])

    outbox = sandbox.outbox
    steps = message_steps(database_url)
    deliveries = Counter(steps.get(m.kizuna_message_id or "", (-1, -1)) for m in outbox)
    unmatched = deliveries.pop((-1, -1), 0)
    duplicates = sum(count - 1 for count in deliveries.values() if count > 1)
    first_seen: dict[tuple[int, int], datetime] = {}
    for message in outbox:
        key = steps.get(message.kizuna_message_id or "")
        if key is not None and key not in first_seen:
            first_seen[key] = message.accepted_at
    # An email not sent when the bench stopped is at least that late.
    lateness = [
        (first_seen.get((run_id, 1), stopped_at) - due).total_seconds()
        for run_id, due in due_by_run.items()
    ]
    missing = sum(1 for run_id in due_by_run if (run_id, 1) not in first_seen)
    unsent = missing if ended == "deadline" else 0
    lost = missing - unsent
    accepted = sorted(message.accepted_at for message in outbox)
    drain_s = (accepted[-1] - accepted[0]).total_seconds() if len(accepted) > 1 else float("nan")
    sends_per_s = len(outbox) / drain_s if drain_s and drain_s > 0 else float("nan")
    p50, p99 = _percentile(lateness, 0.5), _percentile(lateness, 0.99)
    print(f"messages: {message_statuses(database_url)}; outbox={len(outbox)} unmatched={unmatched}")
    bound = f" (lower bounds: {unsent} carts unsent when the bench stopped)" if unsent else ""
    print(
        f"lateness: p50={p50:.1f}s p99={p99:.1f}s max={max(lateness, default=float('nan')):.1f}s"
        f"{bound}, due within {spread_s:.0f}s; target p99 <= {TARGET_P99_S:.0f}s: "
        f"{'met' if p99 <= TARGET_P99_S else 'missed'}; {ended}: sends over {drain_s:.1f}s "
        f"with {args.workers} workers, ratio_to_ceiling={sends_per_s / ceiling:.2f}"
    )
    counted = "carts" if args.flow == "cart" else "thank_yous"
    print(
        f"RESULT {counted}={carts} p50_late_s={p50:.1f} p99_late_s={p99:.1f} "
        f"duplicates={duplicates} sends_per_s={sends_per_s:.1f} "
        f"ceiling_sends_per_s={ceiling:.0f} lost={lost} unsent={unsent}"
    )
    return 1 if duplicates or lost or unmatched else 0


if __name__ == "__main__":
    sys.exit(main())
