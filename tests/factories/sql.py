"""The SQL statements a test's code sends, as sent (`statements`: take it with
`statements = sql.statements`).

Test fixtures, no tests: test modules import them from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every statement any engine sends while the test runs, in order (clear it to start)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)
