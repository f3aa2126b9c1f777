"""`GET /healthz`: do the database and Redis answer, are workers and the scheduler alive.

Layer: web (unauthenticated, cheap). 200 or 503 with `reasons`; the body names processes by count
and age only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.heartbeats import automations_liveness
from app.kizuna import kizuna

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    runtime = kizuna()
    checks: dict[str, str] = {}
    reasons: list[str] = []
    body: dict[str, Any] = {}
    try:
        with runtime.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"error: {type(error).__name__}"
        reasons.append("database unreachable")
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except Exception as error:
        checks["redis"] = f"error: {type(error).__name__}"
        reasons.append("redis unreachable")
    else:
        seen = automations_liveness(runtime)
        body.update(seen.to_json())
        reasons.extend(seen.reasons)
    healthy = not reasons
    return (
        jsonify(status="ok" if healthy else "degraded", **checks, **body, reasons=reasons),
        200 if healthy else 503,
    )
