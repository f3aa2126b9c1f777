"""What every integration module shares: the `integration` marker (real PostgreSQL, Redis and
HTTP to the simulators), applied here to the whole folder so `-m "not integration"` selects the
unit tests alone whether or not a module marks itself. Fixtures stay in `tests/conftest.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)
