"""Importing a module has no side effects: no module of app, connectors or jobs installs a
SQLAlchemy listener on every session or engine when it is imported (hooks are explicit calls,
or listeners on one session made by the code that owns it)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

# No module is exempt: the flows' read cache is hooked by `app.flows.reads.install()`, which
# `create_app` calls. Keep this empty, so no new global listener can come back unnoticed.
KNOWN_IMPORT_TIME_LISTENERS: frozenset[str] = frozenset()


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


def check_imports_install_no_listener() -> None:
    _import_everything()
    modules = _global_listeners(Session) | _global_listeners(Engine)
    ours = {name for name in modules if name.split(".")[0] in {"app", "connectors", "jobs"}}
    assert ours <= KNOWN_IMPORT_TIME_LISTENERS, ours


def test_no_module_listens_to_every_session_or_engine_on_import() -> None:
    # A fresh interpreter: in this one, an earlier test's `create_app` has installed the hooks
    # it installs explicitly.
    probe = (
        "from tests.unit import test_import_side_effects as probe\n"
        "probe.check_imports_install_no_listener()"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=root)
