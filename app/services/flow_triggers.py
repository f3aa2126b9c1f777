"""Where new platform data meets the automations: called after orders and checkouts are upserted.

Layer: services, inside the caller's transaction (the caller commits). Flows start or exit
here; anything that needs Redis is enqueued after commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from connectors.base import CheckoutRecord, OrderRecord


def after_orders(session: Session, shop_id: int, records: Sequence[OrderRecord]) -> None:
    """Orders arrived or changed: exit cart flows they complete, start post-purchase flows."""


def after_checkouts(session: Session, shop_id: int, records: Sequence[CheckoutRecord]) -> None:
    """Checkouts arrived or changed: start or exit cart-abandonment flows."""
