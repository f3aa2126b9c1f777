"""Where webhook processing spends its time: the workers' claim → apply → commit loop, in-process.

Recreates the benchmark's database with `bench/webhook_intake.py`'s own `prepare_database`
(`--history-orders N` loads a history first through the same import path), records the bench's
signed deliveries through Flask's test client, then drains the inbox under cProfile the way a
worker does (`jobs.webhook_inbox.drain`). Prints events per second of CPU and wall time, SQL
statements per event (by their first words), and the functions that take the most time.

    python bench/profile_processing.py [--events 1000] [--history-orders 10000]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhook_intake import build_deliveries, prepare_database  # noqa: E402


def _statement_kind(statement: str) -> str:
    words = statement.split()
    head = " ".join(words[:3]).upper()
    for table in ("webhook_events", "customers", "orders", "order_lines", "checkouts", "flow_"):
        if table in statement[:200]:
            return f"{head[:40]} [{table}]"
    return head[:40]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--history-orders", type=int, default=0)
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    _database_url, env = prepare_database(args.history_orders)
    os.environ.update(env)

    from sqlalchemy import event

    from app import create_app
    from app.kizuna import kizuna
    from jobs.webhook_inbox import drain

    app = create_app()
    client = app.test_client()
    for delivery in build_deliveries(args.events):
        head, body = delivery.request.split(b"\r\n\r\n", 1)
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        for hop in ("Host", "Content-Length", "Connection"):
            headers.pop(hop)
        client.post("/webhooks/shopify", data=body, headers=headers)

    with app.app_context():
        runtime = kizuna()
        statements: Counter[str] = Counter()

        def count(_conn, _cursor, statement, _parameters, _context, _many):  # type: ignore[no-untyped-def]
            statements[_statement_kind(statement)] += 1

        event.listen(runtime.db.engine, "before_cursor_execute", count)
        profile = cProfile.Profile()
        wall, cpu = time.perf_counter(), time.process_time()
        profile.enable()
        claimed = drain(runtime)
        profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        event.remove(runtime.db.engine, "before_cursor_execute", count)
    print(
        f"processed {claimed} events: {claimed / wall:.0f}/s wall, {claimed / cpu:.0f}/s cpu "
        f"({cpu / max(claimed, 1) * 1000:.2f} ms cpu per event), "
        f"{sum(statements.values()) / max(claimed, 1):.2f} statements per event"
    )
    for kind, n in statements.most_common(25):
        print(f"  {n:6d}  {kind}")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
