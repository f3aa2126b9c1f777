"""The shop's sender identity: `GET|POST /app/settings/sender`.

Layer: web. Validates and saves through `services.sender_identity`, which releases the emails
that waited for it; commits, then redirects (a reload never re-submits).
"""

from __future__ import annotations

from flask import abort, g, redirect, render_template, request

from app.admin import bp
from app.admin.helpers import admin_url
from app.auth.guard import admin_required
from app.kizuna import db_session, kizuna
from app.services import sender_identity


@bp.route("/settings/sender", methods=["GET", "POST"])
@admin_required
def sender_settings():  # type: ignore[no-untyped-def]
    if g.shop is None:
        abort(404)
    session = db_session()
    if request.method == "GET":
        return render_template(
            "admin/sender_settings.html",
            values=sender_identity.form_values(g.shop),
            errors={},
            saved=request.args.get("saved") == "1",
            released=request.args.get("released", type=int) or 0,
            waiting=sender_identity.waiting_count(session, g.shop.id),
        )
    identity, errors = sender_identity.validate(request.form)
    if identity is None:
        values = {name: request.form.get(name, "") for name in sender_identity.FIELD_LIMITS}
        page = render_template(
            "admin/sender_settings.html",
            values=values,
            errors=errors,
            saved=False,
            released=0,
            waiting=sender_identity.waiting_count(session, g.shop.id),
        )
        return page, 400
    released = sender_identity.save(session, kizuna().redis, g.shop, identity)
    session.commit()
    return redirect(admin_url("admin.sender_settings", saved=1, released=released or None))


def sender_identity_missing() -> bool:
    """Whether the viewed shop's marketing emails wait for its sender details (every page says
    so in a banner)."""
    shop = g.get("shop")
    return shop is not None and shop.is_active and sender_identity.identity_of(shop) is None


bp.add_app_template_global(sender_identity_missing, "sender_identity_missing")
