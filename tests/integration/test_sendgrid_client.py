"""The SendGrid client against the simulated SendGrid over real HTTP, and signed event delivery.

Integration tests: loopback HTTP only (no PostgreSQL or Redis). The official `sendgrid` package
and urllib run unpatched; faults come from the sandbox; `sleep` records instead of sleeping.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from typing import Any

import pytest

from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sendgrid.client import SendGridClient, SendOutcomeUnknown
from connectors.sendgrid.events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    parse_events,
    verify_event_signature,
)
from connectors.sendgrid.mail import OutgoingEmail, build_batch, build_mail_body

MAIL_SEND = "/v3/mail/send"


def _email(index: int = 0, **overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "kizuna_message_id": f"msg-{index}",
        "shop_id": "shop-1",
        "from_email": "shop@example.com",
        "from_name": "東京ストア",
        "to_email": f"customer{index}@example.net",
        "subject": "カートに商品が残っています",
        "text": "お買い忘れはありませんか？",
        "html": "<p>お買い忘れはありませんか？</p>",
        "categories": ("abandoned_cart",),
        "unsubscribe_url": f"https://app.example.com/u/{index}",
        "unsubscribe_mailto": "mailto:unsubscribe@app.example.com",
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


class Harness:
    def __init__(self, serve: Any, api_key: str | None = None) -> None:
        self.sandbox = SandboxSendGrid(api_key=api_key)
        self.url = serve(self.sandbox.wsgi_app).url
        self.slept: list[float] = []

    def client(self, api_key: str = "test-key", **options: Any) -> SendGridClient:
        options.setdefault("timeout", 2.0)
        return SendGridClient(api_key, base_url=self.url, sleep=self.slept.append, **options)

    def statuses(self) -> list[int]:
        return [record.status for record in self.sandbox.requests_to(MAIL_SEND)]


@pytest.fixture
def harness(serve: Any) -> Harness:
    return Harness(serve)


def test_202_records_the_message_id(harness: Harness) -> None:
    result = harness.client().send(build_mail_body(_email()))
    assert (result.status, result.attempts) == (202, 1)
    (message,) = harness.sandbox.outbox
    assert result.message_id == message.x_message_id
    assert message.subject == "カートに商品が残っています"
    assert message.from_name == "東京ストア"
    assert message.custom_args == {"kizuna_message_id": "msg-0", "kizuna_shop_id": "shop-1"}
    assert message.categories == ("abandoned_cart",)
    assert message.headers == {
        "List-Unsubscribe": "<https://app.example.com/u/0>, <mailto:unsubscribe@app.example.com>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert harness.slept == []


def test_a_batch_of_2500_is_sent_in_three_requests(harness: Harness) -> None:
    client = harness.client()
    results = [client.send(body) for body in build_batch([_email(i) for i in range(2500)])]
    assert [r.status for r in results] == [202, 202, 202]
    assert len({r.message_id for r in results}) == 3
    outbox = harness.sandbox.outbox
    assert len(outbox) == 2500
    assert [m.kizuna_message_id for m in outbox] == [f"msg-{i}" for i in range(2500)]


def test_429_waits_until_the_rate_limit_resets(harness: Harness) -> None:
    harness.sandbox.fail_next(429, reset_in=1.0)
    # With this backoff, a wait from backoff alone would be 5 s or more.
    client = harness.client(backoff_base=10.0)
    started = time.time()
    result = client.send(build_mail_body(_email()))
    assert (result.status, result.attempts) == (202, 2)
    assert harness.statuses() == [429, 202]
    (wait,) = harness.slept
    # The sandbox rounds the reset up to a whole epoch second; the client adds ≤ 0.25 s jitter.
    assert 0.9 <= wait <= 2.0 + 0.25 + (time.time() - started)
    assert len(harness.sandbox.outbox) == 1


def test_a_rate_limit_longer_than_max_wait_is_left_to_the_caller(harness: Harness) -> None:
    harness.sandbox.fail_next(429, reset_in=120)
    client = harness.client(max_wait=30.0)
    with pytest.raises(RetryableError) as caught:
        client.send(build_mail_body(_email()))
    assert caught.value.status == 429
    assert caught.value.retry_after is not None
    assert 118 <= caught.value.retry_after <= 122
    assert harness.statuses() == [429]
    assert harness.slept == []


def test_500_is_retried_with_growing_jittered_backoff(harness: Harness) -> None:
    harness.sandbox.fail_next(500, count=2)
    result = harness.client(backoff_base=0.5).send(build_mail_body(_email()))
    assert (result.status, result.attempts) == (202, 3)
    assert harness.statuses() == [500, 500, 202]
    first, second = harness.slept
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0
    assert len(harness.sandbox.outbox) == 1


def test_5xx_until_attempts_run_out_is_retryable(harness: Harness) -> None:
    harness.sandbox.fail_next(503, count=10)
    with pytest.raises(RetryableError) as caught:
        harness.client(max_attempts=3).send(build_mail_body(_email()))
    assert caught.value.status == 503
    assert harness.statuses() == [503, 503, 503]
    assert len(harness.slept) == 2
    assert harness.sandbox.outbox == []


def test_400_is_not_retried(harness: Harness) -> None:
    body = build_mail_body(_email())
    del body["from"]
    with pytest.raises(ConnectorError) as caught:
        harness.client().send(body)
    assert not isinstance(caught.value, RetryableError | AuthenticationError)
    assert caught.value.status == 400
    assert "from object must be provided" in str(caught.value)
    assert "field: from.email" in str(caught.value)
    assert harness.statuses() == [400]
    assert harness.slept == []


@pytest.mark.parametrize("status", [400, 404, 413])
def test_injected_4xx_is_not_retried(harness: Harness, status: int) -> None:
    harness.sandbox.fail_next(status)
    with pytest.raises(ConnectorError) as caught:
        harness.client().send(build_mail_body(_email()))
    assert not isinstance(caught.value, RetryableError)
    assert caught.value.status == status
    assert harness.statuses() == [status]


def test_a_wrong_key_is_an_authentication_error(serve: Any) -> None:
    harness = Harness(serve, api_key="the-right-key")
    with pytest.raises(AuthenticationError) as caught:
        harness.client("a-wrong-key").send(build_mail_body(_email()))
    assert caught.value.status == 401
    assert "a-wrong-key" not in str(caught.value)
    assert harness.statuses() == [401]
    assert harness.client("the-right-key").send(build_mail_body(_email())).status == 202


def test_403_is_an_authentication_error(harness: Harness) -> None:
    harness.sandbox.fail_next(403)
    with pytest.raises(AuthenticationError):
        harness.client().send(build_mail_body(_email()))
    assert harness.statuses() == [403]


def test_a_timeout_after_sending_is_an_unknown_outcome_never_resent(harness: Harness) -> None:
    harness.sandbox.delay_next(3.0)
    client = harness.client(timeout=0.3)
    started = time.monotonic()
    with pytest.raises(SendOutcomeUnknown) as caught:
        client.send(build_mail_body(_email(7)))
    assert time.monotonic() - started < 2.5  # the timeout, not the sandbox's delay, ended it
    assert caught.value.kizuna_message_ids == ("msg-7",)
    assert not isinstance(caught.value, RetryableError)
    assert harness.statuses() == [202]  # one request, and SendGrid did accept it
    assert harness.slept == []
    # How Kizuna settles it without a blind resend: ask which messages carry its id.
    (found,) = client.find_messages("msg-7")
    assert found.msg_id == harness.sandbox.outbox[0].sg_message_id
    assert client.find_messages("msg-8") == []


def test_a_refused_connection_is_retried_then_retryable() -> None:
    # A bound socket that never listens: connections to it are refused, and no other server
    # can take its port while the test runs.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    slept: list[float] = []
    client = SendGridClient(
        "test-key", base_url=url, timeout=1.0, max_attempts=3, sleep=slept.append
    )
    with pytest.raises(RetryableError) as caught:
        client.send(build_mail_body(_email()))
    assert caught.value.status is None
    assert "connect" in str(caught.value)
    assert len(slept) == 2
    closed.close()


def test_empty_api_key_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="api_key"):
        SendGridClient("")


# --- signed Event Webhook, end to end --------------------------------------------------------


class EventReceiver:
    """A webhook endpoint that records raw bodies and verifies them with the keys it trusts."""

    def __init__(self, public_key_b64: str) -> None:
        self.public_key_b64 = public_key_b64
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {
            SIGNATURE_HEADER: environ.get("HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE", ""),
            TIMESTAMP_HEADER: environ.get("HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP", ""),
        }
        self.deliveries.append((body, headers))
        verification = verify_event_signature(
            self.public_key_b64, body, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER]
        )
        status = "204 No Content" if verification.ok else "401 Unauthorized"
        start_response(status, [("Content-Length", "0")])
        return [b""]


def test_signed_events_verify_with_the_sandbox_key_only(harness: Harness, serve: Any) -> None:
    result = harness.client().send(build_mail_body(_email(3)))
    (message,) = harness.sandbox.outbox
    events = harness.sandbox.events_for(message, ["processed", "delivered", "open"])

    trusting = EventReceiver(harness.sandbox.public_key_b64)
    assert harness.sandbox.emit_events(serve(trusting).url, events) == 204
    ((body, headers),) = trusting.deliveries
    assert headers[TIMESTAMP_HEADER].isdigit()
    assert abs(int(headers[TIMESTAMP_HEADER]) - time.time()) < 60
    parsed = parse_events(body)
    assert [event.event for event in parsed] == ["processed", "delivered", "open"]
    assert {event.kizuna_message_id for event in parsed} == {"msg-3"}
    assert {event.kizuna_shop_id for event in parsed} == {"shop-1"}
    assert {event.x_message_id for event in parsed} == {result.message_id}

    stranger = EventReceiver(SandboxSendGrid().public_key_b64)
    assert harness.sandbox.emit_events(serve(stranger).url, events) == 401
    ((same_body, same_headers),) = stranger.deliveries
    refused = verify_event_signature(
        stranger.public_key_b64,
        same_body,
        same_headers[SIGNATURE_HEADER],
        same_headers[TIMESTAMP_HEADER],
    )
    assert (refused.ok, refused.reason) == (False, "bad_signature")

    tampered = body.replace(b"delivered", b"delivereD")
    assert not verify_event_signature(
        harness.sandbox.public_key_b64,
        tampered,
        headers[SIGNATURE_HEADER],
        headers[TIMESTAMP_HEADER],
    ).ok


def test_delivered_events_show_in_email_activity(harness: Harness, serve: Any) -> None:
    client = harness.client()
    client.send(build_mail_body(_email(5)))
    (message,) = harness.sandbox.outbox
    receiver = EventReceiver(harness.sandbox.public_key_b64)
    harness.sandbox.emit_events(serve(receiver).url, harness.sandbox.events_for(message))
    (found,) = client.find_messages("msg-5")
    assert found.status == "delivered"
    assert found.last_event_time is not None
