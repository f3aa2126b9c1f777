"""Alembic environment: the database comes from Kizuna's own configuration.

Every schema change is a migration; the tests build their schema with `upgrade head` on both
PostgreSQL and SQLite (batch mode for SQLite's ALTER TABLE limits).

On SQLite the migrations run with foreign keys unenforced: batch mode rebuilds a table by copying
it, dropping the original and renaming the copy, and with enforcement on that DROP deletes every
row referencing the table through an ON DELETE CASCADE key (rebuilding `accounts` would empty
`shops`, `customers` and everything below them). Enforcement comes back afterwards, and
`PRAGMA foreign_key_check` must then find every reference intact.
"""

from __future__ import annotations

from typing import Any

from alembic import context

import app.models  # noqa: F401 - registers every table on Base.metadata
from app.db import Base, UTCDateTime, make_engine

config = context.config


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from app.config import load_config

    return load_config().database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_database_url())
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Any) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(connection, enforced=False)
    try:
        _migrate(connection)
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, enforced=True)
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.commit()
        if broken:
            tables = sorted({row[0] for row in broken})
            raise RuntimeError(f"migrations left broken foreign keys in {', '.join(tables)}")


def _sqlite_foreign_keys(connection: Any, *, enforced: bool) -> None:
    """SQLite ignores this pragma inside a transaction: end any open one first."""
    if connection.in_transaction():
        connection.commit()
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")
    connection.commit()


def _migrate(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


run_migrations()
