"""The RQ entry of the message sweeper: `sweep_messages` (queue `email`, run by the scheduler).

Layer: jobs, a thin entry: binds the app context and calls `app.flows.tasks.sweep_messages`.
Queued jobs are stored by dotted path, so `jobs.message_sweep.sweep_messages` keeps its name.
"""

from __future__ import annotations

from app.flows import tasks
from app.kizuna import Kizuna
from jobs.context import kizuna_job


@kizuna_job
def sweep_messages(
    runtime: Kizuna, every: float = 30.0, lost_after: float = tasks.LOST_AFTER.total_seconds()
) -> dict[str, int]:
    """Re-enqueue lost pending sends; mark abandoned `sending` rows `unknown`."""
    return tasks.sweep_messages(runtime, every, lost_after)
