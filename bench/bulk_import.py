"""Bulk import at scale: a Shopify bulk-operation result imported through the real path vs COPY.

A store of 200,000 customers and 1,000,000 orders (1 to 3 lines each, ~3,000,000 JSONL lines in
all) is written as the JSONL files Shopify's bulk operations return (grouped: each order followed
by its `__parentId` line items). They are imported through the product's path, the one a first
sync takes once the file is downloaded: `app.services.sync.SyncRun.load_bulk_rows` (JSONL parsed and
nested, mapped to records, written set-wise with COPY + merge, a commit and a progress update per
batch). The ceiling, in the same run: the same rows (customers, orders, lines) written into a
second shop of the same database with raw `COPY … FROM STDIN` and nothing else.

    python bench/bulk_import.py           # 200,000 customers, 1,000,000 orders
    python bench/bulk_import.py --quick   # 4,000 customers, 20,000 orders (CI, well under a minute)

Needs PostgreSQL (KIZUNA_BENCH_PG; a private database `kizuna_bench_import` is made afresh).
Checked: the imported shop holds exactly the generated customers, orders and lines, and every
customer's orders_count and total_spent match a SQL recomputation. The last line printed is
`RESULT rows=… import_s=… rows_per_s=… copy_s=… ratio_to_copy=… peak_rss_mb=…` (rows are the
database rows written: customers + orders + order lines; peak_rss_mb is this process's peak,
which includes the import only: the files are written streaming before it). The exit status is
non-zero only when a check fails, never for a slow number.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import add_shops, fresh_database  # noqa: E402

PG_ADMIN = os.environ.get("KIZUNA_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BENCH_DB = os.environ.get("KIZUNA_BENCH_IMPORT_DB", "kizuna_bench_import")
EPOCH = datetime(2024, 11, 1, tzinfo=UTC)
FIRST_NAMES = ("Taro", "Hanako", "Yuki", "Haruto", "Sakura", "Ren", "Aoi", "Emma", "Liam", "太郎")
LAST_NAMES = ("Sato", "Suzuki", "Takahashi", "Tanaka", "Ito", "Yamada", "Smith", "Brown", "佐藤")
CONSENT = ("SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED")


def log(message: str) -> None:
    print(message, flush=True)


def _time(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the store -----------------------------------------------------------------------------------


def store_customers(count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(1)
    for n in range(1, count + 1):
        created = _time(rng.uniform(0, 700 * 86400))
        yield {
            "id": n,
            "first": FIRST_NAMES[n % len(FIRST_NAMES)],
            "last": LAST_NAMES[n % len(LAST_NAMES)],
            "email": f"Buyer{n}@Example.jp",
            "consent": CONSENT[n % 3],
            "tags": ["vip"] if n % 10 == 0 else [],
            "created": created,
            "updated": created + timedelta(days=rng.uniform(0, 30)),
        }


def store_orders(count: int, customers: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(2)
    line_id = 0
    for n in range(1, count + 1):
        placed = _time(rng.uniform(0, 730 * 86400))
        lines = []
        for k in range(rng.randint(1, 3)):
            line_id += 1
            lines.append((line_id, f"Tea {k}", rng.randint(1, 4), rng.randint(5, 80) * 25))
        total = sum(quantity * price for _, _, quantity, price in lines)
        yield {
            "id": n,
            "customer": rng.randint(1, customers) if n % 20 else None,  # 5 % guest orders
            "placed": placed,
            "updated": placed + timedelta(hours=rng.uniform(0, 48)),
            "cancelled": placed + timedelta(hours=1) if n % 33 == 0 else None,
            "fulfilled": n % 4 != 0,
            "total": total,
            "lines": lines,
        }


def _money(amount: int | float) -> dict[str, Any]:
    return {"shopMoney": {"amount": f"{amount:.2f}", "currencyCode": "JPY"}}


def write_jsonl(directory: Path, customers: int, orders: int) -> tuple[Path, Path, int]:
    """The two bulk results, grouped as Shopify writes them; the number of JSONL lines."""
    lines_written = 0
    customers_path = directory / "customers.jsonl"
    with customers_path.open("w") as out:
        for c in store_customers(customers):
            node = {
                "id": f"gid://shopify/Customer/{c['id']}",
                "firstName": c["first"],
                "lastName": c["last"],
                "locale": "ja",
                "tags": c["tags"],
                "createdAt": _iso(c["created"]),
                "updatedAt": _iso(c["updated"]),
                "defaultEmailAddress": {
                    "emailAddress": c["email"],
                    "marketingState": c["consent"],
                    "marketingOptInLevel": "SINGLE_OPT_IN",
                    "marketingUpdatedAt": _iso(c["created"]),
                },
                "defaultPhoneNumber": None,
                "defaultAddress": {"city": "Kyoto", "countryCodeV2": "JP"},
            }
            out.write(json.dumps(node, ensure_ascii=False) + "\n")
            lines_written += 1
    orders_path = directory / "orders.jsonl"
    with orders_path.open("w") as out:
        for o in store_orders(orders, customers):
            gid = f"gid://shopify/Order/{o['id']}"
            node = {
                "id": gid,
                "name": f"#{1000 + o['id']}",
                "email": None,
                "createdAt": _iso(o["placed"]),
                "updatedAt": _iso(o["updated"]),
                "processedAt": _iso(o["placed"]),
                "cancelledAt": _iso(o["cancelled"]) if o["cancelled"] else None,
                "currencyCode": "JPY",
                "displayFinancialStatus": "PAID",
                "displayFulfillmentStatus": "FULFILLED" if o["fulfilled"] else "UNFULFILLED",
                "checkoutToken": None,
                "sourceName": "web",
                "totalPriceSet": _money(o["total"]),
                "subtotalPriceSet": _money(o["total"]),
                "customer": {"id": f"gid://shopify/Customer/{o['customer']}"}
                if o["customer"]
                else None,
                "billingAddress": {"name": "Sato Taro"},
            }
            out.write(json.dumps(node, ensure_ascii=False) + "\n")
            for line_id, title, quantity, price in o["lines"]:
                line = {
                    "id": f"gid://shopify/LineItem/{line_id}",
                    "title": title,
                    "quantity": quantity,
                    "sku": f"SKU-{line_id % 500}",
                    "originalUnitPriceSet": _money(price),
                    "product": {"id": f"gid://shopify/Product/{line_id % 500}"},
                    "variant": {"id": f"gid://shopify/ProductVariant/{line_id % 500}"},
                    "__parentId": gid,
                }
                out.write(json.dumps(line) + "\n")
            lines_written += 1 + len(o["lines"])
    return customers_path, orders_path, lines_written


# --- the database --------------------------------------------------------------------------------


def prepare_database() -> tuple[str, int, int]:
    """A fresh database at the migrations' head with an account and two shops."""
    url = fresh_database(PG_ADMIN, BENCH_DB)
    _account, shop_ids = add_shops(
        url, ("import-store.myshopify.com", "copy-store.myshopify.com"), "ja"
    )
    return url, shop_ids[0], shop_ids[1]


