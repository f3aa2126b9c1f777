"""Sending a double opt-in confirmation email (queue `email`, `opt-in-<shop>-<request>-<nonce>`).

Layer: jobs. Acts only while the link is the one it was queued for: the row is claimed
(`sent_at`) and committed before the API call, so a duplicate job sends nothing. A refusal or an
unknown outcome is not retried (a second confirmation is worse than a missing one).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.db import utcnow
from app.flows.runs import suppressed
from app.kizuna import Kizuna
from app.models import Shop
from app.models.opt_in import OptInRequest
from app.services.opt_in import confirmation_email
from connectors.base import ConnectorError, RetryableError
from connectors.sendgrid.mail import build_mail_body, refusal
from jobs.context import kizuna_job
from jobs.send_email import sendgrid_client

log = logging.getLogger(__name__)


@kizuna_job
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
        if shop is None or not shop.is_active or suppressed(session, shop.id, row.email_normalized):
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
        _release(runtime, request_id, nonce)
        raise
    except ConnectorError as error:
        log.warning("opt-in confirmation not sent request_id=%s code=%s", request_id, error.code)
        return "failed"
    log.info("opt-in confirmation sent request_id=%s status=%s", request_id, result.status)
    return "sent"


def _release(runtime: Kizuna, request_id: int, nonce: str) -> None:
    with runtime.db.session() as session:
        row = session.get(OptInRequest, request_id)
        if row is not None and row.nonce == nonce:
            row.sent_at = None
            session.commit()
