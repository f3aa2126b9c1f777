"""One person across an account's stores: customers linked to `persons` by normalised email.

Layer: services; the caller commits. Never shared across accounts; set-based and idempotent; a
person left without customers is deleted (its email is personal data). No session listeners.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    Column,
    Connection,
    Table,
    and_,
    case,
    delete,
    exists,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import UTCDateTime, utcnow
from app.models import Customer, Order, Person, Shop

log = logging.getLogger(__name__)

# Keeps IN lists well under PostgreSQL's bind-parameter limit and SQLite's variable limit.
_CHUNK = 500

_customers = cast(Table, Customer.__table__)
_persons = cast(Table, Person.__table__)
_person_id: Column[Any] = _customers.c.person_id


def _insert_persons(session: Session) -> Any:
    # Not upsert.dialect_insert: upsert imports this module.
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(_persons)
    return sqlite_insert(_persons)


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _delete_orphans(bind: Session | Connection, person_ids: Iterable[int]) -> int:
    """Delete those of `person_ids` that no customer points at any more."""
    ids = sorted(set(person_ids))
    removed = 0
    for chunk in _chunks(ids):
        result = bind.execute(
            delete(_persons).where(
                _persons.c.id.in_(chunk),
                ~exists().where(_person_id == _persons.c.id),
            )
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


def _linked_persons(bind: Session | Connection, customer_ids: Sequence[int]) -> set[int]:
    return set(
        bind.execute(
            select(_person_id).where(_customers.c.id.in_(customer_ids), _person_id.is_not(None))
        ).scalars()
    )


def link_customers(session: Session, shop_id: int, customer_ids: Iterable[int]) -> None:
    """(Re)link the shop's given customers to their person, creating persons as needed.

    Call after customers are inserted or their email changes. Redacted or email-less customers
    are unlinked; a person left without customers is deleted. Per chunk of 500 ids: one SELECT
    (previous links), one INSERT … SELECT … ON CONFLICT DO NOTHING, one UPDATE, and a DELETE
    only when links moved.
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return
    session.flush()  # the Core statements below read emails the ORM may still hold
    account_id = session.scalar(select(Shop.account_id).where(Shop.id == shop_id))
    if account_id is None:
        return
    person = (
        select(_persons.c.id)
        .where(
            _persons.c.account_id == account_id,
            _persons.c.email_normalized == _customers.c.email_normalized,
        )
        .scalar_subquery()
    )
    for chunk in _chunks(ids):
        before = _linked_persons(session, chunk)
        # DISTINCT: two customers of the batch may share an email (one person key).
        emails = (
            select(
                literal(account_id),
                _customers.c.email_normalized,
                literal(utcnow(), type_=UTCDateTime()),
            )
            .where(
                _customers.c.id.in_(chunk),
                _customers.c.shop_id == shop_id,
                _customers.c.email_normalized.is_not(None),
                _customers.c.redacted_at.is_(None),
            )
            .distinct()
        )
        session.execute(
            _insert_persons(session)
            .from_select(["account_id", "email_normalized", "created_at"], emails)
            .on_conflict_do_nothing(index_elements=["account_id", "email_normalized"])
        )
        session.execute(
            update(_customers)
            .where(_customers.c.id.in_(chunk), _customers.c.shop_id == shop_id)
            .values(
                person_id=case(
                    (
                        and_(
                            _customers.c.redacted_at.is_(None),
                            _customers.c.email_normalized.is_not(None),
                        ),
                        person,
                    ),
                    else_=None,
                )
            )
            .execution_options(synchronize_session=False)
        )
        if before:
            _delete_orphans(session, before)
    _expire_person_ids(session, ids)


def link_shop(session: Session, shop_id: int) -> None:
    """Link every customer of the shop (customers synced before people existed)."""
    ids = list(session.scalars(select(Customer.id).where(Customer.shop_id == shop_id)))
    link_customers(session, shop_id, ids)


def unlink_customers(session: Session, customer_ids: Iterable[int]) -> None:
    """Detach these customers from their person (a redact); orphaned persons are deleted."""
    ids = sorted(set(customer_ids))
    for chunk in _chunks(ids):
        before = _linked_persons(session, chunk)
        if not before:
            continue
        session.execute(
            update(_customers)
            .where(_customers.c.id.in_(chunk), _person_id.is_not(None))
            .values(person_id=None)
            .execution_options(synchronize_session=False)
        )
        _delete_orphans(session, before)
    _expire_person_ids(session, ids)
    if ids:
        log.info("customers unlinked from people count=%s", len(ids))


def prune_orphans(session: Session, account_id: int) -> int:
    """Delete the account's persons without customers (after a shop's data was erased)."""
    result = session.execute(
        delete(_persons).where(
            _persons.c.account_id == account_id,
            ~exists().where(_person_id == _persons.c.id),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _expire_person_ids(session: Session, customer_ids: Sequence[int]) -> None:
    """Loaded customers re-read `person_id` next time (the UPDATE bypassed the ORM)."""
    wanted = set(customer_ids)
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Customer) and instance.id in wanted:
            session.expire(instance, ["person_id"])


# --- reading -----------------------------------------------------------------------------------


def person_of(session: Session, shop_id: int, customer_id: int) -> Person | None:
    """The person of one of the shop's customers (None: no email, redacted, or not linked)."""
    return session.scalars(
        select(Person)
        .join(_customers, _person_id == Person.id)
        .where(
            _customers.c.id == customer_id,
            _customers.c.shop_id == shop_id,
            _customers.c.redacted_at.is_(None),
        )
    ).one_or_none()


def person_customers(session: Session, account_id: int, person_id: int) -> list[Customer]:
    """The person's customer rows across the account's shops, oldest first."""
    return list(
        session.scalars(
            select(Customer)
            .join(Shop, Shop.id == Customer.shop_id)
            .where(
                _person_id == person_id,
                Shop.account_id == account_id,
                Customer.redacted_at.is_(None),
            )
            .order_by(Customer.id)
        )
    )


def person_orders(session: Session, account_id: int, person_id: int) -> list[Order]:
    """Every order of the person across the account's shops (either platform), oldest first.

    Scoped by account: a person id of another account yields nothing.
    """
    placed = Order.processed_at
    return list(
        session.scalars(
            select(Order)
            .join(Customer, Customer.id == Order.customer_id)
            .join(Shop, Shop.id == Customer.shop_id)
            .where(
                _person_id == person_id,
                Shop.account_id == account_id,
                Order.shop_id == Customer.shop_id,
                Customer.redacted_at.is_(None),
            )
            .order_by(placed.is_(None), placed, Order.id)
        )
    )