def import_through_product(url: str, shop_id: int, files: tuple[Path, Path]) -> dict[str, Any]:
    """The product's path: JSONL rows → nested nodes → records → set-wise writes, per batch."""
    from app.db import Database, utcnow
    from app.models import Shop
    from app.services.sync import SyncRun
    from connectors.shopify.bulk import iter_rows
    from connectors.shopify.streams import CUSTOMERS, ORDERS

    database = Database(url)
    with database.session() as session:
        shop = session.get(Shop, shop_id)
        if shop is None:
            raise SystemExit(f"no shop {shop_id}")
        run = SyncRun(
            None,  # type: ignore[arg-type]  # the runtime is not used to write rows
            session,
            shop,
            None,  # type: ignore[arg-type]  # nor the Shopify client: the files are local
            started_at=utcnow(),
            report=True,
        )
        for stream, path in ((CUSTOMERS, files[0]), (ORDERS, files[1])):
            with path.open("rb") as lines:
                if not run.load_bulk_rows(stream, iter_rows(lines)):
                    raise SystemExit("the import stopped: the shop is not installed")
        from app.services.bulk_load import LOADED_TABLES, analyze_loaded_tables

        analyze_loaded_tables(session, LOADED_TABLES["orders"])
        session.commit()
        done = dict(run.done)
    database.dispose()
    return done


