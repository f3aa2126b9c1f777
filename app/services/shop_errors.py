"""A problem as the merchant is shown it: a message key and the values that fill it in.

Layer: services. `record_shop_error` is how a job puts a problem on a shop: the key
(`app.i18n.KEYED_MESSAGES`) and values for every page to word in its own language, and the
English text beside them for logs and older readers. Rows with a problem of their own
(`WebhookEvent`, `TagWriteBack`) keep it the same way (`problem_columns`); an email's message
keeps a code and its values in its `last_error` (`message_failure`). Values are reason
keys, counts, names of the merchant's own segments, topics and HTTP statuses: never a store's
answer, a secret or a person's data (no customer ids, no addresses).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
from flask_babel import force_locale
from sqlalchemy.exc import SQLAlchemyError

from app.db import utcnow
from app.i18n import DEFAULT_LANGUAGE, message_error, stored_error_text
from app.models import Shop
from connectors.base import AuthenticationError, ConnectorError, RetryableError

log = logging.getLogger(__name__)

_TEXT_LIMIT = 500
PLATFORM_NAMES = {"shopify": "Shopify", "woocommerce": "WooCommerce"}
# The reasons `connectors` give for a record they could not map (`MappingError.code`).
SKIP_REASONS = frozenset({"bad_amount", "bad_currency", "bad_date", "malformed", "no_id"})


class StoredProblem(Protocol):
    last_error: str | None
    last_error_code: str | None
    last_error_params: dict[str, Any] | None


def record_shop_error(shop: Shop, code: str, **params: Any) -> None:
    """Put the problem `code` (with `params`) on `shop`, now; the caller commits."""
    shop.last_error = english_text(code, params)[:_TEXT_LIMIT]
    shop.last_error_code = code  # after the text: setting the text alone clears the key
    shop.last_error_params = params or None
    shop.last_error_at = utcnow()


def problem_columns(code: str, **params: Any) -> dict[str, Any]:
    """The `last_error`, `last_error_code` and `last_error_params` values of a row's problem,
    for an UPDATE or to set one by one (text first: on a model, the text alone clears the key)."""
    return {
        "last_error": english_text(code, params)[:_TEXT_LIMIT],
        "last_error_code": code,
        "last_error_params": params or None,
    }


def nested(code: str, **params: Any) -> dict[str, Any]:
    """A problem inside another's values, worded with it (`app.i18n.stored_error_text`)."""
    return {"code": code, "params": params} if params else {"code": code}


def english_text(code: str, params: Mapping[str, Any]) -> str:
    """The problem in English, as `last_error` keeps it."""
    with force_locale(DEFAULT_LANGUAGE):
        return stored_error_text(None, code, params) or code


def shop_error(shop: Shop) -> str | None:
    """The shop's last problem in the current language (its stored text for an older row)."""
    return stored_problem(shop)


def stored_problem(row: StoredProblem) -> str | None:
    """A row's last problem in the current language (its stored text for an older row)."""
    return stored_error_text(row.last_error, row.last_error_code, row.last_error_params)


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)


def store_refusal(error: BaseException) -> dict[str, Any]:
    """Why a store refused a change Kizuna wrote (a consent, tags), as a nested problem: the
    class of the refusal and its HTTP status, never the store's own words."""
    if isinstance(error, AuthenticationError):
        return nested("store_refusal.access")
    if isinstance(error, RetryableError):
        return nested("store_refusal.unavailable")
    if isinstance(error, ConnectorError):
        if error.status == 404:
            return nested("store_refusal.not_found")
        if error.status is None or error.status < 300:  # answered, with errors in the body
            return nested("store_refusal.rejected")
        return nested("store_refusal.status", status=int(error.status))
    return nested("store_refusal.internal")


