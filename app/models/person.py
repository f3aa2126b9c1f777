"""People: one shopper across the shops of one account, matched on normalised email.

Layer: models (never commit). Unique on (account_id, email_normalized), never shared across
accounts; `services/people.py` owns every write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.models.customer import Customer


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (UniqueConstraint("account_id", "email_normalized"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email_normalized: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# `customers.person_id`, declared here so that customer.py needs no change for this feature
# (declarative adds the column to the table and the mapper). Read it as `Customer.person_id`.
Customer.person_id = Column(  # type: ignore[attr-defined]
    Integer, ForeignKey("persons.id", ondelete="SET NULL"), nullable=True, index=True
)
