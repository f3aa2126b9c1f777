"""Signing in outside Shopify (`/app/account`): the account's owner address, and for an account
a Shopify install made, the form that adds one with a password.

Layer: web. Adding an address is for the owner: their account-wide session, or whoever the
Shopify store lets into Kizuna while the account holds that one Shopify store and no confirmed
address (`services.accounts.shopify_only_account`). The address works once the emailed link is
opened (`services.accounts.add_owner_email`); emails to one address are limited
(`auth.throttle`), silently.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request

from app.admin import bp
from app.admin.helpers import admin_url
from app.auth import throttle
from app.auth.csrf import csrf_protect
from app.auth.guard import admin_required, owner_forbidden
from app.i18n import current_language
from app.kizuna import db_session, kizuna
from app.models import Account
from app.passwords import password_problem
from app.services import accounts


def _may_add_address() -> bool:
    if g.member_id is not None:
        return False
    return bool(g.is_owner) or accounts.shopify_only_account(db_session(), g.account_id)


def _page(*, error: str | None = None, email: str = "", status: int = 200) -> Any:
    account = db_session().get_one(Account, g.account_id)
    page = render_template(
        "admin/account.html",
        account=account,
        confirmed=accounts.has_confirmed_address(account),
        may_add=not accounts.has_confirmed_address(account) and _may_add_address(),
        sent=request.args.get("sent") == "1",
        login_url=f"{kizuna().config.app_url.rstrip('/')}/login",
        error=error,
        email=email,
    )
    return page, status


@bp.route("/account", methods=["GET", "POST"])
@admin_required
@csrf_protect
def account_sign_in():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return _page()
    if not _may_add_address():
        return owner_forbidden()
    email = request.form.get("email", "").strip()[: accounts.MAX_EMAIL_LENGTH]
    password = request.form.get("new_password", "")
    if not accounts.looks_like_email(accounts.normalize_email(email)):
        return _page(error="account.not_an_email", email=email, status=400)
    problem = password_problem(password)
    if problem:
        return _page(error=f"password.{problem}", email=email, status=400)
    if password != request.form.get("repeat_password", ""):
        return _page(error="password.mismatch", email=email, status=400)
    runtime = kizuna()
    recipient = accounts.normalize_email(email)
    if not throttle.hit(runtime.redis, "recipient", recipient, throttle.EMAILS_PER_RECIPIENT):
        outcome = accounts.add_owner_email(
            runtime, db_session(), g.account_id, email, password, current_language()
        )
        if outcome == accounts.ADDRESS_CONFIRMED_ALREADY:
            return _page(status=409)
    return redirect(admin_url("admin.account_sign_in", sent="1"))
