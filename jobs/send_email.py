"""RQ entry point of the send step (queue `email`, job id `send-<message id>[-<ts>]`).

Layer: jobs, thin: the work is `app.flows.send`. Queued jobs name the dotted path
`jobs.send_email.send_message`, so it stays.
"""

from __future__ import annotations

from datetime import datetime

from app.flows import send
from app.flows.send import deliver, sendgrid_client
from app.kizuna import Kizuna
from jobs.context import kizuna_job

__all__ = ["deliver", "send_message", "sendgrid_client"]


@kizuna_job
def send_message(runtime: Kizuna, message_id: int, now: datetime | None = None) -> str:
    """Send one pending message (`app.flows.send.send_message`)."""
    return send.send_message(runtime, message_id, now)
