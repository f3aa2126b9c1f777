"""A shop's sender identity: who its marketing emails come from, as the law requires it shown.

Layer: services. Japan's 特定電子メール法 wants the sender's name, postal address and a contact in
every advertising email; CAN-SPAM a postal address. Until a shop has all four fields, its
marketing email waits (`flows.rules`, delay rule `sender_identity`); `save` releases what waited.
The caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Shop
from app.models.flow import Message
from app.queueing import enqueue_after_commit, job_id
from app.tasks import SEND_MESSAGE
from connectors.email_address import is_email_address

# The `last_error` a message carries while it waits for its shop's sender identity.
WAITING_FOR_SENDER = "waiting_for_sender_identity"

FIELD_LIMITS = {"sender_name": 100, "reply_to": 254, "postal_address": 300, "contact": 200}


@dataclass(frozen=True)
class SenderIdentity:
    """`sender_name`: the From name and the footer's sender; `reply_to`: where answers go;
    `postal_address` and `contact` (phone, email or web page): the footer's legal lines."""

    sender_name: str
    reply_to: str
    postal_address: str
    contact: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def identity_of(shop: Shop | None) -> SenderIdentity | None:
    """The shop's identity when every field is set, else None (its marketing email waits)."""
    stored = (shop.sender_identity if shop is not None else None) or {}
    values = {name: str(stored.get(name) or "").strip() for name in FIELD_LIMITS}
    if not all(values.values()):
        return None
    return SenderIdentity(**values)


def form_values(shop: Shop) -> dict[str, str]:
    """What the settings form shows: the stored values, blanks where none."""
    stored = shop.sender_identity or {}
    return {name: str(stored.get(name) or "") for name in FIELD_LIMITS}


def validate(form: Mapping[str, Any]) -> tuple[SenderIdentity | None, dict[str, str]]:
    """Posted fields → an identity, or field errors (i18n keys); one-line fields lose their
    line breaks (they go into email headers), the address keeps them."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, limit in FIELD_LIMITS.items():
        raw = str(form.get(name) or "").replace("\r\n", "\n").strip()
        if name != "postal_address":
            raw = " ".join(raw.split())
        if not raw:
            errors[name] = "sender.error.required"
        elif len(raw) > limit:
            errors[name] = "sender.error.too_long"
        values[name] = raw
    if "reply_to" not in errors and not is_email_address(values["reply_to"]):
        errors["reply_to"] = "sender.error.email"
    if errors:
        return None, errors
    return SenderIdentity(**values), {}


def save(
    session: Session,
    redis: Redis,
    shop: Shop,
    identity: SenderIdentity,
    now: datetime | None = None,
) -> int:
    """Store the identity and release the shop's messages that waited for it: due now, their
    sends enqueued once the caller commits; → how many were released."""
    shop.sender_identity = identity.to_json()
    now = now or utcnow()
    released = list(
        session.scalars(
            update(Message)
            .where(
                Message.shop_id == shop.id,
                Message.status == "pending",
                Message.last_error == WAITING_FOR_SENDER,
            )
            .values(not_before=now, last_error=None)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        )
    )
    for message_id in released:
        enqueue_after_commit(
            session, redis, SEND_MESSAGE, message_id, job_id=job_id("send", message_id)
        )
    return len(released)


def waiting_count(session: Session, shop_id: int) -> int:
    """Messages of the shop held back because it has no sender identity."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.shop_id == shop_id,
                Message.status == "pending",
                Message.last_error == WAITING_FOR_SENDER,
            )
        )
        or 0
    )
