"""Standalone admin sign-in: password form, login links, sign out, password change.

Layer: web auth. Every POST needs the session CSRF token; wrong passwords meet `auth.lockout`;
a sign-in gets a new session, and a new password ends the account's other sessions.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import g, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from app.auth import bp, lockout
from app.auth.csrf import csrf_protect, csrf_token, csrf_valid
from app.auth.guard import admin_required
from app.auth.login_link import MAX_TOKEN_LENGTH, redeem_login_token, revoke_login_links
from app.auth.sessions import end_account_sessions, start_session
from app.kizuna import db_session, kizuna
from app.models import Account
from app.passwords import password_problem, verify_password
from app.services.accounts import set_password

log = logging.getLogger(__name__)

MAX_EMAIL_LENGTH = 320

bp.add_app_template_global(csrf_token, "csrf_token")


def _login_form(
    *, error: str | None = None, email: str = "", expired: bool = False, status: int = 401
) -> Any:
    # 401 on the form itself too: it is what an unauthenticated admin request lands on.
    page = render_template("admin/login.html", error=error, email=email, expired=expired)
    return page, status


@bp.get("/login/link")
def login_link_page():  # type: ignore[no-untyped-def]
    # The token is in the fragment: the page's script moves it into the form; nothing signs in here.
    page = render_template("admin/login_link.html")
    return page, 200, {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@bp.post("/login/link")
def login_with_link():  # type: ignore[no-untyped-def]
    if not csrf_valid():
        return _login_form(error="login.form_expired", status=400)
    token = request.form.get("token", "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return _login_form(expired=True, status=400)
    account_id = redeem_login_token(kizuna().redis, token, time.time())
    if account_id is None or db_session().get(Account, account_id) is None:
        log.info("login link refused")
        return _login_form(expired=True)
    start_session(account_id)
    log.info("login link used account_id=%s", account_id)
    return redirect(url_for("admin.home"))


@bp.route("/login", methods=["GET", "POST"])
def login_required_page():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return _login_form()
    email = request.form.get("email", "").strip()[:MAX_EMAIL_LENGTH]
    password = request.form.get("password", "")
    if not csrf_valid():
        return _login_form(error="login.form_expired", email=email, status=400)
    if not email or not password:
        return _login_form(error="login.missing", email=email, status=400)
    runtime = kizuna()
    address = request.remote_addr or "unknown"
    wait = lockout.retry_after(runtime.redis, email, address, time.time())
    if wait:
        log.info("password login held back ip=%s wait=%s", address, wait)
        page, _ = _login_form(error="login.rate_limited", email=email)
        return page, 429, {"Retry-After": str(wait)}
    account = (
        db_session()
        .scalars(select(Account).where(func.lower(Account.email) == email.lower()))
        .one_or_none()
    )
    if not verify_password(account.password_hash if account else None, password):
        lockout.record_failure(runtime.redis, email, address, time.time())
        log.info("password login refused ip=%s", address)
        return _login_form(error="login.invalid", email=email)
    assert account is not None  # noqa: S101 - verify_password(None, ...) is always False
    lockout.clear_failures(runtime.redis, email, address)
    start_session(account.id)
    log.info("password login account_id=%s", account.id)
    return redirect(url_for("admin.home"))


@bp.post("/logout")
@csrf_protect
def logout():  # type: ignore[no-untyped-def]
    account_id = session.get("account_id")
    if isinstance(account_id, int):
        client = kizuna().redis
        if request.form.get("everywhere") == "1":
            ended = end_account_sessions(client, account_id)
            log.info("signed out everywhere account_id=%s sessions=%s", account_id, ended)
        else:
            revoke_login_links(client, account_id)
    session.clear()
    return redirect(url_for("auth.login_required_page"))


def _password_form(*, error: str | None = None, done: bool = False, status: int = 200) -> Any:
    return render_template("admin/password.html", error=error, done=done), status


@bp.route("/account/password", methods=["GET", "POST"])
@admin_required
def change_password():  # type: ignore[no-untyped-def]
    # The account's own sign-in only: one shop's staff (embedded, code grant) has no password here.
    if not g.account_wide:
        return "Not Found", 404
    if request.method == "GET":
        return _password_form(done=request.args.get("done") == "1")
    if not csrf_valid():
        return _password_form(error="login.form_expired", status=400)
    account = db_session().get_one(Account, g.account_id)
    runtime = kizuna()
    address = request.remote_addr or "unknown"
    lock_name = account.email or f"account-{account.id}"
    wait = lockout.retry_after(runtime.redis, lock_name, address, time.time())
    if wait:
        page, _ = _password_form(error="login.rate_limited")
        return page, 429, {"Retry-After": str(wait)}
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    if not verify_password(account.password_hash, current):
        lockout.record_failure(runtime.redis, lock_name, address, time.time())
        return _password_form(error="password.wrong_current", status=401)
    problem = password_problem(new)
    if problem:
        return _password_form(error=f"password.{problem}", status=400)
    if new != request.form.get("repeat_password", ""):
        return _password_form(error="password.mismatch", status=400)
    set_password(db_session(), account, new)
    ended = end_account_sessions(runtime.redis, account.id)
    start_session(account.id)  # this browser stays signed in, under a new session id
    log.info("password changed account_id=%s sessions_ended=%s", account.id, ended)
    return redirect(url_for("auth.change_password", done=1))
