"""The one shop builder every test uses: a `Shop` row (and its owning `Account` when none is given).

Defaults are the fewest a shop needs (Shopify, active, and the sender identity without which no
marketing email leaves); each test module passes the columns its scenario is about, so a default
changed here cannot quietly change what another test checks. A shop made by an install gets its
sender identity from `set_sender_identity`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models import Account, Shop

SENDER_IDENTITY = {
    "sender_name": "Kizuna Test Shop",
    "reply_to": "support@shop.example",
    "postal_address": "1-2-3 Jingumae, Shibuya-ku, Tokyo 150-0001",
    "contact": "support@shop.example",
}


def make_account(db: Session, name: str = "Merchant", *, commit: bool = True) -> Account:
    account = Account(name=name)
    db.add(account)
    if commit:
        db.commit()
    else:
        db.flush()
    return account


def build_shop(
    db: Session,
    domain: str,
    *,
    account: Account | None = None,
    account_name: str = "Merchant",
    commit: bool = True,
    **columns: Any,
) -> Shop:
    """A shop on `domain` owned by `account` (a new one named `account_name` when None),
    committed (or only flushed: `commit=False`). `columns` set or override any column."""
    if account is None:
        account = make_account(db, account_name, commit=False)
    shop = Shop(
        account_id=account.id,
        domain=domain,
        **{
            "platform": "shopify",
            "status": "active",
            "sender_identity": dict(SENDER_IDENTITY),
            **columns,
        },
    )
    db.add(shop)
    if commit:
        db.commit()
    else:
        db.flush()
    return shop


def set_sender_identity(db: Session, *shop_ids: int, commit: bool = True, **values: str) -> None:
    """Give installed shops (every shop when none is named) the test sender identity."""
    statement = update(Shop).values(sender_identity={**SENDER_IDENTITY, **values})
    if shop_ids:
        statement = statement.where(Shop.id.in_(shop_ids))
    db.execute(statement)
    if commit:
        db.commit()
