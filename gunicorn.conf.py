"""Gunicorn settings (`gunicorn -c gunicorn.conf.py "app:create_app()"`), all from the environment.

Threaded workers (gthread): a slow client holds one connection, not a whole worker, so a few
dozen clients trickling bodies cannot starve `/healthz` or webhook intake. The access log names
the path without its query string (login links and unsubscribe links carry tokens there) and
never a client's cookies or credentials.
"""

from __future__ import annotations

import os
import sys

from gunicorn.glogging import Logger

# The app's packages sit beside this file, wherever gunicorn is started from.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from app.logs import JsonFormatter


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise SystemExit(f"{name} must be an integer: got {raw!r}") from error
    if value < 1:
        raise SystemExit(f"{name} must be at least 1: got {value}")
    return value


bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = _int("WEB_CONCURRENCY", 2)
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 8)
# Connections waiting for a thread; the gthread worker reads a request only once a thread is free,
# and each thread is freed by `timeout` at the latest.
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak never takes a dyno down.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)
limit_request_line = 8190
# The proxies whose X-Forwarded-* gunicorn believes (the app applies its own ProxyFix too).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Same rule as the app's LOG_FORMAT: JSON in production, text when embedded or in development.
_LOCAL_RUN = not os.environ.get("DATABASE_URL", "").strip() or (
    os.environ.get("KIZUNA_ENV", "").strip().lower() == "development"
)
LOG_FORMAT = os.environ.get("LOG_FORMAT", "").strip().lower() or ("text" if _LOCAL_RUN else "json")


class KizunaGunicornLogger(Logger):
    """Gunicorn's own lines (start-up, worker events, access) as JSON when the app logs JSON."""

    def setup(self, cfg: object) -> None:
        super().setup(cfg)
        if LOG_FORMAT == "json":
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(JsonFormatter())


logger_class = KizunaGunicornLogger
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# %(U)s is the path alone: query strings (tokens, emails) never reach the access log; nor does
# the client's address (personal data): the request id ties a line to the app's own lines.
access_log_format = '"%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
