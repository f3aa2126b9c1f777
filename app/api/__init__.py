"""The merchant's JSON API under `/api/v1`: shop status, customers, segments, analytics,
flows and the account's stores.

Layer: web (reads only, except `saved_segments`, which saves and deletes segments). Every route
is `@api_required`: the admin guard (session cookie or Shopify session token) scoped to `g.shop`,
with every refusal answered as JSON. Queries are the admin pages' own (`app.admin.*`), so page
and API agree.
Errors are `{"error": code, "message": text}`; money is `{"amount": "12.50", "currency": "USD"}`.
The contract is `docs/openapi.yaml`; `tests/integration/test_api_schemathesis.py` holds us to it.
"""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Routes and error handlers register on bp.
from app.api import errors, flows, saved_segments, views  # noqa: E402, F401
