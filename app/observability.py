"""Wires logs, request ids, metrics and error reporting into the Flask app.

Layer: web wiring, called once by `create_app()`. Every response carries `X-Request-Id` (the
caller's when well-formed, else a new one); log lines of the request and of the jobs it enqueues
carry it. Webhook intake is counted and timed here, whatever the route answered (buffered:
no request waits on Redis for it).
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from app.error_reporting import init_error_reporting
from app.kizuna import Kizuna
from app.logs import (
    REQUEST_ID_HEADER,
    bind_request_id,
    configure_logging,
    request_id_from,
    reset_request_id,
)
from app.metrics import bp as metrics_bp
from app.metrics import install_api_problem_counter, record_soon

_WEBHOOK_PLATFORMS = {
    "webhooks.shopify_webhook": "shopify",
    "webhooks.woocommerce_webhook": "woocommerce",
    "webhooks.sendgrid_events": "sendgrid",
}


def init_observability(app: Flask, runtime: Kizuna) -> None:
    config = runtime.config
    configure_logging(config.log_format)
    init_error_reporting(
        config.sentry_dsn, environment="development" if config.embedded else "production"
    )
    install_api_problem_counter(runtime)
    app.register_blueprint(metrics_bp)

    @app.before_request
    def _bind_request_id() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.request_id_token = bind_request_id(g.request_id)
        g.request_started = time.perf_counter()

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers[REQUEST_ID_HEADER] = g.request_id
        platform = _WEBHOOK_PLATFORMS.get(request.endpoint or "")
        if platform is not None and "request_started" in g:
            elapsed = time.perf_counter() - g.request_started
            labels = {"platform": platform}
            record_soon(
                runtime.redis,
                counts=[("kizuna_webhook_intake", {**labels, "status": str(response.status_code)})],
                observations=[("kizuna_webhook_intake_seconds", labels, elapsed)],
            )
        return response

    @app.teardown_request
    def _unbind_request_id(_error: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            reset_request_id(token)
