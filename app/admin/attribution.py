"""The shop's attribution settings on the flows page: `POST /app/flows/attribution`.

Layer: web. Validates through `services.attribution`, commits, redirects (a reload never
re-submits). Attribution is computed when read, so new settings apply to past orders at once.
"""

from __future__ import annotations

from flask import abort, g, redirect, request

from app.admin import bp
from app.admin.helpers import admin_url
from app.auth.guard import admin_required
from app.kizuna import db_session
from app.services import attribution


@bp.post("/flows/attribution")
@admin_required
def attribution_settings():  # type: ignore[no-untyped-def]
    if g.shop is None:
        abort(404)
    settings, _errors = attribution.validate(request.form.to_dict())
    if settings is None:
        return redirect(admin_url("admin.flows", attribution="invalid") + "#attribution")
    session = db_session()
    attribution.save_settings(g.shop, settings)
    session.commit()
    return redirect(admin_url("admin.flows", attribution="saved") + "#attribution")
