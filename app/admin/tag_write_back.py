"""The write-back page: which segments become tags on the store, and the current run's progress.

Layer: web. Saving the settings starts a fresh run (so a customer who left a segment, or a
changed prefix, is brought up to date at once); "Write back now" starts one without changes.
"""

from __future__ import annotations

from flask import g, redirect, render_template, request

from app.admin import bp
from app.admin.helpers import admin_url
from app.auth.csrf import csrf_protect
from app.auth.guard import admin_required
from app.i18n import text_for
from app.kizuna import db_session, kizuna
from app.models.tag_write_back import DEFAULT_PREFIX
from app.services import tag_write_back as service
from app.services.segments import list_segments


def _segment_ids() -> tuple[int, ...]:
    ids = []
    for value in request.form.getlist("segment_id"):
        if not value.isdigit():
            raise service.SettingsError("write_back.unknown_segment")
        ids.append(int(value))
    return tuple(sorted(set(ids)))


@bp.route("/segments/write-back", methods=["GET", "POST"])
@admin_required
@csrf_protect
def tag_write_back():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    session = db_session()
    error, status = None, 200
    if request.method == "POST":
        try:
            if request.form.get("action") != "run":
                settings = service.Settings(
                    enabled=request.form.get("enabled") == "1",
                    prefix=request.form.get("prefix", DEFAULT_PREFIX),
                    include_rfm=request.form.get("include_rfm") == "1",
                    include_value_band=request.form.get("include_value_band") == "1",
                    segment_ids=_segment_ids(),
                )
                service.save_settings(session, g.shop.id, settings)
            service.start_run(session, kizuna(), g.shop.id)
            session.commit()
            return redirect(admin_url("admin.tag_write_back", started="1"))
        except service.SettingsError as problem:
            session.rollback()
            error, status = text_for(problem.problem), 400
    row = service.settings_row(session, g.shop.id)
    session.commit()
    return render_template(
        "admin/tag_write_back.html",
        row=row,
        segments=list_segments(session, g.shop.id),
        error=error,
        started=request.args.get("started") == "1",
        platform=g.shop.platform,
        example=service.tag_name(row.prefix, "rfm", "champions"),
    ), status
