"""CSRF protection for the standalone admin's cookie session: one token per session.

Layer: web auth. Compared in constant time; renewed on login. Requests authenticated by a Shopify
session token carry no cookie credentials and are not checked.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Response, render_template_string, request, session
from flask_babel import gettext

from app.i18n import current_language

log = logging.getLogger(__name__)

CSRF_SESSION_KEY = "csrf_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

F = Callable[..., Any]

_REFUSED = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="{{ url_for('static', filename='admin/admin.css') }}"></head>
<body class="is-standalone"><main class="page page-narrow"><section class="card">
<h1>{{ title }}</h1><p role="alert">{{ body }}</p>
<p><a class="btn" href="{{ url_for('auth.login_required_page') }}">{{ back }}</a></p>
</section></main></body></html>"""


def csrf_token() -> str:
    """This session's token, created on first use (templates call it as `csrf_token()`)."""
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


def csrf_refused() -> tuple[str, int]:

    log.info("csrf token refused path=%s", request.path)
    page = render_template_string(
        _REFUSED,
        lang=current_language(),
        title=gettext("This form has expired"),
        body=gettext(
            "The page was open too long or came from another site. Go back, reload the page "
            "and submit it again."
        ),
        back=gettext("Back to Kizuna"),
    )
    return page, 400


def _needs_check() -> bool:
    if request.method not in UNSAFE_METHODS:
        return False
    from app.auth.embedded import has_session_token

    return not has_session_token(request)


def protect_session_posts() -> tuple[str, int] | Response | None:
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
