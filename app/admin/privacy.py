"""Customers' data rights in the admin: data requests, a customer's export, a customer's erase.

Layer: web. `GET /app/privacy` lists the shop's `customers/data_request`s; `GET
/app/customers/<id>/export.json` downloads everything stored about a customer
(`services.customer_export`); `GET|POST /app/customers/<id>/erase` erases one WooCommerce
customer after the account owner types the customer's address (Shopify sends `customers/redact`
itself). Scoped to `g.shop`; the erase commits, then redirects.
"""

from __future__ import annotations

import json

from flask import Response, abort, g, redirect, render_template, request

from app.admin import bp
from app.admin.helpers import admin_url
from app.auth.guard import admin_required
from app.kizuna import db_session
from app.models import Customer
from app.services import customer_export, customer_reads


@bp.get("/privacy")
@admin_required
def privacy():  # type: ignore[no-untyped-def]
    if g.shop is None:
        abort(404)
    requests = customer_export.data_requests(db_session(), g.shop)
    return render_template("admin/privacy.html", requests=requests)


@bp.get("/customers/<int:customer_id>/export.json")
@admin_required
def customer_export_json(customer_id: int):  # type: ignore[no-untyped-def]
    if g.shop is None:
        abort(404)
    export = customer_export.export_customer(db_session(), g.shop, customer_id)
    if export is None:
        abort(404)
    body = json.dumps(export, ensure_ascii=False, indent=2)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-{customer_id}.json"',
        },
    )


def may_erase(customer: Customer | None) -> bool:
    """Erasing is for WooCommerce customers (Shopify sends its own redact), by the account's
    owner signed in to the standalone admin, and once."""
    shop = g.get("shop")
    return (
        customer is not None
        and shop is not None
        and shop.platform == "woocommerce"
        and bool(g.get("is_owner"))  # the owner's own sign-in: never staff, never a shop scope
        and customer.redacted_at is None
    )


bp.add_app_template_global(may_erase, "may_erase")


@bp.route("/customers/<int:customer_id>/erase", methods=["GET", "POST"])
@admin_required
def customer_erase(customer_id: int):  # type: ignore[no-untyped-def]
    if g.shop is None:
        abort(404)
    session = db_session()
    customer = customer_reads.get_customer(session, g.shop, customer_id)
    if customer is None or not may_erase(customer):
        abort(404)
    expected = (customer.email or "").strip().lower()
    if request.method == "GET":
        return render_template("admin/customer_erase.html", customer=customer, mismatch=False)
    typed = request.form.get("confirm_email", "").strip().lower()
    if not expected or typed != expected:
        page = render_template("admin/customer_erase.html", customer=customer, mismatch=True)
        return page, 400
    customer_export.erase_customer(session, g.shop, customer.id)
    session.commit()
    return redirect(admin_url("admin.customer", customer_id=customer.id, erased=1))
