"""Input limits every request meets before a view parses it.

Layer: web wiring (`create_app`). Body caps per route, header, query and form caps, no NUL or
invalid UTF-8, bounded JSON depth and numbers, path ids the database holds; a refused value is a
4xx that names its reason, and the input is never logged.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

MAX_DB_INTEGER = 2**31 - 1  # ids and counts are PostgreSQL `integer`
MAX_DB_BIGINT = 2**63 - 1

KIB = 1024
# Bodies are small unless a platform sends them: forms and JSON from the admin and the API fit in
# these. `None`: the view reads and checks its own body before parsing it — webhooks (signature
# first; the app-wide `MAX_CONTENT_LENGTH`, 5 MiB, covers the largest order and event batches
# Shopify, WooCommerce and SendGrid post) and the storefront capture (its own 32 KiB cap, read
# from the stream).
DEFAULT_BODY_LIMIT = 256 * KIB
BODY_LIMITS = {
    "storefront.capture": None,
    "storefront_events.events": None,
    "storefront_events.back_in_stock": None,
    "auth.login_required_page": 16 * KIB,
    "auth.woocommerce_callback": 16 * KIB,
    "auth.logout": 16 * KIB,
    "email.unsubscribe_now": 16 * KIB,
    "email.opt_in_confirm": 16 * KIB,
    "api.create_segment": 64 * KIB,
    "api.count_segment": 64 * KIB,
    "webhooks.shopify_webhook": None,
    "webhooks.woocommerce_webhook": None,
    "webhooks.sendgrid_events": None,
}
MAX_HEADER_LENGTH = 8 * KIB  # what gunicorn and most proxies accept for one header line
MAX_QUERY_STRING = 16 * KIB
MAX_QUERY_VALUE = 4 * KIB  # an App Bridge id_token or host parameter is well below
MAX_FORM_VALUE = 20_000  # characters; fields with a column of their own are capped by the view
MAX_JSON_DEPTH = 32
MAX_JSON_STRING = 20_000
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class InputRefused(HTTPException):
    """A request refused by a guard: its status, an error code (the API's `error`) and a reason
    the caller can act on."""

    def __init__(self, status: int, reason: str, error: str = "invalid_body") -> None:
        super().__init__(description=reason)
        self.code = status
        self.error = error


def db_integer(raw: str) -> int:
    """A query or form value as an id the database can hold; `ValueError` otherwise, so
    `request.args.get(name, type=db_integer)` treats an out-of-range id as absent."""
    if not raw.isascii() or not raw.strip().isdigit():
        raise ValueError("not an id")
    value = int(raw)
    if not 0 < value <= MAX_DB_INTEGER:
        raise ValueError("out of range")
    return value


def install(app: Flask) -> None:
    """Register the guards and their error answers."""
    app.before_request(check_request)
    app.register_error_handler(InputRefused, _refused)
    app.register_error_handler(DataError, _unstorable)


def check_request() -> None:
    limit = BODY_LIMITS.get(request.endpoint or "", DEFAULT_BODY_LIMIT)
    if limit is not None:
        request.max_content_length = limit
    cap = request.max_content_length
    if cap is not None and request.content_length is not None and request.content_length > cap:
        raise InputRefused(413, f"The request body is larger than {cap} bytes.", "body_too_large")
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and value > MAX_DB_INTEGER:
            raise InputRefused(404, "No such object.", "not_found")  # no row can have that id
    _check_headers()
    _check_path()
    _check_query()
    has_body = request.content_length or request.headers.get("Transfer-Encoding")
    if has_body and limit is not None:
        _check_body()


def _check_headers() -> None:
    for name, value in request.headers.items():
        if len(value) > MAX_HEADER_LENGTH:
            raise InputRefused(
                431,
                f"The header {name[:40]} is longer than {MAX_HEADER_LENGTH} bytes.",
                "invalid_header",
            )
        if "\x00" in value:
            raise InputRefused(
                400, f"The header {name[:40]} contains a NUL character.", "invalid_header"
            )


def _check_path() -> None:
    raw = request.environ.get("PATH_INFO", "").encode("latin-1", "replace")
    _check_text_bytes(raw, "The path", "invalid_path")


def _check_query() -> None:
    query = request.environ.get("QUERY_STRING", "")
    if len(query) > MAX_QUERY_STRING:
        raise InputRefused(
            414,
            f"The query string is longer than {MAX_QUERY_STRING} characters.",
            "invalid_parameter",
        )
    _check_pairs(
        query.encode("latin-1", "replace"), "query parameter", MAX_QUERY_VALUE, "invalid_parameter"
    )


def _check_pairs(raw: bytes, kind: str, max_length: int, error: str = "invalid_body") -> None:
    """`name=value&…` bytes: each name and value valid UTF-8, without NUL, within its cap."""
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        label = f"The {kind} {_printable(name)}"
        _check_text_bytes(unquote_to_bytes(name.replace(b"+", b" ")), label, error)
        text = _check_text_bytes(unquote_to_bytes(value.replace(b"+", b" ")), label, error)
        if len(text) > max_length:
            raise InputRefused(400, f"{label} is longer than {max_length} characters.", error)


def _check_text_bytes(raw: bytes, label: str, error: str) -> str:
    if b"\x00" in raw:
        raise InputRefused(400, f"{label} contains a NUL character.", error)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputRefused(400, f"{label} is not valid UTF-8.", error) from None


def _printable(name: bytes) -> str:
    text = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
    return repr("".join(c for c in text[:40] if c.isprintable()))


def _check_body() -> None:
    data = request.get_data(cache=True)  # the view reads the same bytes (or the form from them)
    if not data:
        return
    mimetype = request.mimetype
    if mimetype == FORM_TYPES[0]:
        _check_pairs(data, "form field", MAX_FORM_VALUE)
    elif mimetype == FORM_TYPES[1]:
        for name, value in request.form.items(multi=True):
            label = f"The form field {name[:40]!r}"
            if "\x00" in name or "\x00" in value:
                raise InputRefused(400, f"{label} contains a NUL character.")
            if len(value) > MAX_FORM_VALUE:
                raise InputRefused(400, f"{label} is longer than {MAX_FORM_VALUE} characters.")
    elif data.lstrip()[:1] in (b"{", b"["):
        # Whatever its declared type: some views parse the body as JSON regardless.
        _check_json(data)


def _check_json(data: bytes) -> None:
    try:
        parsed = json.loads(data)
    except RecursionError:
        raise InputRefused(400, f"The JSON body nests deeper than {MAX_JSON_DEPTH}.") from None
    except UnicodeDecodeError:
        raise InputRefused(400, "The body is not valid UTF-8.") from None
    except ValueError:
        return  # not JSON after all: the view answers its own 400
    # Iterative, so that a body as deep as the parser allows cannot exhaust the stack here.
    stack: list[tuple[Any, int]] = [(parsed, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise InputRefused(400, f"The JSON body nests deeper than {MAX_JSON_DEPTH}.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((item, depth + 1) for _, item in items)
            if isinstance(value, dict):
                stack.extend((key, depth + 1) for key in value)
        else:
            _check_json_scalar(value)


def _check_json_scalar(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise InputRefused(400, "A JSON string contains a NUL character.")
        if len(value) > MAX_JSON_STRING:
            raise InputRefused(400, f"A JSON string is longer than {MAX_JSON_STRING} characters.")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not -MAX_DB_BIGINT <= value <= MAX_DB_BIGINT:
            raise InputRefused(400, "A JSON number is too large.")
    elif isinstance(value, float) and not math.isfinite(value):
        raise InputRefused(400, "A JSON number is too large or not finite.")


def _refused(error: InputRefused) -> Response:
    status = error.code or 400
    if request.path.startswith("/api/") or request.is_json:
        response = jsonify(error=error.error, message=error.description)
    else:
        response = Response(f"{error.description}\n", mimetype="text/plain")
    response.status_code = status
    return response


def _unstorable(error: DataError) -> Response:
    # The last line behind the limits: PostgreSQL refused a value (out of range, too long) that
    # came from the request. The statement and its parameters hold input: never logged.
    code = getattr(error.orig, "sqlstate", None)
    log.warning("value refused by the database endpoint=%s sqlstate=%s", request.endpoint, code)
    return _refused(
        InputRefused(400, "A value is out of the range this store can hold.", "value_out_of_range")
    )
