"""The app of a process that serves no requests: a worker, the scheduler, a CLI command.

Layer: entry (beside `app.cli` and `jobs`): it imports the factory, so only entry points import
it, never a service or a blueprint. The app is built once per process from the environment;
tests bind their own with `bind_app`.
"""

from __future__ import annotations

from flask import Flask

_app: Flask | None = None


def bind_app(app: Flask | None) -> None:
    """Make `app` the process's app (tests); None forgets it."""
    global _app
    _app = app


def get_app() -> Flask:
    """The process's app, built from the environment on first use."""
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app
