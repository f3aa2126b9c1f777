"""Where a cart email's time goes when sent on its own: cProfile and SQL counts, in-process.

Uses the database `bench/flow_timeliness.py` leaves behind (run it first, e.g. `--quick`): the
first N flow runs are reset to step 1 and each goes through `run_flow_step` and `send_message`
exactly as a worker runs them, against a simulated SendGrid served from this process; with
`--rq`, the steps are queued and drained by an RQ SimpleWorker, so RQ's own cost is included.
Prints wall and CPU ms per cart, statements per cart, and the functions that take the most time.

    python bench/profile_flow.py [--carts 300] [--rq] [--sql] [--sort tottime]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.flow_timeliness import BENCH_DB, INSTANCE, REDIS_URL  # noqa: E402
from bench.webhook_intake import PG_ADMIN  # noqa: E402
from bench.workers import bench_env  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carts", type=int, default=300)
    parser.add_argument("--sql", action="store_true", help="print the statements of one cart")
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime")
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument(
        "--rq", action="store_true", help="through RQ: queue the steps, drain with a burst worker"
    )
    args = parser.parse_args()

    import psycopg
    import redis
    from sqlalchemy import event

    from connectors.sandbox.sendgrid import SandboxSendGrid, serve_sandbox

    sandbox = SandboxSendGrid()
    server, url = serve_sandbox(sandbox)
    base = PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
    database_url = f"{base}/{BENCH_DB}"
    os.environ.update(bench_env(database_url, url, redis_url=REDIS_URL, instance=INSTANCE))
    from app.migrate import upgrade

    upgrade(database_url)  # the schema may have moved on since the bench created it
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("DELETE FROM messages")
        connection.execute(
            "UPDATE flow_runs SET status = 'running', next_step = 1, exit_reason = NULL,"
            " ended_at = NULL"
        )
        run_ids = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM flow_runs ORDER BY id LIMIT %s", (args.carts + 20,)
            )
        ]
    redis.Redis.from_url(REDIS_URL).flushdb()

    from app.entry import get_app
    from jobs import flows, send_email

    # The jobs as RQ calls them: `@kizuna_job` supplies the runtime.
    run_flow_step: Any = flows.run_flow_step
    send_message: Any = send_email.send_message

    app = get_app()
    engine = app.extensions["kizuna"].db.engine
    statements: Counter[str] = Counter()
    sample: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        kind = statement.split(None, 1)[0].upper()
        statements[kind] += 1
        if args.sql and len(sample) < 60:
            sample.append(" ".join(statement.split())[:160])

    connects: Counter[str] = Counter()

    @event.listens_for(engine, "connect")
    def _connected(*_args: Any) -> None:
        connects["connect"] += 1

    lookup = psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True)

    def one_cart(run_id: int) -> None:
        run_flow_step(run_id, 1)
        message_id = lookup.execute(
            "SELECT id FROM messages WHERE flow_run_id = %s AND step = 1", (run_id,)
        ).fetchone()[0]  # type: ignore[index]
        send_message(message_id)

    def through_rq(ids: list[int]) -> None:
        from rq import Queue, SimpleWorker

        from app.queueing import FLOWS, QUEUE_NAMES

        connection = app.extensions["kizuna"].redis
        flows_queue = Queue(FLOWS, connection=connection)
        for run_id in ids:
            flows_queue.enqueue("jobs.flows.run_flow_step", run_id, 1, job_id=f"flow-{run_id}-1")
        queues = [Queue(name, connection=connection) for name in QUEUE_NAMES]
        SimpleWorker(queues, connection=connection).work(burst=True)

    for run_id in run_ids[:20]:  # warm-up: connections, templates, imports
        one_cart(run_id)
    statements.clear()
    sample.clear()
    profile = cProfile.Profile()
    wall, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    if args.rq:
        through_rq(run_ids[20:])
    else:
        for run_id in run_ids[20:]:
            one_cart(run_id)
    profile.disable()
    count = len(run_ids) - 20
    print(
        f"per cart: wall {(time.perf_counter() - wall) / count * 1000:.2f} ms, "
        f"cpu {(time.process_time() - cpu) / count * 1000:.2f} ms (incl. the simulated SendGrid)"
    )
    print(
        "statements per cart: "
        + ", ".join(f"{kind}={n / count:.1f}" for kind, n in statements.most_common())
    )
    print(f"new database connections: {connects['connect']}")
    if args.sql:
        print("\n".join(sample))
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.lines)
    server.shutdown()


if __name__ == "__main__":
    main()
