"""The merchant's JSON API under `/api/v1`: the admin's data as JSON.

Layer: web. Every route is `@api_required` and scoped to `g.shop`, with the admin pages' own
queries, so page and API agree. Errors are `{"error", "message"}`; `docs/openapi.yaml` is the
contract, checked by tests/integration/test_api_schemathesis.py.
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Routes and error handlers register on bp.
from app.api import campaigns, errors, flows, saved_segments, views  # noqa: E402, F401
