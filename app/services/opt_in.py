"""Double opt-in: a storefront tick becomes consent only when the shopper confirms by email.

Layer: services; `request_confirmation` runs in the capture's transaction (email after commit),
`send_confirmation` (job `jobs.opt_in.send_confirmation`) and `confirm` commit. One row per
(shop, address); at most one email per address a day, none to a suppressed or subscribed
address; links are signed, expire and work once. The email's row is claimed (`sent_at`) and
committed before the API call, so a duplicate job sends nothing; a refusal or an unknown outcome
is not retried (a second confirmation is worse than a missing one).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from flask import render_template
from flask_babel import force_locale, gettext
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Config
from app.db import utcnow
from app.flows import reads
from app.flows import runs as flows
from app.flows import triggers as flow_triggers
from app.flows.send import sendgrid_client
from app.i18n import recipient_language
from app.kizuna import Kizuna
from app.models import Checkout, Customer, Shop, TimelineEvent
from app.models.opt_in import STOREFRONT_DOUBLE_OPT_IN, OptInRequest
from app.queueing import enqueue_after_commit, job_id
from app.services.upsert import apply_confirmed_opt_in, dialect_insert, normalize_email
from app.tasks import SEND_OPT_IN_CONFIRMATION
from connectors.base import ConnectorError, RetryableError
from connectors.birthdays import Birthday
from connectors.sendgrid.mail import OutgoingEmail, build_mail_body, refusal

log = logging.getLogger(__name__)

CONFIRMATION_TTL = timedelta(days=7)
RESEND_AFTER = timedelta(days=1)  # at most one confirmation email per address per day
IN_FLIGHT = timedelta(minutes=10)  # an email asked for but not sent yet is not asked again
# Anyone can tick the box for any address: this bounds what a flood of ticks for distinct
# addresses can send in a shop's name (far above a busy store's real checkouts with a tick).
MAX_CONFIRMATIONS_PER_HOUR = 200
_SALT = "kizuna.opt-in.v1"


@dataclass(frozen=True)
class OptInToken:
    shop_id: int
    request_id: int
    nonce: str


def make_token(secret_key: str, shop_id: int, request_id: int, nonce: str) -> str:
    """The confirmation link's token: signed, timestamped, ids and the nonce only."""
    serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
    return str(serializer.dumps([shop_id, request_id, nonce]))


def read_token(
    secret_key: str, token: str, max_age: timedelta = CONFIRMATION_TTL
) -> OptInToken | None:
    """The token's contents, or None when its signature, age or shape is wrong."""
    if len(token) > 200:
        return None
    try:
        value = URLSafeTimedSerializer(secret_key, salt=_SALT).loads(
            token, max_age=int(max_age.total_seconds())
        )
    except BadSignature:  # SignatureExpired is one
        return None
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value[:2])
        or not isinstance(value[2], str)
    ):
        return None
    return OptInToken(value[0], value[1], value[2])


def confirmation_url(app_url: str, token: str) -> str:
    return f"{app_url.rstrip('/')}/opt-in/{token}"


def _live_customers(session: Session, shop_id: int, email: str, *, lock: bool) -> list[Customer]:
    statement = (
        select(Customer)
        .where(
            Customer.shop_id == shop_id,
            Customer.email_normalized == email,
            Customer.deleted_at.is_(None),
            Customer.redacted_at.is_(None),
        )
        .order_by(Customer.id)
    )
    return list(session.scalars(statement.with_for_update() if lock else statement))


def _asked_in_the_last_hour(session: Session, shop_id: int, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(OptInRequest.id)).where(
                OptInRequest.shop_id == shop_id,
                OptInRequest.nonce.is_not(None),
                OptInRequest.requested_at > now - timedelta(hours=1),
            )
        )
        or 0
    )


