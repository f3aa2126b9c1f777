"""The SendGrid v3 API client: Mail Send, the Email Activity lookup, `kizuna doctor`'s checks.

Layer: connectors. One kept-alive connection per client; 429 waits for the reset, 5xx/408/409 and
failures to connect back off; other 4xx are never retried. A lost answer after the body was
written raises `SendOutcomeUnknown` and is never resent (Mail Send has no idempotency key).
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import re
import select
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.sendgrid.mail import KIZUNA_MESSAGE_ID_ARG
from connectors.telemetry import problem_kind, report_api_problem

log = logging.getLogger(__name__)

# python-http-client logs every request's headers (the API key) and body (addresses) at DEBUG.
logging.getLogger("python_http_client.client").setLevel(logging.INFO)

DEFAULT_BASE_URL = "https://api.sendgrid.com"
RETRYABLE_STATUSES = frozenset({408, 409, 429})
RATE_LIMIT_JITTER = 0.25  # seconds, so workers throttled together do not wake together
# Runs of characters that may belong to an address; one containing "@" is masked whole. A run
# either matches or ends at a delimiter, so the scan is linear (a pattern anchored on "@" would
# retry every start position of a long run without one).
_ADDRESS_RUN = re.compile(r"[^\s<>\"'(),;:\[\]]+")
_OPAQUE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True)
class SendResult:
    status: int  # 202, or 200 when the body asked for sandbox mode
    message_id: str | None  # X-Message-Id; each event's sg_message_id starts with it
    attempts: int = 1


@dataclass(frozen=True)
class ActivityMessage:
    """One message as the Email Activity API lists it (without its addresses)."""

    msg_id: str
    status: str
    last_event_time: datetime | None


@dataclass(frozen=True)
class VerifiedSender:
    from_email: str
    verified: bool


class SendOutcomeUnknown(ConnectorError):
    """The request was written but no answer arrived: it may or may not have been accepted.

    Mail Send has no idempotency key, so the client never resends then; it raises this with the
    `kizuna_message_id`s of the body. The caller marks those messages unknown (not failed, not
    pending) and settles them from the Event Webhook, whose every event echoes
    `kizuna_message_id`, or from `find_messages` (Email Activity API, a paid add-on; the sandbox
    serves it). A failure to connect happens before anything is written, so it is retried; a kept
    connection the server closed is noticed before writing and replaced, while one closed during
    the write is an unknown outcome like any lost answer.
    """

    def __init__(self, message: str, *, kizuna_message_ids: tuple[str, ...]) -> None:
        super().__init__(message, code="outcome_unknown")
        self.kizuna_message_ids = kizuna_message_ids


def _kizuna_message_ids(body: Mapping[str, Any]) -> tuple[str, ...]:
    ids = []
    for personalization in body.get("personalizations") or ():
        value = (personalization.get("custom_args") or {}).get(KIZUNA_MESSAGE_ID_ARG)
        if isinstance(value, str):
            ids.append(value)
    return tuple(ids)


def _describe(error: HTTPError) -> str:
    """SendGrid's error messages, with anything shaped like an address masked."""
    try:
        errors = json.loads(error.body or b"{}").get("errors") or []
        parts = []
        for entry in errors:
            text = str(entry.get("message") or "error")
            if entry.get("field"):
                text += f" (field: {entry['field']})"
            parts.append(text)
        detail = "; ".join(parts)
    except (ValueError, AttributeError, TypeError):
        detail = ""
    text = f"SendGrid HTTP {error.status_code}: {detail or 'no detail'}"
    return _ADDRESS_RUN.sub(lambda run: "<address>" if "@" in run[0] else run[0], text)


