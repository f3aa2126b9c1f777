"""Who is looking at the admin: `@admin_required`.

Layer: web auth. Embedded (a Shopify session token) or standalone (the server-side session); sets
`g.account_id`, `g.shops`, `g.shop`, `g.embedded`, `g.member_id` and `g.is_owner`. Every admin
query must be scoped with `g.shop` / `g.shops`; a code-grant or session-token sign-in sees its
one shop. Only the owner's account-wide session may connect, disconnect or erase stores and
manage the team (`@owner_required`, 403); a team member's session ends when they are removed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, redirect, request, session, url_for
from flask_babel import refresh as refresh_locale
from sqlalchemy import select

from app.i18n import current_language
from app.kizuna import db_session
from app.models import AccountMember, Shop

F = Callable[..., Any]


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def _load_shops(account_id: int, only_shop: int | None) -> list[Shop]:
    # An erased store (disconnected, or `shop/redact`) is gone for the merchant.
    query = select(Shop).where(Shop.account_id == account_id, Shop.erased_at.is_(None))
    if only_shop is not None:
        query = query.where(Shop.id == only_shop)
    return list(db_session().scalars(query.order_by(Shop.id)).all())


def _shop_scope() -> int | None:
    """The one shop this session may see; None when it is signed in to the whole account."""
    if "shop_scope" not in session:
        return None
    scope = session["shop_scope"]
    return scope if isinstance(scope, int) else 0  # unreadable: no shop rather than every shop


def account_wide_session() -> int | None:
    """The account id of a session signed in to the whole account; None for any other."""
    account_id = session.get("account_id")
    if not isinstance(account_id, int) or "shop_scope" in session:
        return None
    return account_id


def _session_member_id() -> int | None:
    member_id = session.get("member_id")
    return member_id if isinstance(member_id, int) else None


def account_owner_session() -> int | None:
    """The account id of the owner's account-wide session; None for any other (a team
    member's, one shop's, none)."""
    account_id = account_wide_session()
    if account_id is None or "member_id" in session:
        return None
    return account_id


def _member_still_there(account_id: int, member_id: int) -> bool:
    return (
        db_session().scalar(
            select(AccountMember.id).where(
                AccountMember.id == member_id,
                AccountMember.account_id == account_id,
                AccountMember.accepted_at.is_not(None),
            )
        )
        is not None
    )


def _select_shop(shops: list[Shop]) -> Shop | None:
    wanted = request.args.get("shop_id", type=int) or session.get("shop_id")
    for shop in shops:
        if shop.id == wanted:
            return shop
    return shops[0] if shops else None


def admin_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from app.auth import embedded

        if embedded.has_session_token(request):
            outcome = embedded.authenticate(request)
            if isinstance(outcome, Response):
                return outcome
            shop = outcome
            g.embedded = True
            g.account_wide = False
            g.member_id = None
            g.is_owner = False
            g.account_id = shop.account_id
            g.shops = [shop]
            g.shop = shop
            g.frame_ancestors = embedded.frame_ancestors_for(shop.domain)
        elif embedded.looks_embedded(request):
            return embedded.bounce(request)
        else:
            account_id = session.get("account_id")
            if not isinstance(account_id, int):
                if _wants_json():
                    return jsonify(error="login required"), 401
                return redirect(url_for("auth.login_required_page"))
            member_id = _session_member_id()
            if member_id is not None and not _member_still_there(account_id, member_id):
                session.clear()  # removed from the team: signed out
                if _wants_json():
                    return jsonify(error="login required"), 401
                return redirect(url_for("auth.login_required_page"))
            scope = _shop_scope()
            g.embedded = False
            g.account_wide = scope is None
            g.member_id = member_id
            g.is_owner = scope is None and member_id is None
            g.account_id = account_id
            g.shops = _load_shops(account_id, scope)
            g.shop = _select_shop(g.shops)
            g.frame_ancestors = "'none'"
        refresh_locale()  # the shop's locale is part of the language rule (app.i18n)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


_FORBIDDEN = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{{ url_for('static', filename='admin/admin.css') }}"></head>
<body class="is-standalone"><main class="page page-narrow"><section class="card">
<h1>{{ title }}</h1><p role="alert" data-forbidden>{{ body }}</p>
<p><a class="btn" href="{{ url_for('admin.home') }}">{{ back }}</a></p>
</section></main></body></html>"""


def owner_forbidden() -> tuple[Any, int]:
    """403: this takes the account owner (a team member or one shop's sign-in cannot)."""
    from flask import render_template_string
    from flask_babel import gettext

    if _wants_json():
        return jsonify(error="owner only"), 403
    page = render_template_string(
        _FORBIDDEN,
        lang=current_language(),
        title=gettext("Only the account owner can do this"),
        body=gettext(
            "Connecting, disconnecting and erasing stores and managing the team are kept for "
            "the owner of this Kizuna account. Ask them if this needs doing."
        ),
        back=gettext("Back to Kizuna"),
    )
    return page, 403


def refuse_non_owner() -> Any:
    """For a route only the owner's session reaches, outside `@admin_required`: a team member
    gets 403; anyone else (signed out, one shop's sign-in) is sent to sign in to the account."""
    if isinstance(session.get("account_id"), int) and _session_member_id() is not None:
        return owner_forbidden()
    return redirect(url_for("auth.login_required_page"))


def owner_required(view: F) -> F:
    """`@admin_required`, and then only the owner's account-wide session (else 403)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not g.get("is_owner"):
            return owner_forbidden()
        return view(*args, **kwargs)

    return admin_required(wrapper)  # type: ignore[return-value]
