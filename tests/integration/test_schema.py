"""The migrated schema matches the models, on PostgreSQL and on SQLite."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from app.db import Base
from app.migrate import upgrade


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