def shopify_sync_failure(error: BaseException) -> dict[str, Any]:
    """Why a Shopify sync stopped, as a nested problem: refused access, no answer, another
    bulk export running, an HTTP status, an answer it could not read, or the class of a
    database error. Never the exception's text: it can quote the store's answer or, for a
    database error, the row's values."""
    if isinstance(error, AuthenticationError):
        return nested("shop_error.reason.token_refused")
    if isinstance(error, RetryableError):
        if error.code in ("bulk_busy", "bulk_timeout"):
            return nested(f"shop_error.reason.{error.code}")
        return nested("shop_error.reason.gave_up")
    if isinstance(error, ConnectorError):
        if error.status is not None and error.status >= 300:
            return nested("shop_error.reason.status", status=int(error.status))
        return nested("shop_error.reason.unexpected")
    if isinstance(error, SQLAlchemyError):
        return nested("shop_error.reason.database", error=type(error).__name__)
    if isinstance(error, httpx.TransportError | OSError):  # a bulk result's download
        return nested("shop_error.reason.no_answer")
    return nested("shop_error.reason.internal")


def sending_refusal(error: BaseException) -> dict[str, Any]:
    """Why SendGrid did not take an email, as a nested problem: retries spent, or its HTTP
    status (its own words can quote an address, so they stay in the message's log)."""
    if isinstance(error, RetryableError):
        return nested("email_refusal.gave_up")
    if isinstance(error, ConnectorError) and error.status:
        return nested("email_refusal.status", status=int(error.status))
    return nested("email_refusal.other")


def message_failure(error: BaseException) -> str:
    """Why SendGrid did not take an email, as its message's `last_error` (worded by
    `app.i18n.message_problem`): `sendgrid_unavailable` (retries spent) or `sendgrid_refused`
    with its HTTP status, never SendGrid's words (they can quote an address)."""
    if isinstance(error, RetryableError):
        return message_error("sendgrid_unavailable")
    if isinstance(error, ConnectorError) and error.status:
        return message_error("sendgrid_refused", status=int(error.status))
    return message_error("sendgrid_refused")


def unsendable(message_id: int, problem: str) -> str:
    """The `last_error` of a message whose email SendGrid would refuse (`problem`, from
    `connectors.sendgrid.mail.refusal`): its code (`invalid_email`); the reason, which names the
    field and never its value, is logged for support."""
    log.warning("email refused before sending message_id=%s reason=%s", message_id, problem)
    return problem.split(":", 1)[0].strip()


def record_email_refusal(
    shop: Shop, flow_key: str | None, message_id: int, reason: Mapping[str, Any] | None
) -> None:
    """A flow's email that will not be sent, on its shop."""
    record_shop_error(
        shop,
        "shop_error.email_refused",
        flow_key=f"flows.name.{flow_key}",
        message=message_id,
        reason=dict(reason or nested("email_refusal.other")),
    )


def record_coupon_refusal(shop: Shop, flow_key: str, message_id: int, error: BaseException) -> None:
    """A flow's email going out without its single-use code, because the store refused it."""
    record_shop_error(
        shop,
        "shop_error.coupon_refused",
        flow_key=f"flows.name.{flow_key}",
        message=message_id,
        reason=store_refusal(error),
    )


def record_skipped_records(shop: Shop, skipped: Mapping[str, Mapping[str, Any]]) -> None:
    """Put on `shop` the records a finished sync left out: `skipped` maps a stream to its
    `count` and its `reasons` (mapping codes → count)."""
    streams = [
        nested(
            "shop_error.records_skipped.stream",
            stream_key=f"stream.{name}",
            count=int(entry["count"]),
            reasons=[
                nested(f"sync.skip_reason.{reason}")
                for reason in sorted(
                    {
                        reason if reason in SKIP_REASONS else "malformed"
                        for reason in entry["reasons"]
                    }
                )
            ],
        )
        for name, entry in sorted(skipped.items())
    ]
    record_shop_error(
        shop,
        "shop_error.records_skipped",
        count=sum(int(entry["count"]) for entry in skipped.values()),
        platform=platform_name(shop.platform),
        streams=streams,
    )
