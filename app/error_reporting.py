"""Optional error reporting to Sentry (`SENTRY_DSN`) for requests and RQ jobs.

Layer: infrastructure, set up once per process by `create_app()`. No personal data leaves: no
bodies, cookies, query strings, auth headers, local variables or database error text.
"""

from __future__ import annotations

from typing import Any

_DROPPED_HEADERS = frozenset(
    {"cookie", "authorization", "x-shopify-hmac-sha256", "x-wc-webhook-signature"}
)
# Their messages quote parameters and rows: only the exception type is reported.
_QUOTING_MODULES = ("sqlalchemy", "psycopg")


def scrub_event(event: dict[str, Any], _hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Remove what may hold personal data or secrets from a Sentry event (its `before_send`)."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value
                for name, value in headers.items()
                if name.lower() not in _DROPPED_HEADERS
            }
        url = request.get("url")
        if isinstance(url, str):
            request["url"] = url.split("?", 1)[0]
    event.pop("user", None)
    for exception in (event.get("exception") or {}).get("values") or []:
        if str(exception.get("module") or "").startswith(_QUOTING_MODULES):
            exception["value"] = ""
    for breadcrumb in (event.get("breadcrumbs") or {}).get("values") or []:
        if isinstance(breadcrumb, dict):
            breadcrumb.pop("data", None)
    return event


def init_error_reporting(dsn: str | None, *, environment: str) -> bool:
    """Start the Sentry client with the Flask and RQ integrations; False when `dsn` is unset."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[FlaskIntegration(), RqIntegration()],
        # What `send_default_pii=False` meant, spelled out (the SDK's current option for it).
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]
        traces_sample_rate=0.0,
    )
    return True
