"""The recommendation settings page: `GET|POST /app/flows/recommendations` (durable or
consumable collections and product types, the durable hold period) and
`POST /app/flows/recommendations/supply` (products' days of supply, a page at a time).

Layer: web. Validates and saves through `services.recommendation_settings`, scoped to the
viewed shop; commits, then redirects (a reload never re-submits). A form with errors is shown
again with what was typed, answered 400.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import g, redirect, render_template, request

from app.admin import bp
from app.admin.helpers import admin_url
from app.auth.csrf import csrf_protect
from app.auth.guard import admin_required
from app.domain.durable_goods import GROUPINGS, MAX_HOLD_DAYS
from app.kizuna import db_session
from app.services import recommendation_settings as service

log = logging.getLogger(__name__)


def _page_number() -> int:
    raw = request.values.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) <= 6 and int(raw) > 0 else 1


def _query() -> str:
    return " ".join(str(request.values.get("q", "")).split())[: service.MAX_QUERY]


def _render(status: int = 200, **overrides: Any) -> Any:
    session = db_session()
    collections, types = service.groups(session, g.shop.id)
    q, page = _query(), _page_number()
    products, more = service.products_page(session, g.shop.id, q, page)
    context: dict[str, Any] = {
        "settings": service.load(session, g.shop.id),
        "collections": collections,
        "types": types,
        "products": products,
        "more": more,
        "q": q,
        "page": page,
        "groupings": GROUPINGS,
        "max_hold_days": MAX_HOLD_DAYS,
        "max_supply_days": service.MAX_SUPPLY_DAYS,
        "rule": service.DEFAULT_RULE,
        "posted": {},
        "errors": {},
        "saved": request.args.get("saved", ""),
    }
    context.update(overrides)
    return render_template("admin/recommendation_settings.html", **context), status


@bp.route("/flows/recommendations", methods=["GET", "POST"])
@admin_required
@csrf_protect
def recommendation_settings():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    if request.method == "GET":
        return _render()
    session = db_session()
    collections, types = service.groups(session, g.shop.id)
    form, errors = service.validate_groups(request.form, [*collections, *types])
    if form is None:
        posted = {name: str(value)[:100] for name, value in request.form.items()}
        return _render(400, errors=errors, posted=posted)
    service.save_groups(session, g.shop.id, form)
    session.commit()
    log.info("recommendation settings saved shop_id=%s", g.shop.id)
    return redirect(admin_url("admin.recommendation_settings", saved="groups"))


@bp.route("/flows/recommendations/supply", methods=["POST"])
@admin_required
@csrf_protect
def product_supply():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    session = db_session()
    values, errors = service.validate_supply(request.form, session, g.shop.id)
    if values is None:
        posted = {name: str(value)[:100] for name, value in request.form.items()}
        return _render(400, errors=errors, posted=posted)
    service.save_supply(session, g.shop.id, values)
    session.commit()
    log.info("days of supply saved shop_id=%s products=%s", g.shop.id, len(values))
    page = _page_number()
    return redirect(
        admin_url(
            "admin.recommendation_settings",
            saved="supply",
            q=_query() or None,
            page=page if page > 1 else None,
            _anchor="supply",
        )
    )
