"""Account routes anyone can reach: sign up, confirm the email, forgotten password, accepting a
team invitation.

Layer: web auth. Every POST needs the session's CSRF token. Sign-up and reset answer the same
whether or not the address has an account (only the email differs); client addresses are
limited (429), email addresses silently (`auth.throttle`). Links carry their token in the URL
fragment; the page's script moves it into a form, so no GET changes anything and no token
reaches a log. A new password ends that person's other sessions and signs this browser in.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext

from app.auth import bp, throttle
from app.auth.csrf import csrf_valid
from app.auth.sessions import end_person_sessions, start_session
from app.i18n import current_language
from app.kizuna import db_session, kizuna
from app.passwords import password_problem
from app.services import accounts

log = logging.getLogger(__name__)


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _too_many(template: str, wait: int, **values: Any) -> Any:
    page = render_template(template, error="account.rate_limited", **values)
    return page, 429, {"Retry-After": str(wait)}


def _check_email(message: str) -> Any:
    return render_template("auth/account/check_email.html", message=message), 200


def _new_password_problem() -> str | None:
    new = request.form.get("new_password", "")
    problem = password_problem(new)
    if problem:
        return f"password.{problem}"
    if new != request.form.get("repeat_password", ""):
        return "password.mismatch"
    return None


def _recipient_allowed(email: str) -> bool:
    """At most a few account emails an hour to one address, whoever asks; kept silently."""
    return not throttle.hit(
        kizuna().redis, "recipient", accounts.normalize_email(email), throttle.EMAILS_PER_RECIPIENT
    )


# --- sign up -------------------------------------------------------------------------------


def _signup_form(*, error: str | None = None, name: str = "", email: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    page = render_template("auth/account/signup.html", error=error, name=name, email=email)
    return page, status


@bp.route("/signup", methods=["GET", "POST"])
def signup():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return _signup_form()
    name = request.form.get("name", "").strip()[: accounts.MAX_NAME_LENGTH]
    email = request.form.get("email", "").strip()[: accounts.MAX_EMAIL_LENGTH]
    password = request.form.get("password", "")
    if not csrf_valid():
        return _signup_form(error="login.form_expired", name=name, email=email, status=400)
    if not accounts.looks_like_email(accounts.normalize_email(email)):
        return _signup_form(error="account.not_an_email", name=name, email=email, status=400)
    problem = password_problem(password)
    if problem:
        return _signup_form(error=f"password.{problem}", name=name, email=email, status=400)
    wait = throttle.hit(kizuna().redis, "signup", _client_address(), throttle.SIGNUP_PER_ADDRESS)
    if wait:
        log.info("sign-up held back ip=%s wait=%s", _client_address(), wait)
        return _too_many("auth/account/signup.html", wait, name=name, email=email)
    if _recipient_allowed(email):
        accounts.sign_up(kizuna(), db_session(), name, email, password, current_language())
    return _check_email(
        gettext(
            "We sent a link to %(email)s. Open it to confirm your address, then sign in.",
            email=email,
        )
    )


@bp.get("/account/verify")
def verify_email_page():  # type: ignore[no-untyped-def]
    return _link_page("verify")


@bp.post("/account/verify")
def verify_email():  # type: ignore[no-untyped-def]
    token = request.form.get("token", "")
    if not csrf_valid():
        return _link_page("verify", error="login.form_expired", token=token, status=400)
    account_id = accounts.verify_email(db_session(), kizuna().config.secret_key, token)
    if account_id is None:
        return _link_page("verify", error="account.link_invalid", status=400)
    return redirect(url_for("auth.login_required_page", verified=1))


# --- forgotten password --------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():  # type: ignore[no-untyped-def]
    def form(error: str | None = None, email: str = "", status: int = 200) -> Any:
        return render_template("auth/account/forgot.html", error=error, email=email), status

    if request.method == "GET":
        return form()
    email = request.form.get("email", "").strip()[: accounts.MAX_EMAIL_LENGTH]
    if not csrf_valid():
        return form("login.form_expired", email, 400)
    if not email:
        return form("account.not_an_email", email, 400)
    wait = throttle.hit(kizuna().redis, "reset", _client_address(), throttle.RESETS_PER_ADDRESS)
    if wait:
        return _too_many("auth/account/forgot.html", wait, email=email)
    if _recipient_allowed(email):
        accounts.request_password_reset(kizuna(), db_session(), email, current_language())
    return _check_email(
        gettext(
            "If %(email)s signs in to Kizuna, we sent it a link to choose a new password. "
            "The link works once, within one hour.",
            email=email,
        )
    )


@bp.get("/password/reset")
def reset_password_page():  # type: ignore[no-untyped-def]
    return _link_page("reset")


@bp.post("/password/reset")
def reset_password():  # type: ignore[no-untyped-def]
    token = request.form.get("token", "")
    if not csrf_valid():
        return _link_page("reset", error="login.form_expired", token=token, status=400)
    runtime = kizuna()
    if not accounts.reset_link_valid(db_session(), runtime.config.secret_key, token):
        return _link_page("reset", error="account.link_invalid", status=400)
    problem = _new_password_problem()
    if problem:
        return _link_page("reset", error=problem, token=token, status=400)
    who = accounts.reset_password(
        db_session(), runtime.config.secret_key, token, request.form["new_password"]
    )
    if who is None:
        return _link_page("reset", error="account.link_invalid", status=400)
    ended = end_person_sessions(runtime.redis, who.account_id, who.member_id)
    start_session(who.account_id, member_id=who.member_id)
    log.info("password reset sessions_ended=%s account_id=%s", ended, who.account_id)
    return redirect(url_for("admin.home"))


# --- team invitation -----------------------------------------------------------------------


@bp.get("/team/accept")
def accept_invite_page():  # type: ignore[no-untyped-def]
    return _link_page("accept")


@bp.post("/team/accept")
def accept_invite():  # type: ignore[no-untyped-def]
    token = request.form.get("token", "")
    if not csrf_valid():
        return _link_page("accept", error="login.form_expired", token=token, status=400)
    runtime = kizuna()
    if not accounts.invite_link_valid(db_session(), runtime.config.secret_key, token):
        return _link_page("accept", error="account.link_invalid", status=400)
    problem = _new_password_problem()
    if problem:
        return _link_page("accept", error=problem, token=token, status=400)
    who = accounts.accept_invite(
        db_session(), runtime.config.secret_key, token, request.form["new_password"]
    )
    if who is None:
        return _link_page("accept", error="account.link_invalid", status=400)
    start_session(who.account_id, member_id=who.member_id)
    return redirect(url_for("admin.home"))


# --- the link pages ------------------------------------------------------------------------


def _link_page(kind: str, *, error: str | None = None, token: str = "", status: int = 200) -> Any:
    if kind == "verify":
        values = {
            "title": gettext("Confirm your email"),
            "intro": gettext("Confirm this address for your Kizuna account?"),
            "button": gettext("Confirm my email"),
            "action": url_for("auth.verify_email"),
            "with_password": False,
        }
    elif kind == "reset":
        values = {
            "title": gettext("Choose a new password"),
            "intro": gettext("A new password signs out every other browser signed in as you."),
            "button": gettext("Save the new password"),
            "action": url_for("auth.reset_password"),
            "with_password": True,
        }
    else:
        values = {
            "title": gettext("Join the team on Kizuna"),
            "intro": gettext("Choose the password you will sign in with."),
            "button": gettext("Accept the invitation"),
            "action": url_for("auth.accept_invite"),
            "with_password": True,
        }
    page = render_template(
        "auth/account/link.html",
        error=error,
        token=token[: accounts.MAX_TOKEN_LENGTH],
        **values,
    )
    return page, status, {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
