"""Which database errors a backfill retries: deadlocks and serialization failures only."""

from __future__ import annotations

import psycopg.errors
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from app.services.sync import _transient


def _wrapped(kind: type[DBAPIError], original: Exception) -> DBAPIError:
    return kind("SELECT 1", {}, original)


def test_a_deadlock_or_serialization_failure_is_retried() -> None:
    assert _transient(_wrapped(OperationalError, psycopg.errors.DeadlockDetected()))
    assert _transient(_wrapped(OperationalError, psycopg.errors.SerializationFailure()))


def test_other_errors_fail_the_backfill() -> None:
    assert not _transient(_wrapped(IntegrityError, psycopg.errors.UniqueViolation()))
    assert not _transient(_wrapped(OperationalError, psycopg.OperationalError("gone")))
    assert not _transient(ValueError("bad record"))
