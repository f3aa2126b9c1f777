"""A bench's own database: dropped and created afresh, migrated to head, with an account and shops.

Shared by the benches that need a fresh schema (`segments.py`, `bulk_import.py`, `campaign.py`,
`webhook_intake.py`); each names its own database, so benches never share rows.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent


def fresh_database(pg_admin: str, name: str) -> str:
    """Drop and create database `name` on the server of `pg_admin`, migrate it to head; → its
    SQLAlchemy URL."""
    with psycopg.connect(pg_admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    base = pg_admin.rpartition("/")[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from app.migrate import upgrade

    upgrade(url)
    return url


def add_shops(url: str, domains: Sequence[str], locale: str) -> tuple[int, list[int]]:
    """An account with one active Shopify shop (Asia/Tokyo, JPY, `locale`) per domain; →
    (account id, shop ids in the order of `domains`)."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        account_id = connection.execute(
            "INSERT INTO accounts (name, created_at) VALUES ('Bench', now()) RETURNING id"
        ).fetchone()[0]  # type: ignore[index]
        shop_ids = [
            connection.execute(
                "INSERT INTO shops (account_id, platform, domain, status, timezone, currency,"
                " locale, webhooks_subscribed, sync_state, created_at) VALUES"
                " (%s, 'shopify', %s, 'active', 'Asia/Tokyo', 'JPY', %s, 0, '{}', now())"
                " RETURNING id",
                (account_id, domain, locale),
            ).fetchone()[0]  # type: ignore[index]
            for domain in domains
        ]
    return int(account_id), [int(shop_id) for shop_id in shop_ids]
