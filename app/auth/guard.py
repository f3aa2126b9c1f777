"""Who is looking at the admin: `@admin_required`.

Layer: web auth. Embedded (a Shopify session token) or standalone (the server-side session); sets
`g.account_id`, `g.shops`, `g.shop`, `g.embedded`. Every admin query must be scoped with
`g.shop` / `g.shops`; a code-grant or session-token sign-in sees its one shop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, redirect, request, session, url_for
from flask_babel import refresh as refresh_locale
from sqlalchemy import select

from app.kizuna import db_session
from app.models import Shop

F = Callable[..., Any]


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def _load_shops(account_id: int, only_shop: int | None) -> list[Shop]:
    query = select(Shop).where(Shop.account_id == account_id)
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
            scope = _shop_scope()
            g.embedded = False
            g.account_wide = scope is None
            g.account_id = account_id
            g.shops = _load_shops(account_id, scope)
            g.shop = _select_shop(g.shops)
            g.frame_ancestors = "'none'"
        refresh_locale()  # the shop's locale is part of the language rule (app.i18n)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
