"""Flow step jobs (queue `flows`, job id `flow-<run id>-<step>`) and the flow sweeper.

Layer: jobs. A step re-checks every exit condition, then creates its `messages` row in its own
transaction before anything is sent (unique on run, step, customer): a second worker running the
same step finds the row and stops. The send itself is `jobs.send_email.send_message`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from app.db import utcnow
from app.kizuna import Kizuna
from app.services.flows import advance_run, runs_due, schedule_step
from app.services.winback import scan_active_shops
from jobs.context import kizuna_job

log = logging.getLogger(__name__)


@kizuna_job
def run_flow_step(runtime: Kizuna, run_id: int, step: int, now: datetime | None = None) -> str:
    """Advance run `run_id` to `step`; returns created, duplicate, stopped or exited:<reason>."""
    with runtime.db.session() as session:
        outcome = advance_run(session, run_id, step, now)
        if outcome == "duplicate":
            session.rollback()
        else:
            session.commit()
    log.info("flow step run_id=%s step=%s outcome=%s", run_id, step, outcome)
    return outcome


@kizuna_job
def sweep_flow_runs(runtime: Kizuna, every: float = 60.0) -> int:
    """Re-schedule overdue steps whose job was lost (Redis down at commit); safe to run twice."""
    now = utcnow()
    with runtime.db.session() as session:
        due = runs_due(session, now)
        for run in due:
            if run.next_step is not None:
                schedule_step(session, run, run.next_step, now)
        session.commit()
    return len(due)


@kizuna_job
def scan_winback(runtime: Kizuna, every: float = 86400.0) -> int:
    """Daily: start win-back runs for the lapsing customers of every active shop; safe twice."""
    with runtime.db.session() as session:
        started = scan_active_shops(session, utcnow())
        session.commit()
    log.info("winback scan started=%s", started)
    return started
