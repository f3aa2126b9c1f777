"""The RQ entry of a Shopify shop's sync: `backfill_shop` (queue `sync`, job `backfill-<shop>`).

Layer: jobs, a thin entry: binds the app context and calls `app.services.sync.backfill_shop`.
Queued jobs are stored by dotted path, so `jobs.sync.backfill_shop` keeps its name and arguments.
"""

from __future__ import annotations

from app.kizuna import Kizuna
from app.services import sync
from jobs.context import kizuna_job


@kizuna_job
def backfill_shop(
    runtime: Kizuna,
    shop_id: int,
    full: bool = True,
    bulk: bool = True,
) -> dict[str, int]:
    """Pull the shop's streams into the database; the row counts per stream."""
    return sync.backfill_shop(runtime, shop_id, full, bulk)
