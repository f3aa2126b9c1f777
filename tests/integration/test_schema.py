"""The migrated schema matches the models, on PostgreSQL and on SQLite; a migration that
rewrites rows does so both ways."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from app.db import Base
from app.migrate import downgrade, upgrade


def _diff(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    return differences


def test_postgres_schema_matches_models(database_url: str) -> None:
    assert _diff(database_url) == []


def test_sqlite_schema_builds_and_matches_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'schema.sqlite3'}"
    upgrade(url)
    assert _diff(url) == []


BEFORE_CAMPAIGN_CODES = "20261208_shop_prefix_indexes"


def test_a_held_campaign_keeps_its_hold_as_a_key_across_the_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'campaigns.sqlite3'}"
    upgrade(url, BEFORE_CAMPAIGN_CODES)
    stored = {
        1: "waiting_for_sender_identity",
        2: "shop_inactive",
        3: "5 email(s) failed: SendGrid HTTP 400: no detail",
        4: None,
    }
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO accounts (id, name, created_at) VALUES (1, 'a', '2026-12-07')")
        )
        connection.execute(
            text(
                "INSERT INTO shops (id, account_id, platform, domain, status, timezone, currency,"
                " locale, webhooks_subscribed, sync_state, created_at) VALUES (1, 1, 'shopify',"
                " 'a.myshopify.com', 'active', 'UTC', 'JPY', 'ja', 0, '{}', '2026-12-07')"
            )
        )
        for campaign_id, last_error in stored.items():
            connection.execute(
                text(
                    "INSERT INTO campaigns (id, shop_id, name, status, audience, content,"
                    " holdout_percent, last_error, created_at, updated_at) VALUES (:id, 1, 'c',"
                    " 'sending', '{}', '{}', 0, :last_error, '2026-12-07', '2026-12-07')"
                ),
                {"id": campaign_id, "last_error": last_error},
            )

    def rows() -> dict[int, tuple[str | None, ...]]:
        with engine.connect() as connection:
            return {
                row[0]: tuple(row[1:])
                for row in connection.execute(
                    text("SELECT id, last_error, last_error_code FROM campaigns ORDER BY id")
                )
            }

    upgrade(url)
    assert rows() == {
        1: (
            "Waiting for your sender details: the campaign goes out once they are set.",
            "campaign_error.waiting_for_sender",
        ),
        2: (
            "The store is disconnected: the campaign goes on once it is connected again.",
            "campaign_error.shop_inactive",
        ),
        3: (stored[3], None),  # an older failure keeps its text, shown as it is
        4: (None, None),
    }
    downgrade(url, BEFORE_CAMPAIGN_CODES)
    with engine.connect() as connection:
        back = {
            row[0]: row[1]
            for row in connection.execute(text("SELECT id, last_error FROM campaigns"))
        }
    engine.dispose()
    assert back == stored
