"""Segments at scale: RFM rescoring, a rule-segment count, the customer list and the RFM grid.

One shop with 1,000,000 customers and about 3,000,000 orders (two years, 3 % cancelled) is
written with COPY into PostgreSQL, next to a second shop (1 % of that) that must never leak in.
Measured, each as the median of five runs after a warm-up, server-side:

- `rfm_recompute_s`: `services.scoring.rescore_rfm`, what runs after a merchant edits the
  boundaries (every customer's R, F, M and group recomputed and saved), the slower of switching
  to custom boundaries and back to automatic quintiles;
- `full_scoring_s`: the nightly `services.scoring.score_shop` (RFM + BG/NBD and Gamma-Gamma
  predictions + every score written), the slower of the first scoring and a same-day rerun;
  the models are fitted on a random sample (`FIT_SAMPLE_CUSTOMERS`), so the bench also fits on
  every customer and checks that the shop totals of expected orders, CLV and P(alive) are
  within 1 % of the full fit's (both printed);
- `segment_count_ms`: `services.segments.count_matching` for total_spent ≥ 100 and "champions";
- `customer_list_ms`: the slowest of `/app/customers` first page, a keyset page deep in the list
  and a name search, through the Flask test client (query + template);
- `rfm_grid_ms`: `/app/segments` (the heat map, groups, movement), through the test client.

The ceilings are measured in the same run: `SELECT count(*) FROM customers WHERE shop_id = …`
(an index scan of the shop) for the queries, and one GROUP BY of the shop's orders per customer
(what any scoring must read) for the rescoring; each result is printed as a ratio to its ceiling.
Every number is checked: the scores against a hand-written SQL recomputation from the orders and
the boundaries the run applied, the count against a hand-written SQL count, the pages' customer
ids against SQL, the grid against the number scored.

    python bench/segments.py            # 1,000,000 customers
    python bench/segments.py --quick    # 20,000 customers (CI, under a minute)

Needs PostgreSQL (KIZUNA_BENCH_PG; the database it creates is KIZUNA_BENCH_DB) and Redis
(KIZUNA_BENCH_REDIS). The last line printed is
`RESULT customers=… rfm_recompute_s=… segment_count_ms=… customer_list_ms=… rfm_grid_ms=…
full_scoring_s=… fit_sample=… sample_total_error_pct=…` (the customers the models were fitted
on, and the largest gap between the sample fit's and the full fit's shop totals, in percent);
the exit status is non-zero only when a correctness check fails, never for a slow number.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import add_shops, fresh_database  # noqa: E402

PG_ADMIN = os.environ.get("KIZUNA_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KIZUNA_BENCH_REDIS", "redis://127.0.0.1:6379/8")
BENCH_DB = os.environ.get("KIZUNA_BENCH_DB", "kizuna_segments_bench")
AS_OF = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 730
CANCELLED_SHARE = 0.03
RARE_NAME = "Kurosawa"  # one customer in ~997 carries it: the search a merchant types
RARE_EVERY = 997
RULE = {
    "match": "all",
    "rules": [
        {"field": "total_spent", "op": "gte", "value": "100"},
        {"field": "rfm_group", "op": "is", "value": "champions"},
    ],
}
FIRST_NAMES = (
    "Taro", "Hanako", "Yuki", "Haruto", "Sakura", "Ren", "Aoi", "Sota", "Hina", "Yui",
    "Emma", "Liam", "Olivia", "Noah", "Mia", "太郎", "花子", "陽翔", "さくら", "蓮",
)  # fmt: skip
LAST_NAMES = (
    "Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura",
    "Kobayashi", "Kato", "Yoshida", "Yamada", "Sasaki", "Yamaguchi", "Matsumoto", "Smith",
    "Brown", "Garcia", "佐藤", "鈴木", "高橋", "田中", "山田",
)  # fmt: skip
CHUNK = 200_000
CUSTOM_THRESHOLDS = {
    "recency_days": ["30", "90", "180", "365"],
    "frequency_orders": ["2", "3", "5", "8"],
    "monetary": ["5000", "15000", "30000", "60000"],
}


def log(message: str) -> None:
    print(message, flush=True)


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, Any]:
    """Median milliseconds of `runs` calls after one warm-up, and the last result."""
    result = fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def prepare_database() -> tuple[str, int, int, int]:
    """A fresh database at the migrations' heads with an account and two shops."""
    url = fresh_database(PG_ADMIN, BENCH_DB)
    account_id, shop_ids = add_shops(
        url, ("bench-store.myshopify.com", "other-store.myshopify.com"), "en"
    )
    return url, account_id, shop_ids[0], shop_ids[1]


