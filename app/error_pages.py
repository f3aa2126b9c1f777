"""Kizuna's HTML error pages (404, 405, 500, the CSRF refusal, a failed managed install).

Layer: web wiring, registered by `create_app`. Under `/api/v1` errors stay JSON (`app.api.errors`).
A page answered inside the Shopify admin's frame loads App Bridge and may be framed by that shop's
admin: never `frame-ancestors 'none'` there, which would leave the merchant a blank frame.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, make_response, render_template, request, url_for
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from connectors.shopify.domains import normalize_shop_domain

log = logging.getLogger(__name__)

_JSON_PREFIXES = ("/api/", "/webhooks/", "/storefront/", "/healthz", "/metrics")


def _in_shopify_admin() -> bool:
    from app.auth.embedded import shown_in_shopify_admin

    return shown_in_shopify_admin(request)


def _frame_ancestors() -> str:
    from app.auth.embedded import frame_ancestors_for

    shop = g.get("shop")
    domain = shop.domain if shop is not None else normalize_shop_domain(request.args.get("shop"))
    return frame_ancestors_for(domain)


def _home_url(in_frame: bool) -> str:
    if not in_frame:
        return url_for("admin.home")
    kept: dict[str, Any] = {"embedded": "1"}
    kept.update({k: v for k in ("shop", "host", "locale") if (v := request.args.get(k))})
    return url_for("admin.home", **kept)


def prepare_for_shopify_admin() -> bool:
    """True when this answer is shown inside the Shopify admin; it may then be framed by it."""
    in_frame = _in_shopify_admin()
    if in_frame:
        g.frame_ancestors = _frame_ancestors()
    return in_frame


def error_page(status: int, title: str, body: str) -> Response:
    """An HTML error page with a way back to the admin, in the frame when shown there."""
    in_frame = prepare_for_shopify_admin()
    page = render_template(
        "admin/error.html",
        status=status,
        title=title,
        body=body,
        in_shopify_admin=in_frame,
        home_url=_home_url(in_frame),
    )
    response = make_response(page, status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _texts(code: int) -> tuple[str, str]:
    if code == 404:
        return gettext("Page not found"), gettext(
            "This page does not exist or is no longer available."
        )
    if code == 405:
        return gettext("Not allowed"), gettext("This page cannot be used that way.")
    if code >= 500:
        return gettext("Something went wrong"), gettext(
            "Kizuna could not show this page. Try again in a moment."
        )
    return gettext("The request could not be handled"), gettext(
        "Go back and try again; if it keeps happening, reload the page."
    )


def http_error_page(error: HTTPException) -> Response | HTTPException:
    """The site's page for an HTTP error; the error itself (werkzeug's answer) for JSON paths."""
    if request.path.startswith(_JSON_PREFIXES):
        return error
    code = error.code or 500
    title, body = _texts(code)
    response = error_page(code, title, body)
    if code == 405 and error.response is None:
        allowed = getattr(error, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def install(app: Flask) -> None:
    """HTML pages for HTTP errors outside the JSON paths (blueprint handlers come first)."""
    app.register_error_handler(HTTPException, http_error_page)
