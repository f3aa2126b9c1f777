"""The one shop builder every test uses: a `Shop` row (and its owning `Account` when none is given).

Defaults are the fewest a shop needs (Shopify, active); each test module passes the columns its
scenario is about, so a default changed here cannot quietly change what another test checks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import Account, Shop


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
        **{"platform": "shopify", "status": "active", **columns},
    )
    db.add(shop)
    if commit:
        db.commit()
    else:
        db.flush()
    return shop
