"""Database plumbing: engine, sessions, and the column types every model shares.

Layer: infrastructure. One `Database` per process, built from the config. Sessions never commit
on their own: a service (or a job) owns each transaction. Times are stored timezone-aware UTC on
both PostgreSQL and SQLite; money is `Decimal` with its currency in a sibling column.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, Numeric, create_engine, event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, on PostgreSQL and on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Money = Numeric(18, 4, asdecimal=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _server_error_names(error: BaseException) -> str | None:
    """What a database server's error may say outside the database: its class, SQLSTATE and
    the schema names involved. None for errors raised by the driver itself, which quote no row.
    PostgreSQL's own text quotes values (`invalid input syntax ...: "hanako@…"`,
    `Key (email)=(…) already exists`), so it never leaves the process."""
    diag = getattr(error, "diag", None)
    sqlstate = getattr(diag, "sqlstate", None) or ""
    # Connection failures (08, 57) quote no row, and their text tells SQLAlchemy a connection died.
    if not sqlstate or sqlstate.startswith(("08", "57")):
        return None
    names = [
        f"{label}={value}"
        for label in ("sqlstate", "constraint_name", "table_name", "column_name", "datatype_name")
        if (value := getattr(diag, label, None))
    ]
    return " ".join([type(error).__name__, *names])


def _hide_quoted_values(context: ExceptionContext) -> None:
    # Both the driver's exception and SQLAlchemy's wrapper print in a traceback.
    safe = _server_error_names(context.original_exception)
    if safe is None:
        return
    context.original_exception.args = (safe,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None:
        orig = type(context.original_exception)
        wrapped.args = (f"({orig.__module__}.{orig.__name__}) {safe}",)


@contextmanager
def driver_errors(dialect: Dialect, statement: str) -> Iterator[None]:
    """Work on the raw driver connection (COPY) failing as a statement through the engine does:
    a `DBAPIError` of the driver error's class, its server text that quotes values replaced by
    its SQLSTATE and schema names, and no parameters."""
    base: type[Exception] = dialect.loaded_dbapi.Error
    try:
        yield
    except base as error:
        safe = _server_error_names(error)
        if safe is not None:
            error.args = (safe,)
        raise DBAPIError.instance(
            statement, None, error, base, hide_parameters=True, dialect=dialect
        ) from error


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """An engine whose errors never carry row values: bound parameters are hidden from every
    error message and log line (`hide_parameters`), and server messages that quote values are
    replaced by their SQLSTATE and schema names."""
    kwargs.setdefault("hide_parameters", True)
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        event.listen(engine, "handle_error", _hide_quoted_values)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_engine(database_url, pool_pre_ping=True, pool_size=5, max_overflow=10, **kwargs)
    event.listen(engine, "handle_error", _hide_quoted_values)
    return engine


class Database:
    """The engine and session factory of one process."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for one unit of work; the caller commits, the session always closes."""
        session = self.sessionmaker()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
