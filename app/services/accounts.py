"""Merchant accounts of the standalone admin: the password they sign in with.

Layer: service (owns its transaction: commits). Ending the account's sessions after a new
password is the caller's part (`app.auth.sessions.end_account_sessions`), after this commit.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Account
from app.passwords import hash_password


def set_password(db: Session, account: Account, password: str) -> None:
    """Store a new scrypt hash for the account's password (checked by the caller) and commit."""
    account.password_hash = hash_password(password)
    db.commit()
