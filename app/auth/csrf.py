"""CSRF protection for the standalone admin's cookie session: one token per session.

Layer: web auth. Compared in constant time; renewed on login. Requests carrying a valid Shopify
session token in `Authorization: Bearer` (the embedded admin's fetches) are not checked: they
have no cookie credentials and the signed token is the proof. An `id_token` in the query is not
enough for an unsafe request.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Response, g, request, session
from flask_babel import gettext

log = logging.getLogger(__name__)

CSRF_SESSION_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

F = Callable[..., Any]


def csrf_token() -> str:
    """This session's token, created on first use (templates call it as `csrf_token()`).

    Inside the Shopify admin there is no cookie session: the page's forms are sent with the
    session token instead, and no session is created for them (empty string)."""
    if g.get("embedded"):
        return ""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def rotate_csrf_token() -> str:
    """A fresh token, after the session changed hands (login)."""
    session.pop(CSRF_SESSION_KEY, None)
    return csrf_token()


def csrf_valid(given: str | None = None) -> bool:
    """True when the request (or `given`) carries this session's token."""
    if given is None:
        given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def csrf_refused() -> Response:
    from app.error_pages import error_page

    log.info("csrf token refused path=%s", request.path)
    return error_page(
        400,
        gettext("This form has expired"),
        gettext(
            "The page was open too long or came from another site. Go back, reload the page "
            "and submit it again."
        ),
    )


def _needs_check() -> bool:
    """Unsafe requests need the token, except those proven by a valid session token in
    `Authorization: Bearer` (a header no other site can make a browser send)."""
    if request.method not in UNSAFE_METHODS:
        return False
    from app.auth.embedded import bearer_is_valid

    return not bearer_is_valid(request)


def protect_session_posts() -> Response | None:
    """`before_request` hook: refuse an unsafe request of the cookie session without the token."""
    if _needs_check() and not csrf_valid():
        return csrf_refused()
    return None


def csrf_protect(view: F) -> F:
    """Decorator: the view runs for an unsafe method only with this session's token."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        refused = protect_session_posts()
        return refused if refused is not None else view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
