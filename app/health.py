"""`GET /healthz`: is the database answering, is Redis answering. 200 when both, else 503."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.kizuna import kizuna

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    runtime = kizuna()
    checks: dict[str, str] = {}
    try:
        with runtime.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"error: {type(error).__name__}"
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except Exception as error:
        checks["redis"] = f"error: {type(error).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if healthy else "degraded", **checks), 200 if healthy else 503
