"""Recovery after Redis comes back empty: run the sweepers at once, with no grace period.

Layer: jobs infrastructure, called by the scheduler each tick. The database is the truth; a
marker key without expiry tells that Redis lost its data. Sweeping what still has a job is
harmless: job ids are deterministic and every job re-checks its row.
"""

from __future__ import annotations

import logging
import uuid

import redis

from app.queueing import enqueue, job_id
from app.tasks import SWEEP_FLOW_RUNS, SWEEP_MESSAGES, SWEEP_WEBHOOK_EVENTS

log = logging.getLogger(__name__)

MARKER_KEY = "kizuna:redis-epoch"
RECOVERY_SWEEPS = (
    (SWEEP_WEBHOOK_EVENTS, (0.0,)),
    (SWEEP_FLOW_RUNS, (0.0, 0.0)),
    (SWEEP_MESSAGES, (0.0, 0.0)),
)


def recover_if_emptied(connection: redis.Redis, *, first_tick: bool = False) -> bool:
    """Run every sweeper now if Redis has lost its data since the last call; returns whether
    it did. On a scheduler's first tick a missing marker is also treated as lost data (a new
    deployment sweeps once: harmless)."""
    epoch = uuid.uuid4().hex
    if not connection.set(MARKER_KEY, epoch, nx=True):
        return False
    log.warning(
        "redis has no epoch marker%s: sweeping every queue now",
        " (first start)" if first_tick else " (restarted without its data)",
    )
    for task, args in RECOVERY_SWEEPS:
        enqueue(connection, task, *args, job_id=job_id("recover", task.name, epoch))
    return True
