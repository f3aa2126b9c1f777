"""The RQ entry of one recorded webhook delivery: `process_webhook_event` (queue `webhooks`).

Layer: jobs, a thin entry: binds the app context and calls
`app.services.process_webhook.process_webhook_event` (a batch of one). Workers claim events from
the inbox without a job; this entry serves jobs queued by earlier versions (stored by dotted
path, so `jobs.process_webhook.process_webhook_event` keeps its name and arguments).
"""

from __future__ import annotations

from app.kizuna import Kizuna
from app.services import process_webhook
from jobs.context import kizuna_job


@kizuna_job
def process_webhook_event(runtime: Kizuna, event_id: int) -> str:
    """Apply one recorded delivery → processed, ignored, retry, failed or skipped."""
    return process_webhook.process_webhook_event(runtime, event_id)
