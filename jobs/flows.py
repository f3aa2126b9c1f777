"""RQ entry points of the flow tasks (queue `flows`).

Layer: jobs, thin: the work is `app.flows.tasks`. Scheduled and queued jobs name the dotted
paths `jobs.flows.<name>`, so they stay.
"""

from __future__ import annotations

from datetime import datetime

from app.flows import tasks
from app.kizuna import Kizuna
from jobs.context import kizuna_job


@kizuna_job
def run_flow_step(runtime: Kizuna, run_id: int, step: int, now: datetime | None = None) -> str:
    """Advance one run (jobs queued under the older per-run ids `flow-<run id>-<step>`)."""
    return tasks.run_flow_step(runtime, run_id, step, now)


@kizuna_job
def dispatch_due_steps(
    runtime: Kizuna,
    shop_id: int,
    flow_key: str,
    step: int,
    now: datetime | None = None,
    budget_s: float = tasks.DISPATCH_BUDGET_S,
) -> dict[str, int]:
    """Advance every due run of this shop, flow and step (`tasks.dispatch_due_steps`)."""
    return tasks.dispatch_due_steps(runtime, shop_id, flow_key, step, now, budget_s)


@kizuna_job
def sweep_flow_runs(runtime: Kizuna, every: float = 30.0, overdue_after: float = 60.0) -> int:
    """Re-schedule steps whose job was lost (`tasks.sweep_flow_runs`)."""
    return tasks.sweep_flow_runs(runtime, every, overdue_after)


@kizuna_job
def scan_winback(runtime: Kizuna, every: float = 86400.0) -> int:
    """Start win-back runs in every active shop (`tasks.scan_winback`)."""
    return tasks.scan_winback(runtime, every)


@kizuna_job
def scan_winback_shop(runtime: Kizuna, shop_id: int) -> int:
    """Start win-back runs in one shop (`tasks.scan_winback_shop`)."""
    return tasks.scan_winback_shop(runtime, shop_id)
