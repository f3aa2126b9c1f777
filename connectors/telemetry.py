"""Platform API problems (errors, throttles) reported by the connectors to one observer.

Layer: connectors, no I/O of its own: the app installs the observer (`app.metrics`). Without one,
reports are dropped; an observer's failure never fails the call that reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

ApiProblemObserver = Callable[[str, str], None]
_observer: ApiProblemObserver | None = None


def set_api_problem_observer(observer: ApiProblemObserver | None) -> None:
    global _observer
    _observer = observer


def report_api_problem(service: str, kind: str) -> None:
    """Count one problem: `service` shopify|woocommerce|sendgrid, `kind` from `problem_kind`."""
    observer = _observer
    if observer is None:
        return
    try:
        observer(service, kind)
    except Exception as error:
        log.debug("api problem not counted service=%s error=%s", service, type(error).__name__)


def problem_kind(status: int | None) -> str:
    """The kind of a failed call from its HTTP status (None: no answer)."""
    if status is None:
        return "network"
    if status == 429:
        return "throttled"
    if status in (401, 403):
        return "auth"
    return "server" if status >= 500 else "client"
