"""Campaign send at scale: one campaign to a 1,000,000-customer saved segment, handed to the
simulated SendGrid over HTTP by real `kizuna worker` processes.

A shop with N subscribed customers (COPY; Japanese and English, names in kanji and Latin letters,
every one tagged `vip`) and a saved segment "tag has vip". The campaign (both languages, a
heading, text, a button) is scheduled "now" with the product's own `service.schedule`, which
enqueues its send jobs (two lanes claiming batches of 1,000 recipients with SKIP LOCKED); the
first takes the audience snapshot (one INSERT … SELECT). `--workers` worker processes run
them. The simulated SendGrid runs in this process, validating every Mail
Send body and counting the `kizuna_message_id`s it accepts (it keeps no copies: a million emails
would not fit).

- `sends_per_s`: emails accepted per second, from the schedule call to the last accepted
  request (snapshot included);
- `ceiling_sends_per_s`, measured first in the same run: the same number of processes posting
  pre-built bodies shaped like the campaign's (1,000 personalizations with a greeting and an
  unsubscribe link each) with Kizuna's SendGrid client in a bare loop — what the simulated
  SendGrid and the client can take with no database, no rules and no rendering;
- `duplicates`: accepted ids seen more than once, plus messages whose customer got two;
- `peak_rss_mb`: the largest peak resident set (VmHWM) of a worker process.

    python bench/campaign.py            # 1,000,000 customers
    python bench/campaign.py --quick    # 20,000 customers (CI)

Needs PostgreSQL (KIZUNA_BENCH_PG; the database it creates is KIZUNA_CAMPAIGN_BENCH_DB) and
Redis (KIZUNA_CAMPAIGN_BENCH_REDIS, database 10 by default: flushed). The last line printed is
`RESULT recipients=… sends_per_s=… ceiling_sends_per_s=… duplicates=… peak_rss_mb=…` (and
`unsent=…` when `--max-minutes` ran out with recipients still queued); the exit status is
non-zero only when an email was sent twice or a recipient was lost, never for a slow number
(the target: the whole campaign handed over within 10 minutes, peak RSS under 500 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import add_shops, fresh_database  # noqa: E402
from bench.workers import bench_env, measure_ceiling, poll, workers_running  # noqa: E402

PG_ADMIN = os.environ.get("KIZUNA_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("KIZUNA_CAMPAIGN_BENCH_REDIS", "redis://127.0.0.1:6379/10")
BENCH_DB = os.environ.get("KIZUNA_CAMPAIGN_BENCH_DB", "kizuna_campaign_bench")
INSTANCE = ROOT / "instance" / "campaign-bench"
SHOP = "campaign-bench.myshopify.com"
SENDER_IDENTITY = {
    "sender_name": "絆ストア",
    "reply_to": "hello@kizuna-store.example",
    "postal_address": "東京都渋谷区神宮前1-2-3",
    "contact": "03-1234-5678",
}
VIP_RULE = {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}
TARGET_S = 600.0
TARGET_RSS_MB = 500.0
NAMES = [
    ("陽葵", "森", "ja"),
    ("Hanako", "Yamada", "en"),
    ("翔太", "佐藤", "ja"),
    ("Tom", None, "en"),
]


def _blocks(lang: str) -> list[dict[str, Any]]:
    ja = lang == "ja"
    return [
        {"type": "heading", "text": "冬のセール" if ja else "Winter sale"},
        {
            "type": "text",
            "text": "今週末だけの特別価格です。\n\nお見逃しなく。"
            if ja
            else "Special prices this weekend only.\n\nDon't miss out.",
        },
        {"type": "divider"},
        {
            "type": "button",
            "label": "セール会場へ" if ja else "Shop the sale",
            "url": "https://campaign-bench.example/sale",
        },
    ]


CONTENT = {
    "coupon": None,
    "en": {"subject": "Winter sale", "preheader": "This weekend only", "blocks": _blocks("en")},
    "ja": {"subject": "冬のセールのお知らせ", "preheader": "今週末だけ", "blocks": _blocks("ja")},
}


# --- the data ---------------------------------------------------------------------------------


def prepare_database(customers: int) -> tuple[str, int, int]:
    """A fresh database: the shop (with its sender details), N customers and the saved segment;
    → (url, shop id, segment id)."""
    url = fresh_database(PG_ADMIN, BENCH_DB)
    _account_id, [shop_id] = add_shops(url, [SHOP], "ja")
    now = datetime.now(UTC)
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        connection.execute(
            "UPDATE shops SET name = '絆ストア', sender_identity = %s WHERE id = %s",
            (json.dumps(SENDER_IDENTITY, ensure_ascii=False), shop_id),
        )
        with connection.cursor().copy(
            "COPY customers (shop_id, external_id, email, email_normalized, first_name, last_name,"
            " locale, tags, email_marketing_state, orders_count, total_spent, currency,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for n in range(customers):
                email = f"c{n}@bench.example.jp"
                first, last, locale = NAMES[n % len(NAMES)]
                row = [shop_id, str(8_000_000 + n), email, email, first, last, locale]
                copy.write_row([*row, '["vip"]', "SUBSCRIBED", 1, 5000, "JPY", now, now])
        segment_id = connection.execute(
            "INSERT INTO saved_segments (shop_id, name, rule, created_at, updated_at)"
            " VALUES (%s, 'VIP', %s, now(), now()) RETURNING id",
            (shop_id, json.dumps(VIP_RULE)),
        ).fetchone()[0]  # type: ignore[index]
        connection.commit()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return url, shop_id, int(segment_id)


# --- the ceiling ------------------------------------------------------------------------------


def ceiling_child(url: str, seconds: float) -> None:
    """Post pre-built bodies shaped like the campaign's — 1,000 personalizations on shared
    content, each with its greeting and unsubscribe link — in a bare loop for `seconds`; print
    how many personalizations were accepted."""
    from connectors.sendgrid.client import SendGridClient
    from connectors.sendgrid.mail import MAX_PERSONALIZATIONS, OutgoingEmail, build_batch

    html = "<html><body>" + "<p>今週末だけの特別価格です。</p>" * 40 + "</body></html>"
    emails = [
        OutgoingEmail(
            kizuna_message_id=f"ceiling-{os.getpid()}-{n}",
            shop_id="1",
            from_email="no-reply@kizuna.example",
            from_name="絆ストア",
            to_email=f"ceiling{n}@example.jp",
            subject="冬のセールのお知らせ",
            html=html,
            text="今週末だけの特別価格です。\n" * 20,
            categories=("kizuna", "campaign", "campaign-1"),
            substitutions={
                "-greeting_html-": "森 陽葵 様",
                "-greeting_text-": "森 陽葵 様",
                "-unsub-": f"https://kizuna.bench/unsubscribe/{'x' * 120}{n}",
                "-campaign_coupon-": "",
                "-campaign_recs_html-": "",
                "-campaign_recs_text-": "",
            },
            unsubscribe_url=f"https://kizuna.bench/unsubscribe/{'x' * 120}{n}",
        )
        for n in range(MAX_PERSONALIZATIONS)
    ]
    [body] = build_batch(emails)
    client = SendGridClient("sandbox", base_url=url, max_attempts=3)
    deadline = time.perf_counter() + seconds
    sent = 0
    while time.perf_counter() < deadline:
        client.send(body)
        sent += MAX_PERSONALIZATIONS
    print(sent)


# --- the workers ------------------------------------------------------------------------------


def peak_rss_mb(pids: list[int]) -> float:
    """The largest VmHWM (peak resident set) among these processes and their children (RQ runs
    each job in the worker process itself with SimpleWorker, or in a fork)."""
    peak = 0
    for pid in pids:
        for each in [pid, *_children(pid)]:
            try:
                status = Path(f"/proc/{each}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak / 1024


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found] + [g for c in found for g in _children(int(c))]


def still_sending(url: str, campaign_id: int) -> bool:
    """Whether the send goes on: the campaign is `sending`, or (its last batches) some of its
    emails are still being handed over. Read by the campaign's key while it sends, so polling
    does not slow the send it watches (a count over a million recipients every second would)."""
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        status = connection.execute(
            "SELECT status FROM campaigns WHERE id = %s", (campaign_id,)
        ).fetchone()
        if status is not None and status[0] == "sending":
            return True
        handing_over = connection.execute(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE campaign_id = %s AND status = 'sending')",
            (campaign_id,),
        ).fetchone()
    return bool(handing_over and handing_over[0])


def campaign_state(url: str, campaign_id: int) -> tuple[str, dict[str, int], dict[str, int]]:
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        status = connection.execute(
            "SELECT status FROM campaigns WHERE id = %s", (campaign_id,)
        ).fetchone()[0]  # type: ignore[index]
        recipients = dict(
            connection.execute(
                "SELECT status, count(*) FROM campaign_recipients WHERE campaign_id = %s"
                " GROUP BY status",
                (campaign_id,),
            ).fetchall()
        )
        messages = dict(
            connection.execute(
                "SELECT status, count(*) FROM messages WHERE campaign_id = %s GROUP BY status",
                (campaign_id,),
            ).fetchall()
        )
    return str(status), recipients, messages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 customers (CI)")
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ceiling-seconds", type=float, default=None)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument(
        "--ceiling-child", nargs=2, metavar=("URL", "SECONDS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.ceiling_child:
        ceiling_child(args.ceiling_child[0], float(args.ceiling_child[1]))
        return 0
    customers = args.customers or (20_000 if args.quick else 1_000_000)
    ceiling_seconds = args.ceiling_seconds or (4.0 if args.quick else 10.0)
    max_wait_s = 60 * (args.max_minutes or (5.0 if args.quick else 30.0))

    from connectors.sandbox.sendgrid import SandboxSendGrid, serve_sandbox

    sandbox = SandboxSendGrid(keep_outbox=False)
    server, sendgrid_url = serve_sandbox(sandbox)
    redis.Redis.from_url(REDIS_URL).flushdb()
    started = time.perf_counter()
    database_url, shop_id, segment_id = prepare_database(customers)
    env = bench_env(database_url, sendgrid_url, redis_url=REDIS_URL, instance=INSTANCE)
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    print(f"setup: {customers} customers in {time.perf_counter() - started:.1f}s")

    ceiling = measure_ceiling(__file__, sendgrid_url, args.workers, ceiling_seconds)
    sandbox.accepted_ids.clear()
    print(f"ceiling: {args.workers} bare-loop senders, {ceiling:.0f} sends/s")

    from app.campaigns import service
    from app.entry import get_app
    from app.kizuna import kizuna
    from app.models import Shop

    log_path = INSTANCE / "workers.log"
    with workers_running(env, args.workers, log_path) as workers:
        with get_app().app_context(), kizuna().db.session() as session:
            shop = session.get_one(Shop, shop_id)
            campaign = service.create(
                session,
                shop,
                name="Winter sale",
                audience={"segments": [segment_id], "rfm_groups": []},
                content=CONTENT,
            )
            campaign_id = campaign.id
            scheduled_at = time.time()
            service.schedule(session, shop, campaign_id, None)  # the first job snapshots
        rss = 0.0
        for _ in poll(time.time() + max_wait_s):
            # Sampled while it runs: a job's forked work horse exits with its job.
            rss = max(rss, peak_rss_mb([w.pid for w in workers]))
            if not still_sending(database_url, campaign_id):
                break
    server.shutdown()

    status, recipients, messages = campaign_state(database_url, campaign_id)
    accepted = list(sandbox.accepted_ids)
    duplicates = len(accepted) - len(set(accepted))
    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        twice = connection.execute(
            "SELECT count(*) - count(DISTINCT customer_id) FROM messages WHERE campaign_id = %s",
            (campaign_id,),
        ).fetchone()[0]  # type: ignore[index]
    duplicates += int(twice)
    last = sandbox.last_accepted_at or time.time()
    elapsed = max(last - scheduled_at, 1e-9)
    sends_per_s = len(accepted) / elapsed
    missing = customers - len(set(accepted))
    # Still queued when the bench stopped waiting (`--max-minutes`): unsent, not lost.
    unsent = min(missing, int(recipients.get("queued", 0))) if status == "sending" else 0
    lost = missing - unsent
    print(f"campaign: {status}; recipients {recipients}; messages {messages}")
    print(
        f"handed to SendGrid: {len(accepted)} in {elapsed:.1f}s (target <= {TARGET_S:.0f}s: "
        f"{'met' if elapsed <= TARGET_S and not missing else 'missed'}), ratio_to_ceiling="
        f"{sends_per_s / ceiling:.2f}; peak RSS {rss:.0f} MB (target < {TARGET_RSS_MB:.0f} MB)"
    )
    if lost:
        print(log_path.read_text()[-4000:])
    print(
        f"RESULT recipients={customers} sends_per_s={sends_per_s:.1f} "
        f"ceiling_sends_per_s={ceiling:.0f} duplicates={duplicates} peak_rss_mb={rss:.0f}"
        + (f" unsent={unsent}" if unsent else "")
    )
    return 1 if duplicates or lost else 0


if __name__ == "__main__":
    sys.exit(main())