def copy_ceiling(url: str, shop_id: int, customers: int, orders: int) -> int:
    """The same rows with raw COPY into the same tables (ids reserved from the sequences)."""
    rows = 0
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        cursor = connection.cursor()

        def reserve(sequence: str, count: int) -> int:
            first = cursor.execute(f"SELECT nextval('{sequence}')").fetchone()[0]  # type: ignore[index]
            cursor.execute(f"SELECT setval('{sequence}', %s)", (first + count,))
            return int(first)

        first_customer = reserve("customers_id_seq", customers)
        with cursor.copy(
            "COPY customers (id, shop_id, external_id, email, email_normalized, first_name,"
            " last_name, city, country_code, locale, tags, email_marketing_state,"
            " email_marketing_opt_in_level, email_marketing_updated_at, orders_count,"
            " total_spent, platform_created_at, platform_updated_at, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            now = datetime.now(UTC)
            for c in store_customers(customers):
                copy.write_row(
                    (
                        first_customer + c["id"] - 1, shop_id, str(c["id"]), c["email"],
                        c["email"].lower(), c["first"], c["last"], "Kyoto", "JP", "ja",
                        json.dumps(c["tags"]), c["consent"], "SINGLE_OPT_IN", c["created"], 0, 0,
                        c["created"], c["updated"], now, now,
                    )
                )  # fmt: skip
                rows += 1
        first_order = reserve("orders_id_seq", orders)
        with cursor.copy(
            "COPY orders (id, shop_id, external_id, customer_id, customer_external_id, name,"
            " billing_name, financial_status, fulfillment_status, total_price, subtotal_price,"
            " currency, source_name, cancelled_at, processed_at, platform_created_at,"
            " platform_updated_at, created_at) FROM STDIN"
        ) as copy:
            for o in store_orders(orders, customers):
                copy.write_row(
                    (
                        first_order + o["id"] - 1, shop_id, str(o["id"]),
                        first_customer + o["customer"] - 1 if o["customer"] else None,
                        str(o["customer"]) if o["customer"] else None, f"#{1000 + o['id']}",
                        "Sato Taro", "paid", "fulfilled" if o["fulfilled"] else "unfulfilled",
                        o["total"], o["total"], "JPY", "web", o["cancelled"], o["placed"],
                        o["placed"], o["updated"], now,
                    )
                )  # fmt: skip
                rows += 1
        with cursor.copy(
            "COPY order_lines (shop_id, order_id, external_id, product_external_id,"
            " variant_external_id, title, sku, quantity, price, currency) FROM STDIN"
        ) as copy:
            for o in store_orders(orders, customers):
                for line_id, title, quantity, price in o["lines"]:
                    copy.write_row(
                        (
                            shop_id, first_order + o["id"] - 1, str(line_id), str(line_id % 500),
                            str(line_id % 500), title, f"SKU-{line_id % 500}", quantity, price,
                            "JPY",
                        )
                    )  # fmt: skip
                    rows += 1
        connection.commit()
    return rows


def check(url: str, shop_id: int, customers: int, orders: int, lines: int) -> list[str]:
    failures = []
    with psycopg.connect(url.replace("+psycopg", "")) as connection:

        def one(sql: str) -> int:
            return int(connection.execute(sql, (shop_id,)).fetchone()[0])  # type: ignore[index]

        got = (
            one("SELECT count(*) FROM customers WHERE shop_id = %s"),
            one("SELECT count(*) FROM orders WHERE shop_id = %s"),
            one("SELECT count(*) FROM order_lines WHERE shop_id = %s"),
        )
        if got != (customers, orders, lines):
            failures.append(f"rows {got} != {(customers, orders, lines)}")
        wrong_totals = int(
            connection.execute(
                "SELECT count(*) FROM customers c LEFT JOIN ("
                "  SELECT customer_id, count(*) AS n,"
                "   sum(CASE WHEN cancelled_at IS NULL THEN total_price ELSE 0 END) AS spent"
                "  FROM orders WHERE shop_id = %(shop)s GROUP BY customer_id) t"
                " ON t.customer_id = c.id WHERE c.shop_id = %(shop)s"
                " AND (c.orders_count <> coalesce(t.n, 0)"
                "  OR c.total_spent <> coalesce(t.spent, 0))",
                {"shop": shop_id},
            ).fetchone()[0]  # type: ignore[index]
        )
        if wrong_totals:
            failures.append(f"{wrong_totals} customers with wrong totals")
        unlinked = one(
            "SELECT count(*) FROM customers WHERE shop_id = %s AND person_id IS NULL"
            " AND email_normalized IS NOT NULL"
        )
        if unlinked:
            failures.append(f"{unlinked} customers not linked to a person")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,000 customers, 20,000 orders")
    parser.add_argument("--orders", type=int, default=None)
    args = parser.parse_args()
    orders = args.orders or (20_000 if args.quick else 1_000_000)
    customers = max(orders // 5, 1)

    url, import_shop, copy_shop = prepare_database()
    with tempfile.TemporaryDirectory(prefix="kizuna-bulk-import-") as directory:
        started = time.perf_counter()
        files = write_jsonl(Path(directory), customers, orders)
        customers_path, orders_path, jsonl_lines = files
        log(
            f"wrote {jsonl_lines:,} JSONL lines ({customers:,} customers, {orders:,} orders) in "
            f"{time.perf_counter() - started:.1f}s"
        )
        started = time.perf_counter()
        done = import_through_product(url, import_shop, (customers_path, orders_path))
        import_s = time.perf_counter() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = jsonl_lines - customers - orders
    rows = customers + orders + lines
    log(f"imported through the product in {import_s:.1f}s: {done}")
    failures = check(url, import_shop, customers, orders, lines)

    started = time.perf_counter()
    copied = copy_ceiling(url, copy_shop, customers, orders)
    copy_s = time.perf_counter() - started
    log(f"raw COPY of the same {copied:,} rows in {copy_s:.1f}s")
    if copied != rows:
        failures.append(f"COPY wrote {copied} rows, the import {rows}")

    for failure in failures:
        log(f"FAILED: {failure}")
    log(
        f"RESULT rows={rows} import_s={import_s:.1f} rows_per_s={rows / import_s:.0f} "
        f"copy_s={copy_s:.1f} ratio_to_copy={copy_s / import_s:.2f} peak_rss_mb={peak_rss_mb:.0f}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