def _timestamps(seconds_before: np.ndarray) -> np.ndarray:
    moments = np.datetime64(AS_OF.replace(tzinfo=None), "s") - seconds_before.astype("m8[s]")
    return np.char.add(np.datetime_as_string(moments, unit="s"), "+00")


def generate(url: str, shop_id: int, count: int, first_id: int, seed: int) -> tuple[int, int]:
    """COPY `count` customers (ids from `first_id`) and their orders; → (customers, orders)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(first_id, first_id + count)
    per_customer = 1 + rng.poisson(2.0, count)
    first_days = rng.integers(0, HISTORY_DAYS, count)
    owner = np.repeat(np.arange(count), per_customer)
    orders = len(owner)
    is_first = np.ones(orders, dtype=bool)
    is_first[1:] = owner[1:] != owner[:-1]
    days = np.where(is_first, first_days[owner], rng.integers(0, first_days[owner] + 1))
    seconds = days * 86_400 + rng.integers(0, 86_400, orders)
    amounts = rng.integers(5, 300, orders) * 100
    cancelled = rng.random(orders) < CANCELLED_SHARE
    placed = _timestamps(seconds)
    cancelled_at = _timestamps(np.maximum(seconds - 3600, 0))

    live = ~cancelled
    orders_count = np.bincount(owner, weights=live, minlength=count).astype(int)
    spent = np.bincount(owner, weights=amounts * live, minlength=count).astype(int)
    big = np.iinfo(np.int64).max
    newest = np.full(count, big)
    np.minimum.at(newest, owner[live], seconds[live])
    oldest = np.full(count, -1)
    np.maximum.at(oldest, owner[live], seconds[live])
    has_orders = orders_count > 0
    last_at = _timestamps(np.where(has_orders, newest, 0))
    first_at = _timestamps(np.where(has_orders, oldest, 0))

    firsts = rng.integers(0, len(FIRST_NAMES), count)
    lasts = rng.integers(0, len(LAST_NAMES), count)
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        with connection.cursor().copy(
            "COPY customers (id, shop_id, external_id, email, email_normalized, first_name,"
            " last_name, tags, orders_count, total_spent, currency, first_order_at,"
            " last_order_at, created_at, updated_at) FROM STDIN"
        ) as copy:
            for start in range(0, count, CHUNK):
                lines = []
                for i in range(start, min(start + CHUNK, count)):
                    cid = int(ids[i])
                    first = FIRST_NAMES[firsts[i]]
                    last = RARE_NAME if cid % RARE_EVERY == 0 else LAST_NAMES[lasts[i]]
                    email = f"user{cid}@example.com"
                    when = (first_at[i], last_at[i]) if has_orders[i] else ("\\N", "\\N")
                    lines.append(
                        f"{cid}\t{shop_id}\t{cid}\t{email}\t{email}\t{first}\t{last}\t[]\t"
                        f"{orders_count[i]}\t{spent[i]}\tJPY\t{when[0]}\t{when[1]}\t"
                        f"{placed[0]}\t{placed[0]}\n"
                    )
                copy.write("".join(lines))
                log(f"  customers {min(start + CHUNK, count):>9,} / {count:,}")
        with connection.cursor().copy(
            "COPY orders (shop_id, external_id, customer_id, total_price, currency,"
            " processed_at, cancelled_at, created_at) FROM STDIN"
        ) as copy:
            for start in range(0, orders, CHUNK):
                lines = [
                    f"{shop_id}\t{first_id}-{i}\t{ids[owner[i]]}\t{amounts[i]}\tJPY\t{placed[i]}\t"
                    f"{cancelled_at[i] if cancelled[i] else chr(92) + 'N'}\t{placed[i]}\n"
                    for i in range(start, min(start + CHUNK, orders))
                ]
                copy.write("".join(lines))
                log(f"  orders    {min(start + CHUNK, orders):>9,} / {orders:,}")
        connection.commit()
    return count, orders


def finish_load(url: str) -> None:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("SELECT setval('customers_id_seq', (SELECT max(id) FROM customers))")
        connection.execute("VACUUM ANALYZE customers")
        connection.execute("VACUUM ANALYZE orders")


def hand_checked_mismatches(connection: psycopg.Connection[Any], shop_id: int) -> tuple[int, int]:
    """(customers with orders, scores differing from a recomputation in SQL).

    The recomputation uses the boundaries the run recorded in its snapshot and the rules written
    out here: R counts the recency boundaries the days stay within, F and M the boundaries
    reached, FM = ⌊(F + M) / 2⌋, the group from the 25-cell map.
    """
    from app.domain.rfm import DEFAULT_SEGMENT_MAP

    detail = connection.execute(
        "SELECT detail FROM rfm_snapshots WHERE shop_id = %s ORDER BY as_of DESC LIMIT 1",
        (shop_id,),
    ).fetchone()[0]  # type: ignore[index]
    edges = detail["thresholds"]
    r_edges, f_edges, m_edges = (
        [str(v) for v in edges[name]] for name in ("recency_days", "frequency_orders", "monetary")
    )
    cells = ", ".join(f"({r}, {fm}, '{group}')" for (r, fm), group in DEFAULT_SEGMENT_MAP.items())

    def points(expression: str, bounds: list[str], op: str) -> str:
        return " + ".join(f"({expression} {op} {b})::int" for b in bounds)

    query = f"""
    WITH activity AS (
      SELECT o.customer_id,
             count(*) AS orders,
             sum(o.total_price) AS spent,
             greatest(0, floor(extract(epoch FROM (%(as_of)s - max(
               coalesce(o.processed_at, o.platform_created_at, o.created_at)))) / 86400))
               AS days
      FROM orders o JOIN customers c ON c.id = o.customer_id
      WHERE o.shop_id = %(shop)s AND c.shop_id = %(shop)s AND c.deleted_at IS NULL
        AND o.cancelled_at IS NULL
        AND coalesce(o.processed_at, o.platform_created_at, o.created_at) <= %(as_of)s
      GROUP BY o.customer_id
    ), scored AS (
      SELECT customer_id,
             1 + {points("days", r_edges, "<=")} AS r,
             1 + {points("orders", f_edges, ">=")} AS f,
             1 + {points("spent", m_edges, ">=")} AS m
      FROM activity
    ), expected AS (
      SELECT s.customer_id, s.r, s.f, s.m, (s.f + s.m) / 2 AS fm, cell.grp
      FROM scored s JOIN (VALUES {cells}) AS cell(r, fm, grp)
        ON cell.r = s.r AND cell.fm = (s.f + s.m) / 2
    )
    SELECT (SELECT count(*) FROM expected),
           (SELECT count(*) FROM expected e
              FULL JOIN (SELECT * FROM customer_scores WHERE shop_id = %(shop)s) cs
                ON cs.customer_id = e.customer_id
             WHERE e.customer_id IS NULL OR cs.customer_id IS NULL
                OR (cs.r, cs.f, cs.m, cs.fm, cs.rfm_group) <> (e.r, e.f, e.m, e.fm, e.grp))
    """  # noqa: S608 - built from this run's own boundaries
    row = connection.execute(query, {"shop": shop_id, "as_of": AS_OF}).fetchone()
    return int(row[0]), int(row[1])  # type: ignore[index]


def page_ids(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'href="/app/customers/(\d+)[?"]', html)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 customers")
    parser.add_argument("--customers", type=int, default=None)
    args = parser.parse_args()
    customers = args.customers or (20_000 if args.quick else 1_000_000)
    failures: list[str] = []

    started = time.perf_counter()
    url, account_id, shop_id, other_id = prepare_database()
    log(f"generating {customers:,} customers (+{max(customers // 100, 100):,} in another shop)")
    _, orders = generate(url, shop_id, customers, 1, seed=7)
    generate(url, other_id, max(customers // 100, 100), customers + 1, seed=8)
    finish_load(url)
    log(f"loaded in {time.perf_counter() - started:.1f}s: {customers:,} customers, {orders:,} "
        "orders")  # fmt: skip

    os.environ.update(
        DATABASE_URL=url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="bench-secret-key-0123456789",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        SHOPIFY_API_KEY="bench-app",
        SHOPIFY_API_SECRET="bench-shopify-secret",
        KIZUNA_ENV="development",
        KIZUNA_INSTANCE=str(ROOT / "instance" / "bench-segments"),
    )
    from sqlalchemy import text

    from app import create_app
    from app.auth.login_link import make_login_token
    from app.models import Shop
    from app.services import customer_reads, segment_reads
    from app.services.scoring import rescore_rfm, score_shop

    app = create_app(TESTING=True)
    runtime = app.extensions["kizuna"]
    pg = psycopg.connect(url.replace("+psycopg", ""), autocommit=True)

    # Ceilings.
    ref_ms, ref_count = timed(
        lambda: pg.execute(
            "SELECT count(*) FROM customers WHERE shop_id = %s", (shop_id,)
        ).fetchone()[0]  # type: ignore[index]
    )
    aggregate_ms, _ = timed(
        lambda: pg.execute(
            "SELECT customer_id, count(*), sum(total_price), min(processed_at), max(processed_at)"
            " FROM orders WHERE shop_id = %s AND cancelled_at IS NULL GROUP BY customer_id",
            (shop_id,),
        ).fetchall(),
        runs=3,
    )

    def check_scores(when: str) -> None:
        expected_scored, mismatches = hand_checked_mismatches(pg, shop_id)
        if mismatches:
            failures.append(
                f"scores {when}: {mismatches} of {expected_scored} differ from the SQL"
                " recomputation"
            )

    log(f"ceiling: count(*) of the shop's customers {ref_ms:.1f} ms ({ref_count:,}); "
        f"orders GROUP BY customer {aggregate_ms:.0f} ms")  # fmt: skip

    # Full scoring (RFM + predictions + every score written): the first, then a rerun.
    full = []
    for label in ("first full scoring", "full rescoring, same day"):
        with runtime.db.session() as session:
            t0 = time.perf_counter()
            result = score_shop(session, shop_id, AS_OF)
            full.append(time.perf_counter() - t0)
        log(f"{label} (score_shop): {full[-1]:.2f}s for {result.customers:,} customers "
            f"(model {result.model}, confidence {result.confidence})")  # fmt: skip
        check_scores(f"after {label}")
    full_scoring_s = max(full)

    # The nightly fit reads a random sample of a large shop: its shop totals against a full fit.
    from app.domain import predictions
    from app.services.scoring import FIT_SAMPLE_CUSTOMERS, load_histories

    with runtime.db.session() as session:
        history = load_histories(session, shop_id, AS_OF)
    summaries = (history.frequency, history.recency, history.age, history.repeat_spend)
    spent = float(history.monetary_units.sum()) / 10_000
    shop_totals = {}
    for label, sample in (("full fit", None), ("sample fit", FIT_SAMPLE_CUSTOMERS)):
        t0 = time.perf_counter()
        model = predictions.fit_shop_model(*summaries, spent, fit_sample=sample)
        fit_s = time.perf_counter() - t0
        predicted = predictions.predict_arrays(model, *summaries)
        shop_totals[label] = {
            "expected_orders_365": float(predicted.expected_purchases.sum()),
            "predicted_clv": float(predicted.predicted_clv.sum()),
            "probability_alive": float(predicted.probability_alive.sum()),
        }
        log(f"predictions, {label} on {model.fitted_on:,} customers (fit {fit_s:.1f}s): "
            + ", ".join(f"{k} {v:,.1f}" for k, v in shop_totals[label].items()))  # fmt: skip
    sample_gaps = []
    for name, full_total in shop_totals["full fit"].items():
        gap = abs(shop_totals["sample fit"][name] - full_total) / max(abs(full_total), 1e-9)
        sample_gaps.append(gap)
        log(f"  sample vs full fit, shop total {name}: {gap:.3%} apart")
        if gap > 0.01:
            failures.append(f"sample fit's shop total {name} is {gap:.2%} from the full fit")
    sample_total_error_pct = 100 * max(sample_gaps)

    # RFM recompute after the merchant edits the boundaries, then goes back to automatic.
    recompute = []
    for label, stored in (("custom boundaries", CUSTOM_THRESHOLDS), ("automatic again", None)):
        pg.execute(
            "UPDATE shops SET rfm_thresholds = %s WHERE id = %s",
            (None if stored is None else json.dumps(stored), shop_id),
        )
        with runtime.db.session() as session:
            t0 = time.perf_counter()
            rescored = rescore_rfm(session, shop_id)
            recompute.append(time.perf_counter() - t0)
        log(f"RFM recompute, {label} (rescore_rfm): {recompute[-1]:.2f}s for {rescored:,} "
            "customers")  # fmt: skip
        check_scores(f"after {label}")
        recorded = pg.execute(
            "SELECT detail -> 'thresholds' FROM rfm_snapshots WHERE shop_id = %s"
            " ORDER BY as_of DESC LIMIT 1",
            (shop_id,),
        ).fetchone()[0]  # type: ignore[index]
        if stored is not None and any(recorded[k] != v for k, v in stored.items()):
            failures.append(f"{label}: the snapshot records {recorded}, not the boundaries saved")
    rfm_recompute_s = max(recompute)
    other_scored = pg.execute(
        "SELECT count(*) FROM customer_scores s JOIN customers c ON c.id = s.customer_id"
        " WHERE s.shop_id = %s AND c.shop_id <> %s",
        (shop_id, shop_id),
    ).fetchone()[0]  # type: ignore[index]
    if other_scored:
        failures.append(f"{other_scored} scores of another shop's customers")

    # Rule-segment count.
    try:
        from app.services.segments import count_matching
    except ImportError:
        count_matching = None  # type: ignore[assignment]
    hand_count = pg.execute(
        "SELECT count(*) FROM customers c JOIN customer_scores s"
        " ON s.customer_id = c.id AND s.shop_id = c.shop_id"
        " WHERE c.shop_id = %s AND c.deleted_at IS NULL AND c.redacted_at IS NULL"
        " AND c.total_spent >= 100 AND s.rfm_group = 'champions'",
        (shop_id,),
    ).fetchone()[0]  # type: ignore[index]
    with runtime.db.session() as session:
        if count_matching is not None:
            count_source = "services.segments.count_matching"
            segment_count_ms, counted = timed(lambda: count_matching(session, shop_id, RULE))
        else:
            count_source = "equivalent SQL (services.segments.count_matching not available)"
            segment_count_ms, counted = timed(
                lambda: session.scalar(
                    text(
                        "SELECT count(*) FROM customers c WHERE c.shop_id = :s"
                        " AND c.deleted_at IS NULL AND c.redacted_at IS NULL"
                        " AND c.total_spent >= 100 AND EXISTS (SELECT 1 FROM customer_scores s"
                        " WHERE s.shop_id = :s AND s.customer_id = c.id"
                        " AND s.rfm_group = 'champions')"
                    ),
                    {"s": shop_id},
                )
            )
    if counted != hand_count:
        failures.append(f"segment count {counted} != SQL count {hand_count}")
    log(f"segment count ({count_source}): {segment_count_ms:.1f} ms, {counted:,} customers")

    # Pages, through the test client, signed in as the merchant.
    client = app.test_client()
    # As a merchant opening a login link: its page, then the POST that confirms it.
    page = client.get("/login/link").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    login = client.post(
        "/login/link",
        data={
            "token": make_login_token(runtime.redis, account_id),
            "csrf_token": csrf.group(1) if csrf else "",
        },
    )
    if login.status_code != 302:
        failures.append(f"login answered {login.status_code}")

    def get(path: str) -> str:
        response = client.get(path, headers={"Accept-Language": "en"})
        if response.status_code != 200:
            failures.append(f"{path} answered {response.status_code}")
        return response.get_data(as_text=True)

    deep_after = int(
        pg.execute(
            "SELECT id FROM customers WHERE shop_id = %s AND deleted_at IS NULL"
            " ORDER BY id DESC OFFSET %s LIMIT 1",
            (shop_id, int(customers * 0.9)),
        ).fetchone()[0]  # type: ignore[index]
    )
    list_pages = {
        "first": ("/app/customers", ""),
        "deep": (f"/app/customers?after={deep_after}", f"AND id < {deep_after}"),
        "search": (
            f"/app/customers?q={RARE_NAME.lower()}",
            f"AND search_text ILIKE '%%{RARE_NAME}%%'",
        ),
    }
    list_ms = {}
    for name, (path, condition) in list_pages.items():
        list_ms[name], html = timed(functools.partial(get, path))
        expected_ids = [
            row[0]
            for row in pg.execute(
                f"SELECT id FROM customers WHERE shop_id = %s AND deleted_at IS NULL {condition}"  # noqa: S608
                f" ORDER BY id DESC LIMIT {customer_reads.PAGE_SIZE}",
                (shop_id,),
            )
        ]
        if page_ids(html) != expected_ids:
            failures.append(f"customer list {name}: page ids differ from SQL")
    customer_list_ms = max(list_ms.values())
    log("customer list: " + ", ".join(f"{k} {v:.1f} ms" for k, v in list_ms.items()))

    rfm_grid_ms, html = timed(lambda: get("/app/segments"))
    with runtime.db.session() as session:
        shop = session.get_one(Shop, shop_id)
        grid_query_ms, cells = timed(lambda: segment_reads.grid_totals(session, shop))
    if sum(n for n, _ in cells.values()) != result.customers:
        failures.append("RFM grid cells do not add up to the customers scored")
    if f'data-field="scored">{result.customers:,}<' not in html:
        failures.append("segments page does not show the number scored")
    log(f"RFM grid: page {rfm_grid_ms:.1f} ms (grid query alone {grid_query_ms:.1f} ms)")

    log(
        f"ratios to count(*) ({ref_ms:.1f} ms): segment_count {segment_count_ms / ref_ms:.2f}, "
        f"customer_list {customer_list_ms / ref_ms:.2f}, rfm_grid {rfm_grid_ms / ref_ms:.2f}; "
        f"to the orders GROUP BY ({aggregate_ms:.0f} ms): rfm_recompute "
        f"{rfm_recompute_s * 1000 / aggregate_ms:.2f}, full scoring "
        f"{full_scoring_s * 1000 / aggregate_ms:.2f}"
    )
    targets = (
        ("rfm_recompute_s", rfm_recompute_s, 3.0),
        ("segment_count_ms", segment_count_ms, 100.0),
        ("customer_list_ms", customer_list_ms, 100.0),
        ("rfm_grid_ms", rfm_grid_ms, 100.0),
        ("full_scoring_s", full_scoring_s, 60.0),
    )
    for name, value, target in targets:
        log(f"target {name} < {target:g}: {'met' if value < target else 'MISSED'} ({value:.2f})")
    for failure in failures:
        log(f"CHECK FAILED: {failure}")
    pg.close()
    runtime.db.dispose()
    log(
        f"RESULT customers={customers} rfm_recompute_s={rfm_recompute_s:.2f} "
        f"segment_count_ms={segment_count_ms:.1f} customer_list_ms={customer_list_ms:.1f} "
        f"rfm_grid_ms={rfm_grid_ms:.1f} full_scoring_s={full_scoring_s:.2f} "
        f"fit_sample={min(FIT_SAMPLE_CUSTOMERS, result.customers)} "
        f"sample_total_error_pct={sample_total_error_pct:.3f}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
