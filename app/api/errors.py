"""JSON errors of the API and the guard that turns the admin guard's refusals into them.

Layer: web. The admin guard answers a missing login with a redirect (pages) and a bad session
token with a bare 401 (App Bridge retries on `X-Shopify-Retry-Invalid-Session-Request`); an API
client gets `{"error": ..., "message": ...}` with the same status, keeping that retry header.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, g, jsonify, make_response, request
from werkzeug.exceptions import HTTPException, NotFound

from app.api import bp
from app.auth.embedded import RETRY_HEADER
from app.auth.guard import admin_required
from app.request_guards import InputRefused

F = Callable[..., Any]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def bad_parameter(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"{name}: {message}")


def not_found(message: str = "Not found.") -> ApiError:
    return ApiError(404, "not_found", message)


def api_required(view: F) -> F:
    """`admin_required` for JSON clients: a logged-in account with a shop, or a JSON error."""

    def with_shop(*args: Any, **kwargs: Any) -> Any:
        if g.shop is None:
            raise ApiError(404, "no_shop", "This account has no connected store yet.")
        return view(*args, **kwargs)

    guarded = admin_required(functools.wraps(view)(with_shop))

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = guarded(*args, **kwargs)
        if "account_id" in g:
            return result
        # Refused by the guard: a redirect to the login page or the embedded bounce, or a 401.
        refused = make_response(result)
        status = refused.status_code
        if status < 400:
            response = error_response(401, "unauthorized", "Log in or send a session token.")
        elif status == 401:
            response = error_response(401, "unauthorized", "The session token was refused.")
        else:
            response = error_response(status, "auth_failed", "The store could not be reached.")
        if RETRY_HEADER in refused.headers:
            response.headers[RETRY_HEADER] = refused.headers[RETRY_HEADER]
        return response

    return wrapper  # type: ignore[return-value]


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message)


@bp.errorhandler(InputRefused)
def _input_refused(error: InputRefused) -> Response:
    return error_response(error.code or 400, error.error, error.description or error.name)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    code = (error.name or "error").lower().replace(" ", "_")
    return error_response(error.code or 500, code, error.description or error.name)


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def _unknown(_rest: str) -> Response:
    # Under /api/v1 even an unknown path answers JSON, not the site's HTML 404.
    return error_response(404, "not_found", "No such endpoint.")


@bp.app_errorhandler(NotFound)
def _unrouted(error: NotFound) -> Response | HTTPException:
    # A path the URL map cannot even match (a newline in a segment, say) never reaches
    # `_unknown`; under /api/v1 it still answers JSON. Elsewhere the site's own 404 stays.
    if request.path.startswith(f"{bp.url_prefix}/"):
        return error_response(404, "not_found", "No such endpoint.")
    from app.error_pages import http_error_page

    return http_error_page(error)


@bp.after_request
def _no_store(response: Response) -> Response:
    # Responses hold personal data: never cached by the browser or a proxy.
    response.headers["Cache-Control"] = "private, no-store"
    return response
