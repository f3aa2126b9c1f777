"""HTTP routes of the simulated SendGrid: Mail Send, Email Activity, scopes, senders, controls.

Layer: connectors/sandbox (plain werkzeug). `/v3/...` answers as SendGrid does, faults apply
there only; `/_sandbox/...` is for the demo and tests. No access log: bodies carry addresses.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from connectors.sandbox.sendgrid.validation import error, mail_send_errors

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from connectors.sandbox.sendgrid.sandbox import OutboxMessage, SandboxSendGrid

MAX_BODY_BYTES = 30 * 1024 * 1024
RATE_LIMIT = 600
STATUS_MESSAGES = {
    400: "invalid request",
    401: "authorization required",
    403: "access forbidden",
    404: "not found",
    413: "content too large",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
_CONDITION = re.compile(
    r"""^\(?\s*
    (?:unique_args\['(?P<arg>[^']+)'\]|(?P<field>[a-z_]+))
    \s*(?:=\s*"(?P<value>[^"]*)"|\s+LIKE\s+'(?P<prefix>[^'%]*)%')
    \s*\)?$""",
    re.IGNORECASE | re.VERBOSE,
)
QUERY_FIELDS = frozenset({"msg_id", "from_email", "to_email", "subject", "status"})


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _errors(status: int, errors: list[dict[str, Any]], **headers: str) -> Response:
    return _json({"errors": errors}, status, headers)


def _status_error(status: int) -> Response:
    return _errors(status, [error(STATUS_MESSAGES.get(status, "error"), None)])


@dataclass(frozen=True)
class _Condition:
    field: str | None  # an Email Activity column, or None for a custom arg
    arg: str | None
    value: str | None  # exact match
    prefix: str | None  # LIKE 'prefix%'

    def holds(self, row: dict[str, Any], message: OutboxMessage) -> bool:
        actual = message.custom_args.get(self.arg) if self.arg else str(row[self.field or ""])
        if actual is None:
            return False
        if self.prefix is not None:
            return actual.startswith(self.prefix)
        return actual == self.value


def _parse_query(query: str) -> list[_Condition] | None:
    """A subset of the Email Activity query language: `a="x" AND unique_args['k']="y"` and
    `msg_id LIKE 'prefix%'`. None when the query uses anything else."""
    conditions = []
    for part in re.split(r"\s+AND\s+", query.strip(), flags=re.IGNORECASE):
        match = _CONDITION.match(part.strip())
        if match is None:
            return None
        name = (match["field"] or "").lower() or None
        if (name is not None and name not in QUERY_FIELDS) or (
            match["arg"] is not None and match["value"] is None
        ):
            return None
        conditions.append(_Condition(name, match["arg"], match["value"], match["prefix"]))
    return conditions


class SandboxApp:
    """The WSGI application of one `SandboxSendGrid`."""

    def __init__(self, sandbox: SandboxSendGrid) -> None:
        self.sandbox = sandbox
        self.url_map = Map(
            [
                Rule("/v3/mail/send", endpoint="mail_send", methods=["POST"]),
                Rule("/v3/messages", endpoint="messages", methods=["GET"]),
                Rule("/v3/scopes", endpoint="scopes", methods=["GET"]),
                Rule("/v3/verified_senders", endpoint="verified_senders", methods=["GET"]),
                Rule("/_sandbox/outbox", endpoint="outbox", methods=["GET"]),
                Rule("/_sandbox/outbox", endpoint="outbox_clear", methods=["DELETE"]),
                Rule("/_sandbox/outbox/<message_id>", endpoint="outbox_message", methods=["GET"]),
                Rule(
                    "/_sandbox/outbox/<message_id>/events",
                    endpoint="outbox_events",
                    methods=["POST"],
                ),
                Rule("/_sandbox/faults", endpoint="faults", methods=["POST"]),
                Rule("/_sandbox/public_key", endpoint="public_key", methods=["GET"]),
            ]
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        delay = 0.0
        try:
            endpoint, values = self.url_map.bind_to_environ(environ).match()
            fault = self.sandbox.take_fault() if request.path.startswith("/v3/") else None
            if fault is not None and fault.status is not None:
                response = self._fault_response(fault.status, fault.reset_in)
            else:
                delay = fault.delay if fault is not None else 0.0
                handler: Callable[..., Response] = getattr(self, f"on_{endpoint}")
                response = handler(request, **values)
        except NotFound:
            response = _status_error(404)
        except HTTPException as failure:
            status = failure.code or 500
            response = _errors(status, [error(failure.description or failure.name, None)])
        self.sandbox.record(request.method, request.path, response.status_code)
        if delay:
            time.sleep(delay)
        return response(environ, start_response)

    def _fault_response(self, status: int, reset_in: float) -> Response:
        if status == 429:
            reset = math.ceil(time.time() + reset_in)
            return _errors(
                429,
                [{"field": None, "message": "too many requests"}],
                **{
                    "X-RateLimit-Limit": str(RATE_LIMIT),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(reset),
                },
            )
        return _status_error(status)

    def _authenticate(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token.strip():
            return _status_error(401)
        expected = self.sandbox.api_key
        if expected is not None and not hmac.compare_digest(token.strip(), expected):
            return _errors(
                401,
                [error("The provided authorization grant is invalid, expired, or revoked", None)],
            )
        return None

    # --- SendGrid API ------------------------------------------------------------------------

    def on_mail_send(self, request: Request) -> Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _status_error(413)
        raw = request.get_data(cache=False)
        if len(raw) > MAX_BODY_BYTES:
            return _status_error(413)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        problems = mail_send_errors(body, now=time.time())
        if problems:
            return _errors(400, problems)
        sandbox_mode = ((body.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable")
        if sandbox_mode is True:
            return Response(status=200)  # validated only: nothing stored, no events
        message_id = self.sandbox.accept(body)
        response = Response(status=202)
        response.headers["X-Message-Id"] = message_id
        return response

    def on_messages(self, request: Request) -> Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        limit = request.args.get("limit", 10, type=int)
        if limit is None or not 1 <= limit <= 1000:
            return _errors(400, [error("limit must be between 1 and 1000", "limit")])
        query = request.args.get("query", "")
        conditions = _parse_query(query) if query else []
        if conditions is None:
            return _errors(400, [error("invalid query", "query")])
        rows = []
        for message in reversed(self.sandbox.outbox):
            row = self.sandbox.activity(message)
            if all(condition.holds(row, message) for condition in conditions):
                rows.append(row)
            if len(rows) == limit:
                break
        return _json({"messages": rows})

    def on_scopes(self, request: Request) -> Response:
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        return _json({"scopes": list(self.sandbox.scopes)})

    def on_verified_senders(self, request: Request) -> Response:
        """`limit`, `lastSeenID` and `id` filter as SendGrid's do; verified and not, by id."""
        refused = self._authenticate(request)
        if refused is not None:
            return refused
        limit = request.args.get("limit", type=int)
        last_seen = request.args.get("lastSeenID", type=int)
        only = request.args.get("id", type=int)
        senders = [
            sender
            for sender in self.sandbox.senders
            if (only is None or sender.id == only) and (last_seen is None or sender.id > last_seen)
        ]
        if limit is not None:
            senders = senders[: max(limit, 0)]
        return _json({"results": [sender.to_json() for sender in senders]})

    # --- sandbox controls --------------------------------------------------------------------

    def on_outbox(self, request: Request) -> Response:
        limit = request.args.get("limit", 50, type=int) or 50
        wanted = {
            key: request.args[key]
            for key in ("kizuna_message_id", "x_message_id", "to")
            if key in request.args
        }
        rows = []
        for message in reversed(self.sandbox.outbox):
            if "kizuna_message_id" in wanted and (
                message.kizuna_message_id != wanted["kizuna_message_id"]
            ):
                continue
            if "x_message_id" in wanted and message.x_message_id != wanted["x_message_id"]:
                continue
            if "to" in wanted and message.to_email.lower() != wanted["to"].lower():
                continue
            rows.append(message.to_json())
            if len(rows) >= max(limit, 1):
                break
        return _json({"messages": rows, "total": len(self.sandbox.outbox)})

    def on_outbox_clear(self, request: Request) -> Response:
        self.sandbox.clear_outbox()
        return Response(status=204)

    def on_outbox_message(self, request: Request, message_id: str) -> Response:
        message = self.sandbox.find(message_id)
        if message is None:
            raise NotFound()
        return _json(message.to_json())

    def on_outbox_events(self, request: Request, message_id: str) -> Response:
        message = self.sandbox.find(message_id)
        if message is None:
            raise NotFound()
        body = request.get_json(silent=True) or {}
        kinds = body.get("events") or ["processed", "delivered"]
        url = body.get("url") or self.sandbox.event_webhook_url
        if not url or not isinstance(kinds, list):
            return _errors(400, [error("events (a list) and a url are required", "url")])
        status = self.sandbox.emit_events(url, self.sandbox.events_for(message, kinds))
        return _json({"delivered_status": status})

    def on_faults(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        count = int(body.get("count", 1))
        if "delay" in body:
            self.sandbox.delay_next(float(body["delay"]), count)
        elif "status" in body:
            self.sandbox.fail_next(int(body["status"]), count, float(body.get("reset_in", 1.0)))
        else:
            return _errors(400, [error("status or delay is required", None)])
        return Response(status=204)

    def on_public_key(self, request: Request) -> Response:
        return _json({"public_key": self.sandbox.public_key_b64})


class _QuietHandler(WSGIRequestHandler):
    """No access log: query strings can carry addresses."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def serve_sandbox(
    sandbox: SandboxSendGrid, host: str = "127.0.0.1", port: int = 0
) -> tuple[BaseWSGIServer, str]:
    """Serve `sandbox` over HTTP in a daemon thread; stop it with `server.shutdown()`."""
    server = make_server(host, port, sandbox.wsgi_app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-sendgrid", daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_port}"
