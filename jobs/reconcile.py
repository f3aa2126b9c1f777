"""The RQ entries of the Shopify reconcile: `reconcile_all` (every 15 minutes) and
`reconcile_shop` (queue `sync`, job id `reconcile-<shop_id>`).

Layer: jobs, a thin entry: binds the app context and calls `app.services.shopify_reconcile`.
Queued jobs are stored by dotted path, so these keep their names and arguments.
"""

from __future__ import annotations

from app.kizuna import Kizuna
from app.services import shopify_reconcile
from jobs.context import kizuna_job


@kizuna_job
def reconcile_all(runtime: Kizuna, every: float = shopify_reconcile.RECONCILE_EVERY_SECONDS) -> int:
    """Enqueue a reconcile of every active Shopify shop; how many were enqueued."""
    return shopify_reconcile.reconcile_all(runtime, every)


@kizuna_job
def reconcile_shop(runtime: Kizuna, shop_id: int) -> dict[str, int]:
    """Re-read every stream from its cursor; rows read per stream ({} when skipped)."""
    return shopify_reconcile.reconcile_shop(runtime, shop_id)
