"""All of an account's stores on one page (`/app/stores`), and disconnecting one.

Layer: web. The figures come from `app.services.store_overview` (shared with the JSON API), for
`g.shops`, the signed-in account's stores (inside the Shopify admin, the one store of the session).
Disconnecting is the owner's (`@owner_required`): a WooCommerce store is disconnected and erased
here once the merchant types its address (`services.disconnect_store`); a Shopify store is
guided to Shopify's own uninstall, whose webhooks stop and later erase it.
"""

from __future__ import annotations

from flask import abort, g, render_template, request

from app.admin import bp
from app.auth.guard import admin_required, owner_required
from app.db import utcnow
from app.kizuna import db_session, kizuna
from app.services.disconnect_store import (
    confirmation_matches,
    connected_store,
    disconnect_woocommerce,
    store_label,
)
from app.services.store_overview import overview


@bp.get("/stores")
@admin_required
def stores():  # type: ignore[no-untyped-def]
    return render_template("admin/stores.html", overview=overview(db_session(), g.shops, utcnow()))


def _disconnect_page(shop, *, error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    page = render_template(
        "admin/disconnect.html", store=shop, label=store_label(shop.domain), error=error
    )
    return page, status


@bp.route("/stores/<int:shop_id>/disconnect", methods=["GET", "POST"])
@owner_required
def disconnect_store(shop_id: int):  # type: ignore[no-untyped-def]
    runtime = kizuna()
    shop = connected_store(runtime, g.account_id, shop_id)
    if shop is None:
        abort(404)
    if request.method == "GET" or shop.platform != "woocommerce":
        return _disconnect_page(shop)
    if not confirmation_matches(shop.domain, request.form.get("confirm_domain", "")[:300]):
        return _disconnect_page(shop, error="disconnect.confirm_mismatch", status=400)
    result = disconnect_woocommerce(runtime, g.account_id, shop_id)
    if result is None:
        abort(404)
    return render_template(
        "admin/disconnected.html", result=result, label=store_label(result.domain)
    )
