"""Standalone admin sign-in: email + password form, signed login links, sign out.

Layer: web auth. `POST /login` and `POST /logout` need the session CSRF token (`app.auth.csrf`).
Failed password logins are counted in Redis per client IP and per email (hashed: no personal data
in keys); `MAX_FAILURES` within `FAILURE_WINDOW` seconds → 429 until the window ends. A login
clears the session first (no fixation) and gets a fresh CSRF token.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from app import db_session
from app.auth import bp
from app.auth.csrf import csrf_protect, csrf_token, csrf_valid, rotate_csrf_token
from app.auth.login_link import read_login_token
from app.auth.passwords import verify_password
from app.kizuna import kizuna
from app.models import Account

log = logging.getLogger(__name__)

MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60
MAX_EMAIL_LENGTH = 320
_KEY_PREFIX = "kizuna:login-failures"

bp.add_app_template_global(csrf_token, "csrf_token")


def _start_session(account_id: int) -> None:
    session.clear()
    session["account_id"] = account_id
    session.permanent = True
    rotate_csrf_token()


def _failure_keys(email: str) -> list[str]:
    email_key = hashlib.sha256(email.encode("utf-8")).hexdigest()[:32]
    return [
        f"{_KEY_PREFIX}:ip:{request.remote_addr or 'unknown'}",
        f"{_KEY_PREFIX}:email:{email_key}",
    ]


def _retry_after(keys: list[str]) -> int:
    """Seconds until this client may try again; 0 when it is not rate limited."""
    redis = kizuna().redis
    counts: list[Any] = redis.mget(keys)  # type: ignore[assignment]  # sync client
    waits = [
        max(int(redis.ttl(key)), 1)  # type: ignore[arg-type]  # sync client returns int
        for key, count in zip(keys, counts, strict=True)
        if count is not None and int(count) >= MAX_FAILURES
    ]
    return max(waits, default=0)


def _record_failure(keys: list[str]) -> None:
    redis = kizuna().redis
    pipe = redis.pipeline()
    for key in keys:
        pipe.incr(key)
    for key, count in zip(keys, pipe.execute(), strict=True):
        if int(count) == 1:  # the window starts at the first failure, it does not slide
            redis.expire(key, FAILURE_WINDOW)


def _login_form(
    *, error: str | None = None, email: str = "", expired: bool = False, status: int = 401
) -> Any:
    # 401 on the form itself too: it is what an unauthenticated admin request lands on.
    page = render_template("admin/login.html", error=error, email=email, expired=expired)
    return page, status


@bp.get("/login/<token>")
def login_with_link(token: str):  # type: ignore[no-untyped-def]
    account_id = read_login_token(kizuna().config, token)
    if account_id is None:
        return _login_form(expired=True)
    _start_session(account_id)
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
    keys = _failure_keys(email.lower())
    wait = _retry_after(keys)
    if wait:
        log.info("password login rate limited ip=%s", request.remote_addr)
        page, _ = _login_form(error="login.rate_limited", email=email)
        return page, 429, {"Retry-After": str(wait)}
    account = (
        db_session()
        .scalars(select(Account).where(func.lower(Account.email) == email.lower()))
        .one_or_none()
    )
    if not verify_password(account.password_hash if account else None, password):
        _record_failure(keys)
        log.info("password login refused ip=%s", request.remote_addr)
        return _login_form(error="login.invalid", email=email)
    assert account is not None  # noqa: S101 - verify_password(None, ...) is always False
    kizuna().redis.delete(keys[1])  # the IP count stays: it also counts other emails
    _start_session(account.id)
    log.info("password login account_id=%s", account.id)
    return redirect(url_for("admin.home"))


@bp.post("/logout")
@csrf_protect
def logout():  # type: ignore[no-untyped-def]
    session.clear()
    return redirect(url_for("auth.login_required_page"))
