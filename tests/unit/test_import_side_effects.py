"""Importing a module has no side effects: no module of app, connectors or jobs installs a
SQLAlchemy listener on every session or engine when it is imported (hooks are explicit calls,
or listeners on one session made by the code that owns it)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

# The flows' per-transaction read cache still hooks every session at import (services/flows.py,
# app/flows/runs.py once the flows package lands); it is being replaced. Empty this set when it
# goes, so no new global listener can come back unnoticed.
KNOWN_IMPORT_TIME_LISTENERS = frozenset({"app.services.flows", "app.flows.runs"})


def _import_everything() -> None:
    for package_name in ("app", "connectors", "jobs"):
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            importlib.import_module(module.name)


def _global_listeners(target: type[Any]) -> set[str]:
    found = set()
    for name in target.dispatch._event_names:
        collection = getattr(target.dispatch, name)
        for listener in getattr(collection, "_clslevel", {}).get(target, ()):
            found.add(getattr(listener, "__module__", "?"))
    return found


def test_no_module_listens_to_every_session_or_engine_on_import() -> None:
    _import_everything()
    modules = _global_listeners(Session) | _global_listeners(Engine)
    ours = {name for name in modules if name.split(".")[0] in {"app", "connectors", "jobs"}}
    assert ours <= KNOWN_IMPORT_TIME_LISTENERS
