"""Standalone admin sign-in: password form, login links, sign out, password change.

Layer: web auth. Every POST needs the session CSRF token; wrong passwords meet `auth.lockout`;
a sign-in gets a new session, and a new password ends that person's other sessions. The owner
signs in with the account's email, a team member with their own; an owner who signed up signs
in once the email is confirmed (the right password before that sends the link again).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import g, redirect, render_template, request, session, url_for

from app.auth import bp, lockout, throttle
from app.auth.csrf import csrf_protect, csrf_token, csrf_valid
from app.auth.guard import admin_required
from app.auth.login_link import MAX_TOKEN_LENGTH, redeem_login_token, revoke_login_links
from app.auth.sessions import current_session_key, end_person_sessions, start_session
from app.i18n import current_language
from app.kizuna import db_session, kizuna
from app.models import Account
from app.passwords import password_problem, verify_password
from app.services import accounts

log = logging.getLogger(__name__)

MAX_EMAIL_LENGTH = 320

bp.add_app_template_global(csrf_token, "csrf_token")


def _login_form(
    *, error: str | None = None, email: str = "", expired: bool = False, status: int = 401
) -> Any:
    # 401 on the form itself too: it is what an unauthenticated admin request lands on.
    notice = None
    if request.method == "GET" and request.args.get("verified") == "1":
        notice = "account.verified"
    page = render_template(
        "admin/login.html", error=error, email=email, expired=expired, notice=notice
    )
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
    who = accounts.find_person(db_session(), email)
    if not verify_password(who.password_hash if who else None, password):
        lockout.record_failure(runtime.redis, email, address, time.time())
        log.info("password login refused ip=%s", address)
        return _login_form(error="login.invalid", email=email)
    assert who is not None  # noqa: S101 - verify_password(None, ...) is always False
    lockout.clear_failures(runtime.redis, email, address)
    if not who.verified:
        # Only someone who knows the password learns the address is waiting for confirmation.
        recipient = accounts.normalize_email(email)
        if not throttle.hit(runtime.redis, "recipient", recipient, throttle.EMAILS_PER_RECIPIENT):
            accounts.queue_email(runtime, accounts.EMAIL_VERIFY, who, current_language())
        log.info("password login before email confirmation account_id=%s", who.account_id)
        return _login_form(error="login.unverified", email=email, status=403)
    start_session(who.account_id, member_id=who.member_id)
    log.info("password login account_id=%s member_id=%s", who.account_id, who.member_id)
    return redirect(url_for("admin.home"))


@bp.post("/logout")
@csrf_protect
def logout():  # type: ignore[no-untyped-def]
    account_id = session.get("account_id")
    member_id = session.get("member_id")
    member_id = member_id if isinstance(member_id, int) else None
    if isinstance(account_id, int):
        client = kizuna().redis
        if request.form.get("everywhere") == "1":
            ended = end_person_sessions(client, account_id, member_id)
            log.info("signed out everywhere account_id=%s sessions=%s", account_id, ended)
        elif member_id is None:
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
    who = accounts.person(db_session(), g.account_id, g.member_id)
    if who is None:
        return "Not Found", 404
    runtime = kizuna()
    address = request.remote_addr or "unknown"
    lock_name = who.email or f"account-{who.account_id}"
    wait = lockout.retry_after(runtime.redis, lock_name, address, time.time())
    if wait:
        page, _ = _password_form(error="login.rate_limited")
        return page, 429, {"Retry-After": str(wait)}
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    if not verify_password(who.password_hash, current):
        lockout.record_failure(runtime.redis, lock_name, address, time.time())
        return _password_form(error="password.wrong_current", status=401)
    problem = password_problem(new)
    if problem:
        return _password_form(error=f"password.{problem}", status=400)
    if new != request.form.get("repeat_password", ""):
        return _password_form(error="password.mismatch", status=400)
    accounts.set_person_password(db_session(), who.account_id, who.member_id, new)
    ended = end_person_sessions(
        runtime.redis, who.account_id, who.member_id, keep=current_session_key()
    )
    # This browser stays signed in, under a new session id.
    start_session(who.account_id, member_id=who.member_id)
    log.info("password changed account_id=%s sessions_ended=%s", who.account_id, ended)
    return redirect(url_for("auth.change_password", done=1))
