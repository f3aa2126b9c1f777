"""Where webhook intake spends its time: cProfile over 1,000 signed deliveries, in-process.

Uses the benchmark's database and Redis (run `bench/webhook_intake.py --quick` first, which
creates them) and the same deliveries, posted through Flask's test client so the profile holds
only Kizuna's own work. Prints CPU ms per request and the functions that take the most time.

    python bench/profile_intake.py [--requests 1000]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhook_intake import BENCH_DB, PG_ADMIN, build_deliveries, kizuna_env  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    base = PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
    os.environ.update(kizuna_env(f"{base}/{BENCH_DB}"))
    from app import create_app

    client = create_app().test_client()
    requests = []
    for delivery in build_deliveries(args.requests + 100):
        head, body = delivery.request.split(b"\r\n\r\n", 1)
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        for hop in ("Host", "Content-Length", "Connection"):
            headers.pop(hop)
        requests.append((headers, body))
    for headers, body in requests[:100]:  # warm-up: connections, caches, imports
        client.post("/webhooks/shopify", data=body, headers=headers)

    profile = cProfile.Profile()
    wall, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    for headers, body in requests[100:]:
        client.post("/webhooks/shopify", data=body, headers=headers)
    profile.disable()
    count = len(requests) - 100
    print(
        f"per request: wall {(time.perf_counter() - wall) / count * 1000:.2f} ms, "
        f"cpu {(time.process_time() - cpu) / count * 1000:.2f} ms"
    )
    pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
