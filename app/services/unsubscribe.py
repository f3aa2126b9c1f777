"""Unsubscribes and suppressions: signed per-recipient links, one-click (RFC 8058), bounces.

Layer: services; `unsubscribe_by_token` commits, the rest run in the caller's transaction.
Idempotent (suppression unique on shop and email). Tokens carry opaque ids and never expire.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.models import Customer
from app.models.flow import FlowRun, Suppression
from app.queueing import enqueue_after_commit, job_id
from app.services.upsert import dialect_insert, normalize_email
from app.tasks import CONSENT_WRITEBACK

log = logging.getLogger(__name__)

UNSUBSCRIBED = "UNSUBSCRIBED"
_SALT = "kizuna.unsubscribe.v1"


@dataclass(frozen=True)
class UnsubscribeToken:
    shop_id: int
    customer_id: int
    message_id: int | None


@lru_cache(maxsize=8)
def _serializer(secret_key: str) -> URLSafeSerializer:
    # Built once per key: a campaign signs a link per recipient, a million of them.
    return URLSafeSerializer(secret_key, salt=_SALT)


def make_token(secret_key: str, shop_id: int, customer_id: int, message_id: int | None) -> str:
    """A URL-safe signed token naming the recipient by ids (no address)."""
    return str(_serializer(secret_key).dumps([shop_id, customer_id, message_id]))


def read_token(secret_key: str, token: str) -> UnsubscribeToken | None:
    """The ids in `token`, or None when the signature or shape is wrong."""
    try:
        value = URLSafeSerializer(secret_key, salt=_SALT).loads(token)
    except BadSignature:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, int) for v in value[:2])
        or not (value[2] is None or isinstance(value[2], int))
    ):
        return None
    return UnsubscribeToken(value[0], value[1], value[2])


def unsubscribe_url(app_url: str, token: str) -> str:
    return f"{app_url.rstrip('/')}/unsubscribe/{token}"


def _suppress(session: Session, shop_id: int, email_normalized: str, reason: str) -> None:
    session.execute(
        dialect_insert(session, Suppression)
        .values(
            shop_id=shop_id, email_normalized=email_normalized, reason=reason, created_at=utcnow()
        )
        .on_conflict_do_nothing(index_elements=["shop_id", "email_normalized"])
    )


def _exit_runs(session: Session, shop_id: int, customer_ids: list[int], reason: str) -> None:
    if not customer_ids:
        return
    session.execute(
        update(FlowRun)
        .where(
            FlowRun.shop_id == shop_id,
            FlowRun.customer_id.in_(customer_ids),
            FlowRun.status == "running",
        )
        .values(status="exited", exit_reason=reason, ended_at=utcnow(), next_step=None)
        .execution_options(synchronize_session=False)
    )


def _mark_unsubscribed(session: Session, customers: list[Customer]) -> None:
    now = utcnow()
    for customer in customers:
        customer.email_marketing_state = UNSUBSCRIBED
        customer.email_marketing_updated_at = now
        queue_consent_writeback(session, customer)


def queue_consent_writeback(session: Session, customer: Customer) -> None:
    """Write the opt-out back to the platform: `jobs.consent.write_back_consent` is enqueued
    once `session` commits (queue `sync`, job id `consent-<customer id>`, RQ retries with
    backoff), so a platform outage never loses the local opt-out."""
    from app.kizuna import kizuna

    if customer.id is None:
        session.flush()
    enqueue_after_commit(
        session,
        kizuna().redis,
        CONSENT_WRITEBACK,
        customer.id,
        job_id=job_id("consent", customer.id),
    )


def unsubscribe_customer(session: Session, shop_id: int, customer_id: int, reason: str) -> bool:
    """Suppress the customer's address, set consent UNSUBSCRIBED, exit running flow runs.

    Returns False when the customer is not in this shop. Does not commit.
    """
    customer = session.scalars(
        select(Customer).where(Customer.shop_id == shop_id, Customer.id == customer_id)
    ).one_or_none()
    if customer is None:
        return False
    if customer.email_normalized:
        _suppress(session, shop_id, customer.email_normalized, reason)
    _mark_unsubscribed(session, [customer])
    _exit_runs(session, shop_id, [customer.id], reason)
    return True


def suppress_address(session: Session, shop_id: int, email: str, reason: str) -> int:
    """Suppress an address (bounce, spam report, …) and unsubscribe the shop's customers
    using it; returns how many customers changed. Does not commit."""
    normalized = normalize_email(email)
    if normalized is None:
        return 0
    _suppress(session, shop_id, normalized, reason)
    customers = list(
        session.scalars(
            select(Customer).where(
                Customer.shop_id == shop_id, Customer.email_normalized == normalized
            )
        )
    )
    _mark_unsubscribed(session, customers)
    _exit_runs(session, shop_id, [c.id for c in customers], reason)
    return len(customers)


def is_suppressed(session: Session, shop_id: int, email: str | None) -> bool:
    normalized = normalize_email(email)
    if normalized is None:
        return True  # nothing to send to
    return normalized in suppressed_emails(session, shop_id, [normalized])


_ADDRESSES_PER_QUERY = 10_000


def suppressed_emails(session: Session, shop_id: int, emails: Iterable[str | None]) -> set[str]:
    """Which of these addresses (normalised) the shop has suppressed, in one query per
    `_ADDRESSES_PER_QUERY` addresses (a statement holds at most 65,535 values)."""
    normalized = sorted({e for e in (normalize_email(email) for email in emails) if e is not None})
    found: set[str] = set()
    for first in range(0, len(normalized), _ADDRESSES_PER_QUERY):
        chunk = normalized[first : first + _ADDRESSES_PER_QUERY]
        found.update(
            session.scalars(
                select(Suppression.email_normalized).where(
                    Suppression.shop_id == shop_id, Suppression.email_normalized.in_(chunk)
                )
            )
        )
    return found


def unsubscribe_by_token(session: Session, secret_key: str, token: str) -> bool:
    """The one-click POST: verify, unsubscribe, commit. False for a bad token."""
    data = read_token(secret_key, token)
    if data is None:
        return False
    done = unsubscribe_customer(session, data.shop_id, data.customer_id, "unsubscribe_link")
    session.commit()
    log.info("unsubscribed shop_id=%s customer_id=%s", data.shop_id, data.customer_id)
    return done
