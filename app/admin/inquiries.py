"""Admin routes for inquiries on a customer page, and the admin blueprint's CSRF hook.

Layer: web. Each route calls one service (which commits) and redirects. Every unsafe admin request
on the cookie session must carry the session CSRF token (`protect_session_posts`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, redirect, request

from app.admin import bp
from app.admin.helpers import admin_url
from app.auth.csrf import protect_session_posts
from app.auth.guard import admin_required
from app.kizuna import db_session
from app.models.inquiry import Inquiry
from app.services import customer_reads
from app.services import inquiries as service

bp.before_request(protect_session_posts)


def _back(customer_id: int, **notice: str) -> Any:
    return redirect(admin_url("admin.customer", customer_id=customer_id, **notice) + "#inquiries")


@bp.post("/customers/<int:customer_id>/inquiries")
@admin_required
def log_inquiry(customer_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    if g.shop is None or customer_reads.get_customer(session, g.shop, customer_id) is None:
        abort(404)
    data = service.InquiryInput(
        channel=request.form.get("channel", ""),
        kind=request.form.get("kind", ""),
        subject=request.form.get("subject", ""),
        notes=request.form.get("notes", ""),
    )
    try:
        service.log_inquiry(session, g.shop.id, customer_id, data, account_id=g.account_id)
    except service.InquiryError as error:
        return _back(customer_id, inquiry_error=error.problem)
    return _back(customer_id, inquiry="logged")


@bp.post("/customers/<int:customer_id>/inquiries/<int:inquiry_id>/resolve")
@admin_required
def resolve_inquiry(customer_id: int, inquiry_id: int):  # type: ignore[no-untyped-def]
    if g.shop is None:
        abort(404)
    inquiry = service.resolve_inquiry(db_session(), g.shop.id, inquiry_id, customer_id=customer_id)
    if inquiry is None:
        abort(404)
    return _back(customer_id, inquiry="resolved")


@bp.app_template_global("customer_inquiries")
def customer_inquiries(customer: Any) -> list[Inquiry]:
    shop = g.get("shop")
    if shop is None:
        return []
    return service.customer_inquiries(db_session(), shop.id, customer.id)
