"""The RQ entry of the webhook sweeper: `sweep_webhook_events` (queue `webhooks`, run by the
scheduler).

Layer: jobs, a thin entry: binds the app context and calls
`app.services.webhook_sweep.sweep_webhook_events`. Queued jobs are stored by dotted path, so
`jobs.sweeper.sweep_webhook_events` keeps its name and arguments.
"""

from __future__ import annotations

from app.kizuna import Kizuna
from app.services import webhook_sweep
from jobs.context import kizuna_job


@kizuna_job
def sweep_webhook_events(runtime: Kizuna, older_than: float = 30.0, limit: int = 50_000) -> int:
    """Process due pending events received more than `older_than` seconds ago; → how many."""
    return webhook_sweep.sweep_webhook_events(runtime, older_than, limit)
