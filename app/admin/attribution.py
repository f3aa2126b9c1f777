"""The shop's attribution settings on the flows page: `POST /app/flows/attribution`.

Layer: web. Validates through `app.services.attribution`, saves on the shop row and commits, then
redirects back to the flows page with a notice (`?attribution=saved|invalid`), so a reload never
re-submits. CSRF is checked by the admin blueprint's hook for cookie sessions. Attribution is
computed when the numbers are read, so the new settings apply to past orders at once.
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
