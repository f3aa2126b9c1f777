"""Standalone admin sign-in: open a signed login link, get a session cookie; sign out."""

from __future__ import annotations

from flask import redirect, render_template, session, url_for

from app.auth import bp
from app.auth.login_link import read_login_token
from app.kizuna import kizuna


@bp.get("/login/<token>")
def login_with_link(token: str):  # type: ignore[no-untyped-def]
    account_id = read_login_token(kizuna().config, token)
    if account_id is None:
        return render_template("admin/login_required.html", expired=True), 401
    session.clear()
    session["account_id"] = account_id
    session.permanent = True
    return redirect(url_for("admin.home"))


@bp.get("/login")
def login_required_page():  # type: ignore[no-untyped-def]
    return render_template("admin/login_required.html", expired=False), 401


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    session.clear()
    return redirect(url_for("auth.login_required_page"))
