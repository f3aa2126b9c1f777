"""Running a job inside the Flask app, the way a request runs: `@kizuna_job`.

Layer: jobs infrastructure. Each job gets an app context and the runtime, takes plain ids and
reloads its rows; its log lines carry the job id and the request id it was enqueued under.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rq import get_current_job

from app.entry import get_app
from app.logs import job_context

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def kizuna_job(func: F) -> F:
    """Run `func(runtime, *args)` inside the app context; log with the job id, never payloads."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from app.kizuna import kizuna

        job = get_current_job()
        with (
            job_context(job.id if job else None, job.meta if job else None),
            get_app().app_context(),
        ):
            log.debug("job start name=%s id=%s", func.__name__, job.id if job else None)
            return func(kizuna(), *args, **kwargs)

    return wrapper  # type: ignore[return-value]
