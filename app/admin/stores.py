"""All of an account's stores on one page (`/app/stores`).

Layer: web. The figures come from `app.services.store_overview` (shared with the JSON API), for
`g.shops`, the signed-in account's stores (inside the Shopify admin, the one store of the session).
"""

from __future__ import annotations

from flask import g, render_template

from app.admin import bp
from app.auth.guard import admin_required
from app.db import utcnow
from app.kizuna import db_session
from app.services.store_overview import overview


@bp.get("/stores")
@admin_required
def stores():  # type: ignore[no-untyped-def]
    return render_template("admin/stores.html", overview=overview(db_session(), g.shops, utcnow()))
