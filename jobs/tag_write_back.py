"""Segment write-back runs (queue `sync`, job id `tag-write-back-<shop>-<run>-<part>`).

Layer: jobs, thin: the work is `services.tag_write_back.run`. A part that spends its time budget
enqueues the next part; a platform outage is retried with backoff (progress is kept per page),
and once the retries are spent, or the platform refuses our credentials, the run is marked
failed on the write-back page and the shop's status.
"""

from __future__ import annotations

import logging

from rq import get_current_job

from app.kizuna import Kizuna
from app.queueing import enqueue, job_id
from app.services import tag_write_back
from app.tasks import TAG_WRITE_BACK
from connectors.base import AuthenticationError, RetryableError
from jobs.context import kizuna_job

log = logging.getLogger(__name__)


@kizuna_job
def write_back_tags(runtime: Kizuna, shop_id: int, token: str, part: int = 0) -> str:
    """Continue the shop's write-back run `token`; returns how this part ended."""
    try:
        outcome = tag_write_back.run(runtime, shop_id, token)
    except AuthenticationError as error:
        tag_write_back.mark_failed(runtime, shop_id, token, error)
        return "failed"
    except RetryableError as error:
        job = get_current_job()
        if job is None or not job.retries_left:
            tag_write_back.mark_failed(runtime, shop_id, token, error)
            return "failed"
        log.warning("tag write-back will be retried shop=%s", shop_id)
        raise
    if outcome == "continue":
        enqueue(
            runtime.redis,
            TAG_WRITE_BACK,
            shop_id,
            token,
            part + 1,
            job_id=job_id("tag-write-back", shop_id, token, part + 1),
        )
    return outcome
