"""Process logging: one line per event, JSON or text, with request and job ids.

Layer: infrastructure. A request's id follows it into the jobs it enqueued. Lines hold messages
and ids only: exception text is left out of JSON (database errors quote rows).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("json", "text")
REQUEST_ID_HEADER = "X-Request-Id"
# Ids from a proxy or a client are kept when they cannot smuggle anything into a log line.
_WELL_FORMED_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(job_id)s] %(message)s"

_request_id: ContextVar[str | None] = ContextVar("kizuna_request_id", default=None)
_job_id: ContextVar[str | None] = ContextVar("kizuna_job_id", default=None)


def request_id_from(header_value: str | None) -> str:
    """The incoming id when well-formed, else a new one."""
    if header_value and _WELL_FORMED_REQUEST_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(value: str | None) -> Any:
    """Set the id for this context; returns the token `reset_request_id` takes."""
    return _request_id.set(value)


def reset_request_id(token: Any) -> None:
    _request_id.reset(token)


def job_meta() -> dict[str, str]:
    """RQ job meta carrying the current request id to the job (empty outside a request)."""
    request_id = _request_id.get()
    return {"request_id": request_id} if request_id else {}


@contextmanager
def job_context(job_id: str | None, meta: dict[str, Any] | None) -> Iterator[None]:
    """Log lines inside carry the job id and the request id the job was enqueued under."""
    request_id = (meta or {}).get("request_id")
    request_token = _request_id.set(request_id if isinstance(request_id, str) else None)
    job_token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(job_token)
        _request_id.reset(request_token)


class ContextIdsFilter(logging.Filter):
    """Adds `request_id` and `job_id` to every record (None outside a request or job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.job_id = _job_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids; exception type and frames."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "job_id"):
            value = getattr(record, name, None)
            if value:
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            kind, _error, tb = record.exc_info
            line["exc_type"] = kind.__name__
            line["stack"] = "".join(traceback.format_tb(tb))
        return json.dumps(line, ensure_ascii=False, default=str)


def make_handler(log_format: str, stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextIdsFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    handler.set_name("kizuna")
    return handler


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Route the root logger to one Kizuna handler in `log_format` (idempotent)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "kizuna":
            root.removeHandler(existing)
    root.addHandler(make_handler(log_format))
    root.setLevel(level)
