"""The email blueprint: `/unsubscribe/<token>` (page and RFC 8058 one-click) and `/opt-in/<token>`.

Layer: web. GET never changes anything (mail scanners follow links); POST unsubscribes or
confirms through one service, which commits. The signed token is the authority; a bad one is 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import force_locale

from app.db import utcnow
from app.i18n import choose_language
from app.kizuna import db_session, kizuna
from app.models import Shop
from app.services import opt_in
from app.services.unsubscribe import read_token, unsubscribe_by_token

bp = Blueprint("email", __name__)


def _language(shop_id: int | None) -> str:
    """The page's language by the one rule (`app.i18n.choose_language`): the link's `lang`,
    else the browser's, else the shop's."""
    shop = db_session().get(Shop, shop_id) if shop_id is not None else None
    return choose_language(
        request.args.get("lang"),
        request.headers.get("Accept-Language"),
        shop.locale if shop is not None else None,
    )


def _page(template: str, **context: Any) -> str:
    """`template` rendered in the page's language (`context["lang"]`)."""
    with force_locale(context["lang"]):
        return render_template(template, **context)


def _shop_name(shop_id: int) -> str:
    shop = db_session().get(Shop, shop_id)
    return (shop.name or shop.domain) if shop is not None else ""


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str) -> tuple[str, int]:
    data = read_token(kizuna().config.secret_key, token)
    if data is None:
        return _page("email/unsubscribe_invalid.html", lang=_language(None)), 404
    return _page(
        "email/unsubscribe.html",
        lang=_language(data.shop_id),
        shop_name=_shop_name(data.shop_id),
        token=token,
    ), 200


@bp.post("/unsubscribe/<token>")
def unsubscribe_now(token: str) -> tuple[str, int]:
    runtime = kizuna()
    data = read_token(runtime.config.secret_key, token)
    if data is None or not unsubscribe_by_token(db_session(), runtime.config.secret_key, token):
        return _page("email/unsubscribe_invalid.html", lang=_language(None)), 404
    return _page(
        "email/unsubscribe_done.html",
        lang=_language(data.shop_id),
        shop_name=_shop_name(data.shop_id),
    ), 200


@bp.get("/opt-in/<token>")
def opt_in_page(token: str) -> tuple[str, int]:
    data = opt_in.read_token(kizuna().config.secret_key, token)
    if data is None:
        return _page("email/opt_in_page.html", state="invalid", lang=_language(None)), 404
    return _page(
        "email/opt_in_page.html",
        state="ask",
        lang=_language(data.shop_id),
        shop_name=_shop_name(data.shop_id),
    ), 200


@bp.post("/opt-in/<token>")
def opt_in_confirm(token: str) -> tuple[str, int]:
    confirmed = opt_in.confirm(db_session(), kizuna().config.secret_key, token, utcnow())
    if confirmed is None:
        return _page("email/opt_in_page.html", state="invalid", lang=_language(None)), 404
    return _page(
        "email/opt_in_page.html",
        state="done",
        lang=_language(confirmed.shop_id),
        shop_name=_shop_name(confirmed.shop_id),
    ), 200
