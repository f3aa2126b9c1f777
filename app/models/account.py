"""Accounts: a merchant who signs in and owns one or more shops (on either platform), and the
team members the owner invited.

The owner signs in with the account's own `email` and `password_hash`; an account created by
sign-up has `email_verified` false until its email link is opened. A member (`role` staff) has
a password once the invitation is accepted. Emails are stored lower-cased and unique per table;
`services.accounts` keeps one address from signing in to two places.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

OWNER, STAFF = "owner", "staff"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountMember(Base):
    __tablename__ = "account_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20), default=STAFF)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    # Names the one live invitation link; cleared when it is accepted or the member removed.
    invite_nonce: Mapped[str | None] = mapped_column(String(64))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