class SendGridClient:
    """One API key's client. Not for sharing across threads: python-http-client mutates headers.

    `sleep` and `clock` are injectable for tests; `max_wait` bounds a single rate-limit wait, past
    which the caller gets a RetryableError with `retry_after` instead of a blocked worker.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_wait: float = 60.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        if not api_key:
            # SendGridAPIClient would silently fall back to $SENDGRID_API_KEY.
            raise ValueError("api_key is empty")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._api = SendGridAPIClient(api_key=api_key, host=base_url.rstrip("/"))
        self._api.client.timeout = timeout
        self._mail_send = _KeptConnection(base_url.rstrip("/") + "/v3/mail/send")
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._clock = clock
        self.max_wait = max_wait
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap

    # --- public operations -------------------------------------------------------------------

    def send(self, body: Mapping[str, Any]) -> SendResult:
        """POST /v3/mail/send. Raises AuthenticationError, ConnectorError (4xx, not retried),
        RetryableError (attempts exhausted or a long rate limit), or SendOutcomeUnknown."""
        ids = _kizuna_message_ids(body)
        payload = json.dumps(dict(body)).encode("utf-8")
        headers = {**self._api.client.request_headers, "Content-Type": "application/json"}
        response, attempts = self._call(
            "mail.send",
            lambda: self._mail_send.post(payload, headers, self._api.client.timeout),
            idempotent=False,
            kizuna_message_ids=ids,
        )
        message_id = response.headers.get("X-Message-Id")
        log.info(
            "sendgrid sent status=%s recipients=%d attempts=%d",
            response.status_code,
            len(ids),
            attempts,
        )
        return SendResult(response.status_code, message_id, attempts)

    def close(self) -> None:
        """Close the kept Mail Send connection (the next send opens a new one)."""
        self._mail_send.close()

    def find_messages(self, kizuna_message_id: str, *, limit: int = 10) -> list[ActivityMessage]:
        """GET /v3/messages for the messages carrying this `kizuna_message_id` custom arg.

        Needs the Email Activity add-on and an API key with that scope. Messages appear there
        with some delay, so an empty answer shortly after a send proves nothing.
        """
        if not _OPAQUE_ID.match(kizuna_message_id):
            raise ValueError("kizuna_message_id must be an opaque id")
        query = f"unique_args['{KIZUNA_MESSAGE_ID_ARG}']=\"{kizuna_message_id}\""
        response, _ = self._call(
            "messages.get",
            lambda: self._api.client.messages.get(query_params={"limit": limit, "query": query}),
            idempotent=True,
            kizuna_message_ids=(kizuna_message_id,),
        )
        try:
            messages = json.loads(response.body or b"{}").get("messages") or []
            return [
                ActivityMessage(
                    msg_id=str(message["msg_id"]),
                    status=str(message.get("status") or ""),
                    last_event_time=_parse_time(message.get("last_event_time")),
                )
                for message in messages
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConnectorError("SendGrid messages answer is malformed") from error

    def scopes(self) -> list[str]:
        """GET /v3/scopes: the permissions of this API key (`mail.send` is the one sending needs).

        Raises AuthenticationError when SendGrid refuses the key."""
        response, _ = self._call(
            "scopes.get",
            lambda: self._api.client.scopes.get(),
            idempotent=True,
            kizuna_message_ids=(),
        )
        try:
            return [str(scope) for scope in json.loads(response.body or b"{}")["scopes"]]
        except (ValueError, KeyError, TypeError) as error:
            raise ConnectorError("SendGrid scopes answer is malformed") from error

    def verified_senders(self) -> list[VerifiedSender]:
        """GET /v3/verified_senders: the account's Sender Identities, verified or not."""
        response, _ = self._call(
            "verified_senders.get",
            lambda: self._api.client.verified_senders.get(),
            idempotent=True,
            kizuna_message_ids=(),
        )
        try:
            results = json.loads(response.body or b"{}").get("results") or []
            return [
                VerifiedSender(
                    from_email=str(item["from_email"]), verified=bool(item.get("verified"))
                )
                for item in results
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConnectorError("SendGrid verified senders answer is malformed") from error

    # --- retry loop --------------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        request: Callable[[], Any],
        *,
        idempotent: bool,
        kizuna_message_ids: tuple[str, ...],
    ) -> tuple[Any, int]:
        last_status: int | None = None
        last_reason = ""
        retry_after: float | None = None
        for attempt in range(1, self.max_attempts + 1):
            wait: float | None = None
            try:
                return request(), attempt
            except HTTPError as error:
                status = error.status_code
                report_api_problem("sendgrid", problem_kind(status))
                if status in (401, 403):
                    raise AuthenticationError(_describe(error), status=status) from None
                if status not in RETRYABLE_STATUSES and status < 500:
                    raise ConnectorError(_describe(error), status=status) from None
                last_status, last_reason = status, f"HTTP {status}"
                if status == 429:
                    wait = self._rate_limit_wait(error.headers)
                    retry_after = wait
                    if wait is not None and wait > self.max_wait:
                        raise RetryableError(
                            f"SendGrid {operation} rate limited for {wait:.0f}s",
                            retry_after=wait,
                            status=429,
                        ) from None
            except URLError as error:
                report_api_problem("sendgrid", "network")
                # urllib raises URLError only while connecting or writing the request, so
                # SendGrid has not received a complete request: a retry cannot duplicate.
                last_status, last_reason = None, f"connect: {type(error.reason).__name__}"
            except (OSError, http.client.HTTPException) as error:
                report_api_problem("sendgrid", "network")
                if not idempotent:
                    log.warning(
                        "sendgrid outcome unknown operation=%s error=%s attempt=%d",
                        operation,
                        type(error).__name__,
                        attempt,
                    )
                    raise SendOutcomeUnknown(
                        f"SendGrid {operation}: no answer after the request was sent "
                        f"({type(error).__name__}); do not resend before checking",
                        kizuna_message_ids=kizuna_message_ids,
                    ) from None
                last_status, last_reason = None, type(error).__name__
            if attempt == self.max_attempts:
                break
            delay = wait if wait is not None else self._backoff(attempt)
            log.warning(
                "sendgrid retry operation=%s reason=%s attempt=%d wait=%.2f",
                operation,
                last_reason,
                attempt,
                delay,
            )
            self._sleep(delay)
        raise RetryableError(
            f"SendGrid {operation} failed after {self.max_attempts} attempts ({last_reason})",
            retry_after=retry_after,
            status=last_status,
        )

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret

    def _rate_limit_wait(self, headers: Any) -> float | None:
        """Seconds until the limit resets: X-RateLimit-Reset (epoch), else Retry-After."""
        if headers is None:
            return None
        reset = headers.get("X-RateLimit-Reset")
        if reset:
            try:
                return max(float(reset) - self._clock(), 0.0) + random.uniform(  # noqa: S311
                    0, RATE_LIMIT_JITTER
                )
            except ValueError:
                pass
        retry_after = headers.get("Retry-After")
        if retry_after:
            try:
                return max(float(retry_after), 0.0)
            except ValueError:
                try:
                    moment = parsedate_to_datetime(retry_after)
                except (TypeError, ValueError):
                    return None
                return max(moment.timestamp() - self._clock(), 0.0)
        return None


