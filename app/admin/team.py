"""The account's team (`/app/team`): who signs in, invitations, removing a member.

Layer: web. Everyone signed in to the whole account sees the list; only the owner invites and
removes (`@owner_required`, 403 otherwise, and the forms are not shown). A removed member's
sessions end at once. Invitations per account are limited (`auth.throttle`).
"""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

from app.admin import bp
from app.auth import throttle
from app.auth.guard import admin_required, owner_required
from app.auth.sessions import end_person_sessions
from app.i18n import current_language
from app.kizuna import db_session, kizuna
from app.services import accounts


def _page(*, notice: str | None = None, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    account, members = accounts.team(db_session(), g.account_id)
    page = render_template(
        "admin/team.html", account=account, members=members, notice=notice, error=error
    )
    return page, status


@bp.get("/team")
@admin_required
def team():  # type: ignore[no-untyped-def]
    if not g.account_wide:
        return "Not Found", 404
    notice = request.args.get("notice")
    return _page(notice=notice if notice in ("team.invited", "team.removed") else None)


@bp.post("/team/invite")
@owner_required
def team_invite():  # type: ignore[no-untyped-def]
    runtime = kizuna()
    if throttle.hit(runtime.redis, "invite", str(g.account_id), throttle.INVITES_PER_ACCOUNT):
        return _page(error="team.rate_limited", status=429)
    email = request.form.get("email", "")[: accounts.MAX_EMAIL_LENGTH]
    outcome = accounts.invite_member(runtime, db_session(), g.account_id, email, current_language())
    if outcome != accounts.INVITED:
        return _page(error=f"team.{outcome}", status=400)
    return redirect(url_for("admin.team", notice="team.invited"))


@bp.post("/team/<int:member_id>/remove")
@owner_required
def team_remove(member_id: int):  # type: ignore[no-untyped-def]
    if not accounts.remove_member(db_session(), g.account_id, member_id):
        return "Not Found", 404
    end_person_sessions(kizuna().redis, g.account_id, member_id)
    return redirect(url_for("admin.team", notice="team.removed"))
