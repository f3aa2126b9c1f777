"""Sending a merchant's account email (queue `email`, job `account-email-<kind>-…`).

Layer: jobs. The email is built when the job runs, from the rows as they are then: an account
verified meanwhile or an invitation withdrawn sends nothing. Retryable errors are raised for
RQ (bounded retries); a refusal is logged by code and not retried.
"""

from __future__ import annotations

import logging

from app.flows.send import sendgrid_client
from app.kizuna import Kizuna
from app.services.account_emails import account_email
from connectors.base import ConnectorError, RetryableError
from connectors.sendgrid.mail import build_mail_body, refusal
from jobs.context import kizuna_job

log = logging.getLogger(__name__)


@kizuna_job
def send_account_email(
    runtime: Kizuna, kind: str, account_id: int, member_id: int | None, lang: str
) -> str:
    """Send email `kind` to the account's owner or member `member_id`; → sent, skipped, failed."""
    with runtime.db.session() as session:
        email = account_email(runtime.config, session, kind, account_id, member_id, lang)
    if email is None:
        return "skipped"
    problem = refusal(email)
    if problem is not None:
        log.info("account email refused kind=%s account_id=%s reason=%s", kind, account_id, problem)
        return "failed"
    try:
        result = sendgrid_client(runtime.config).send(build_mail_body(email))
    except RetryableError:
        raise
    except ConnectorError as error:
        log.warning(
            "account email not sent kind=%s account_id=%s code=%s", kind, account_id, error.code
        )
        return "failed"
    log.info("account email sent kind=%s account_id=%s status=%s", kind, account_id, result.status)
    return "sent"
