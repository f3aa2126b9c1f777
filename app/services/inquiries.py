"""Inquiries: log one on a customer, resolve it, and whether marketing is paused.

Layer: services; `log_inquiry` and `resolve_inquiry` commit. Scoped by shop; each change writes a
timeline event without the subject or notes (personal data). Resolving twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Customer, TimelineEvent
from app.models.inquiry import Inquiry

CHANNELS = ("email", "phone", "chat", "in_person", "other")
KINDS = ("question", "complaint", "other")
STATUSES = ("open", "resolved")
SUBJECT_MAX = 200
NOTES_MAX = 5000


class InquiryError(ValueError):
    """A refused inquiry; `problem` names the field (subject, notes, channel, kind, customer)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class InquiryInput:
    channel: str
    kind: str
    subject: str
    notes: str = ""


def _validated(data: InquiryInput) -> InquiryInput:
    subject = " ".join(data.subject.split())
    notes = data.notes.strip()
    if not subject or len(subject) > SUBJECT_MAX:
        raise InquiryError("subject")
    if len(notes) > NOTES_MAX:
        raise InquiryError("notes")
    if data.channel not in CHANNELS:
        raise InquiryError("channel")
    if data.kind not in KINDS:
        raise InquiryError("kind")
    return InquiryInput(channel=data.channel, kind=data.kind, subject=subject, notes=notes)


def _timeline(session: Session, inquiry: Inquiry, kind: str, key: str, when: datetime) -> None:
    session.add(
        TimelineEvent(
            shop_id=inquiry.shop_id,
            customer_id=inquiry.customer_id,
            kind=kind,
            source_key=key,
            occurred_at=when,
            detail={"channel": inquiry.channel, "kind": inquiry.kind},
        )
    )


def log_inquiry(
    session: Session,
    shop_id: int,
    customer_id: int,
    data: InquiryInput,
    *,
    account_id: int | None = None,
    now: datetime | None = None,
) -> Inquiry:
    """Record an open inquiry on this shop's customer and its timeline event; commits.

    Raises InquiryError for a bad field or a customer that is not this shop's."""
    clean = _validated(data)
    customer = session.scalars(
        select(Customer).where(Customer.shop_id == shop_id, Customer.id == customer_id)
    ).one_or_none()
    if customer is None:
        raise InquiryError("customer")
    when = now or utcnow()
    inquiry = Inquiry(
        shop_id=shop_id,
        customer_id=customer_id,
        channel=clean.channel,
        kind=clean.kind,
        status="open",
        subject=clean.subject,
        notes=clean.notes,
        account_id=account_id,
        opened_at=when,
    )
    session.add(inquiry)
    session.flush()
    _timeline(session, inquiry, "inquiry_opened", f"inquiry-{inquiry.id}", when)
    session.commit()
    return inquiry


def resolve_inquiry(
    session: Session,
    shop_id: int,
    inquiry_id: int,
    *,
    customer_id: int | None = None,
    now: datetime | None = None,
) -> Inquiry | None:
    """Mark this shop's inquiry (of this customer, when given) resolved once, with a timeline
    event; commits. None when there is no such inquiry; a resolved one is returned unchanged."""
    query = select(Inquiry).where(Inquiry.shop_id == shop_id, Inquiry.id == inquiry_id)
    if customer_id is not None:
        query = query.where(Inquiry.customer_id == customer_id)
    inquiry = session.scalars(query.with_for_update()).one_or_none()
    if inquiry is None or inquiry.status == "resolved":
        session.rollback()
        return inquiry
    when = now or utcnow()
    inquiry.status = "resolved"
    inquiry.resolved_at = when
    _timeline(session, inquiry, "inquiry_resolved", f"inquiry-{inquiry.id}-resolved", when)
    session.commit()
    return inquiry


def customer_inquiries(session: Session, shop_id: int, customer_id: int) -> list[Inquiry]:
    """This shop's inquiries on one customer: open first, newest first."""
    return list(
        session.scalars(
            select(Inquiry)
            .where(Inquiry.shop_id == shop_id, Inquiry.customer_id == customer_id)
            .order_by(
                (Inquiry.status == "open").desc(), Inquiry.opened_at.desc(), Inquiry.id.desc()
            )
        )
    )


def marketing_paused(session: Session, shop_id: int, customer_id: int) -> bool:
    """True while the customer has an open complaint: no marketing email until it is resolved."""
    return customer_id in paused_customers(session, shop_id, [customer_id])


def paused_customers(session: Session, shop_id: int, customer_ids: Collection[int]) -> set[int]:
    """Which of these customers have an open complaint (`marketing_paused`), in one query."""
    if not customer_ids:
        return set()
    return set(
        session.scalars(
            select(Inquiry.customer_id).where(
                Inquiry.shop_id == shop_id,
                Inquiry.customer_id.in_(customer_ids),
                Inquiry.kind == "complaint",
                Inquiry.status == "open",
            )
        )
    )