def request_confirmation(
    session: Session,
    shop_id: int,
    email: str,
    checkout_external_id: str | None,
    now: datetime,
    *,
    birthday: Birthday | None = None,
) -> int | None:
    """A ticked storefront box for `email`: ask the shopper to confirm, unless there is nothing
    to confirm (already subscribed, suppressed) or an email went out recently. The birthday
    typed with it waits on the request until the shopper confirms. Returns the request's id
    when a confirmation email is queued (after the caller commits), else None."""
    address = normalize_email(email)
    if address is None or reads.suppressed(session, shop_id, address):
        return None
    customers = _live_customers(session, shop_id, address, lock=False)
    if customers and all(reads.is_subscribed(customer) for customer in customers):
        return None
    session.execute(
        dialect_insert(session, OptInRequest)
        .values(shop_id=shop_id, email_normalized=address, requested_at=now, created_at=now)
        .on_conflict_do_nothing(index_elements=["shop_id", "email_normalized"])
    )
    row = session.scalars(
        select(OptInRequest)
        .where(OptInRequest.shop_id == shop_id, OptInRequest.email_normalized == address)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if row.sent_at is not None and now - row.sent_at < RESEND_AFTER:
        return None
    if row.nonce is not None and row.sent_at is None and now - row.requested_at < IN_FLIGHT:
        return None
    if _asked_in_the_last_hour(session, shop_id, now) >= MAX_CONFIRMATIONS_PER_HOUR:
        log.warning("opt-in confirmations over the hourly cap shop_id=%s", shop_id)
        return None
    row.nonce = secrets.token_urlsafe(24)  # a new link; an older one stops working
    row.requested_at, row.sent_at = now, None
    row.checkout_external_id = checkout_external_id
    if birthday is not None:
        row.birth_month, row.birth_day, row.birth_year = (
            birthday.month,
            birthday.day,
            birthday.year,
        )
    session.flush()
    _queue_send(session, row)
    log.info("opt-in confirmation requested shop_id=%s request_id=%s", shop_id, row.id)
    return row.id


def _queue_send(session: Session, row: OptInRequest) -> None:
    from app.kizuna import kizuna

    enqueue_after_commit(
        session,
        kizuna().redis,
        SEND_OPT_IN_CONFIRMATION,
        row.id,
        row.nonce,
        job_id=job_id("opt-in", row.shop_id, row.id, row.nonce),
    )


def confirmation_email(
    config: Config, session: Session, shop: Shop, row: OptInRequest
) -> OutgoingEmail:
    """The email asking the shopper to confirm, in the language of the customer with the address
    (else the shop's). Not marketing: no unsubscribe link; ignoring it subscribes no one."""
    assert row.nonce is not None  # noqa: S101 - only a live request is sent
    customer = next(iter(_live_customers(session, shop.id, row.email_normalized, lock=False)), None)
    lang = recipient_language(customer.locale if customer else None, shop.locale)
    shop_name = shop.name or shop.domain
    url = confirmation_url(
        config.app_url, make_token(config.secret_key, shop.id, row.id, row.nonce)
    )
    values = {"lang": lang, "shop_name": shop_name, "confirm_url": url}
    with force_locale(lang):
        subject = gettext("Please confirm your subscription to %(shop_name)s", shop_name=shop_name)
        html = render_template("email/opt_in/confirm.html", **values)
        text = render_template("email/opt_in/confirm.txt", **values)
    from_name, from_email = parseaddr(config.mail_from)
    return OutgoingEmail(
        kizuna_message_id=f"opt-in-{row.id}",
        shop_id=str(shop.id),
        from_email=from_email,
        from_name=shop.name or from_name or None,
        to_email=row.email_normalized,
        subject=subject,
        html=html,
        text=text,
        categories=("kizuna", "opt-in-confirmation"),
    )


@dataclass(frozen=True)
class Confirmation:
    shop_id: int
    customers: int  # live customers subscribed now
    cart_run_id: int | None


def confirm(session: Session, secret_key: str, token: str, now: datetime) -> Confirmation | None:
    """The shopper clicked "confirm": record consent (source and time), start the welcome series
    and the cart flow for the checkout that asked; commits. None for a bad, expired or already
    used link."""
    data = read_token(secret_key, token)
    if data is None:
        return None
    row = session.scalars(
        select(OptInRequest)
        .where(OptInRequest.shop_id == data.shop_id, OptInRequest.id == data.request_id)
        .with_for_update()
    ).one_or_none()
    if row is None or row.nonce is None or not hmac.compare_digest(row.nonce, data.nonce):
        return None
    shop = session.get(Shop, row.shop_id)
    if shop is None or not shop.is_active:
        return None
    row.nonce, row.confirmed_at = None, now
    subscribed: list[int] = []
    for customer in _live_customers(session, row.shop_id, row.email_normalized, lock=True):
        if row.birth_month is not None and customer.birth_month is None:
            # The storefront's birthday, now that the address is the shopper's: it never
            # replaces one the platform gave.
            customer.birth_month, customer.birth_day = row.birth_month, row.birth_day
            customer.birth_year = row.birth_year
        if apply_confirmed_opt_in(customer, now):
            subscribed.append(customer.id)
            session.add(
                TimelineEvent(
                    shop_id=row.shop_id,
                    customer_id=customer.id,
                    kind="consent_changed",
                    source_key=f"opt-in:{row.id}:{customer.id}:{int(now.timestamp())}",
                    occurred_at=now,
                    detail={"state": "SUBSCRIBED", "source": STOREFRONT_DOUBLE_OPT_IN},
                )
            )
    if subscribed:  # a new subscriber: the welcome series
        session.flush()
        flow_triggers.changed_customers(session, row.shop_id, subscribed, now)
    run_id = None
    if row.checkout_external_id:
        checkout = session.scalars(
            select(Checkout).where(
                Checkout.shop_id == row.shop_id,
                Checkout.external_id == row.checkout_external_id,
            )
        ).one_or_none()
        if checkout is not None:
            session.flush()
            run_id = flows.start_cart_run(session, checkout, now, consent_required=True)
    session.commit()
    log.info(
        "opt-in confirmed shop_id=%s request_id=%s customers=%s cart_run=%s",
        row.shop_id,
        row.id,
        len(subscribed),
        run_id,
    )
    return Confirmation(row.shop_id, len(subscribed), run_id)


def send_confirmation(runtime: Kizuna, request_id: int, nonce: str) -> str:
    """Send the confirmation for request `request_id`'s link `nonce`; → sent, skipped, failed.
    Retryable errors are raised for RQ."""
    with runtime.db.session() as session:
        row = session.scalars(
            select(OptInRequest).where(OptInRequest.id == request_id).with_for_update()
        ).one_or_none()
        if row is None or row.nonce != nonce or row.sent_at is not None:
            return "skipped"
        shop = session.get(Shop, row.shop_id)
        if (
            shop is None
            or not shop.is_active
            or reads.suppressed(session, shop.id, row.email_normalized)
        ):
            return "skipped"
        email = confirmation_email(runtime.config, session, shop, row)
        problem = refusal(email)
        if problem is not None:
            log.info("opt-in confirmation refused request_id=%s reason=%s", request_id, problem)
            return "failed"
        row.sent_at = utcnow()
        session.commit()
    try:
        result = sendgrid_client(runtime.config).send(build_mail_body(email))
    except RetryableError:
        _release_claim(runtime, request_id, nonce)
        raise
    except ConnectorError as error:
        log.warning("opt-in confirmation not sent request_id=%s code=%s", request_id, error.code)
        return "failed"
    log.info("opt-in confirmation sent request_id=%s status=%s", request_id, result.status)
    return "sent"


def _release_claim(runtime: Kizuna, request_id: int, nonce: str) -> None:
    with runtime.db.session() as session:
        row = session.get(OptInRequest, request_id)
        if row is not None and row.nonce == nonce:
            row.sent_at = None
            session.commit()
