"""When a shop's daily job is due: the first moment at or after its local hour, once per local date.

Layer: domain (pure, no I/O). The caller claims the returned local date once (the scheduler's
Redis key and job id name it), so a job runs once a local day; comparing hours rather than
matching an exact instant means a DST jump (02:00 → 03:00) or a missed tick delays a run but
never skips it, and the repeated hour of a fall-back day cannot run it twice.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def due_local_date(now: datetime, zone: ZoneInfo, hour: int) -> date | None:
    """The shop's local date whose run is due at `now` (aware), or None before `hour` local."""
    local = now.astimezone(zone)
    return local.date() if local.hour >= hour else None
