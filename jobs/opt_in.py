"""The RQ entry of a double opt-in confirmation email: `send_confirmation` (queue `email`, job id
`opt-in-<shop>-<request>-<nonce>`).

Layer: jobs, a thin entry: binds the app context and calls
`app.services.opt_in.send_confirmation`. Queued jobs are stored by dotted path, so
`jobs.opt_in.send_confirmation` keeps its name and arguments.
"""

from __future__ import annotations

from app.kizuna import Kizuna
from app.services import opt_in
from jobs.context import kizuna_job


@kizuna_job
def send_confirmation(runtime: Kizuna, request_id: int, nonce: str) -> str:
    """Send the confirmation of request `request_id`'s link `nonce`; → sent, skipped, failed."""
    return opt_in.send_confirmation(runtime, request_id, nonce)