@dataclass(frozen=True)
class _Response:
    status_code: int
    body: bytes
    headers: http.client.HTTPMessage


class _KeptConnection:
    """POSTs to one URL over a connection kept open between calls, failing the way
    python-http-client does: HTTPError for a non-2xx answer, URLError when nothing was written
    (connecting failed), OSError or HTTPException once the request may have been written."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http(s) URL")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path or "/"
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        connection = self._connection
        if connection is not None and (connection.sock is None or _closed_by_peer(connection)):
            self.close()
            connection = None
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=timeout)
            try:
                connection.connect()
            except OSError as error:
                connection.close()
                raise URLError(error) from error
            self._connection = connection
        elif connection.timeout != timeout and connection.sock is not None:
            connection.timeout = timeout
            connection.sock.settimeout(timeout)
        return connection

    def post(self, payload: bytes, headers: Mapping[str, str], timeout: float | None) -> _Response:
        connection = self._connect(timeout)
        try:
            connection.request("POST", self._path, body=payload, headers=dict(headers))
            answer = connection.getresponse()
            body = answer.read()
        except BaseException:
            self.close()
            raise
        if answer.will_close:
            self.close()
        if not 200 <= answer.status < 300:
            raise HTTPError(answer.status, answer.reason, body, answer.headers)
        return _Response(answer.status, body, answer.headers)


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """An idle kept connection with something to read has been closed (or broken) by the
    server: nothing may be sent on it."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
