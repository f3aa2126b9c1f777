"""When a shop's daily job is due: the first moment at or after its local hour, once a local date.

Layer: domain (pure). The caller claims the returned local date once; comparing hours means a DST
jump or a missed tick delays a run but never skips it, and a repeated hour cannot run it twice.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def due_local_date(now: datetime, zone: ZoneInfo, hour: int) -> date | None:
    """The shop's local date whose run is due at `now` (aware), or None before `hour` local."""
    local = now.astimezone(zone)
    return local.date() if local.hour >= hour else None
