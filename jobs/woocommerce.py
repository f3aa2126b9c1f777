"""The RQ entries of a WooCommerce store: key check, setup, reconcile (one store, all stores).

Layer: jobs, a thin entry: each binds the app context and calls one function of
`app.services.woocommerce_install` or `app.services.woocommerce_sync`. Queued jobs are stored by
dotted path (`app.tasks`), so these keep their names and arguments.
"""

from __future__ import annotations

from app.kizuna import Kizuna
from app.services import woocommerce_sync
from app.services.woocommerce_install import bind_checked_store
from jobs.context import kizuna_job


@kizuna_job
def check_key_grant(runtime: Kizuna, pending_id: int) -> int | None:
    """After the wc-auth callback: bind the store once its key works; the shop id or None."""
    return bind_checked_store(runtime, pending_id)


@kizuna_job
def setup_shop(runtime: Kizuna, shop_id: int) -> dict[str, int]:
    """After connect: check the key, create webhooks, first backfill."""
    return woocommerce_sync.setup_shop(runtime, shop_id)


@kizuna_job
def reconcile_shop(runtime: Kizuna, shop_id: int) -> dict[str, int]:
    """Re-enable disabled (or re-create missing) webhooks, then backfill the gap."""
    return woocommerce_sync.reconcile_shop(runtime, shop_id)


@kizuna_job
def reconcile_woocommerce(runtime: Kizuna, every: float = woocommerce_sync.RECONCILE_EVERY) -> int:
    """Periodic: queue `reconcile_shop` for every connected WooCommerce store."""
    return woocommerce_sync.reconcile_woocommerce(runtime, every)
