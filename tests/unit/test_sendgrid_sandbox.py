"""The simulated SendGrid's routes, driven in-process through werkzeug's test client.

Unit tests: no database, no network. Over real HTTP the same app is exercised by
tests/integration/test_sendgrid_client.py; here each rule of the simulation is pinned down.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from werkzeug.test import Client

from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sendgrid.events import parse_events, verify_event_signature
from connectors.sendgrid.mail import OutgoingEmail, build_batch, build_mail_body

AUTH = {"Authorization": "Bearer test-key"}


def _email(index: int = 0, **overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "kizuna_message_id": f"msg-{index}",
        "from_email": "shop@example.com",
        "to_email": f"customer{index}@example.net",
        "subject": "Hello -name-",
        "text": "Hi -name-",
        "html": "<p>Hi -name-</p>",
        "substitutions": {"-name-": f"N{index}"},
        "categories": ("welcome",),
        "shop_id": "7",
        "unsubscribe_url": f"https://app.example.com/u/{index}",
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


@pytest.fixture
def sandbox() -> SandboxSendGrid:
    return SandboxSendGrid()


@pytest.fixture
def http(sandbox: SandboxSendGrid) -> Client:
    return Client(sandbox.wsgi_app)


def _send(http: Client, body: Any, headers: dict[str, str] | None = None) -> Any:
    return http.post("/v3/mail/send", json=body, headers=AUTH if headers is None else headers)


def test_accepts_a_mail_and_stores_each_personalization(
    sandbox: SandboxSendGrid, http: Client
) -> None:
    (body,) = build_batch([_email(0), _email(1)])
    response = _send(http, body)
    assert response.status_code == 202
    assert response.get_data() == b""
    message_id = response.headers["X-Message-Id"]
    assert len(message_id) == 22
    first, second = sandbox.outbox
    assert first.x_message_id == second.x_message_id == message_id
    assert first.sg_message_id != second.sg_message_id
    assert first.sg_message_id.startswith(message_id + ".")
    assert (first.to_email, first.subject, first.text) == (
        "customer0@example.net",
        "Hello N0",
        "Hi N0",
    )
    assert second.html == "<p>Hi N1</p>"
    assert first.custom_args == {"kizuna_message_id": "msg-0", "kizuna_shop_id": "7"}
    assert first.categories == ("welcome",)
    assert first.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer "}, 401), ({"Authorization": "Basic abc"}, 401)],
)
def test_requires_a_bearer_key(http: Client, headers: dict[str, str], status: int) -> None:
    response = _send(http, build_mail_body(_email()), headers)
    assert response.status_code == status
    assert response.get_json()["errors"][0]["message"] == "authorization required"


def test_a_configured_key_must_match() -> None:
    http = Client(SandboxSendGrid(api_key="right-key").wsgi_app)
    body = build_mail_body(_email())
    assert _send(http, body, {"Authorization": "Bearer wrong-key"}).status_code == 401
    assert _send(http, body, {"Authorization": "Bearer right-key"}).status_code == 202


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body.pop("from"), "from.email"),
        (lambda body: body.pop("subject"), "subject"),
        (lambda body: body.pop("content"), "content"),
        (lambda body: body.pop("personalizations"), "personalizations"),
        (lambda body: body.update(personalizations=[]), "personalizations"),
        (lambda body: body["personalizations"][0].pop("to"), "personalizations.0.to"),
        (
            lambda body: body["personalizations"][0]["to"].append(
                dict(body["personalizations"][0]["to"][0])
            ),
            "personalizations.0.to.1.email",
        ),
        (lambda body: body.update(categories=[f"c{i}" for i in range(11)]), "categories"),
        (lambda body: body.update(headers={"Reply-To": "x"}), "headers"),
        (lambda body: body["content"].reverse(), "content"),
        (
            lambda body: body["personalizations"][0].update(send_at=int(time.time()) + 73 * 3600),
            "personalizations.0.send_at",
        ),
    ],
)
def test_refuses_bodies_like_sendgrid(
    sandbox: SandboxSendGrid, http: Client, change: Any, field: str
) -> None:
    body = build_mail_body(_email())
    change(body)
    response = _send(http, body)
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert field in [entry["field"] for entry in errors]
    assert all(set(entry) == {"message", "field", "help"} for entry in errors)
    assert sandbox.outbox == []


def test_refuses_more_than_1000_personalizations(http: Client) -> None:
    body = build_mail_body(_email())
    body["personalizations"] = [{"to": [{"email": f"c{i}@example.net"}]} for i in range(1001)]
    response = _send(http, body)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "personalizations"
    body["personalizations"] = body["personalizations"][:1000]
    assert _send(http, body).status_code == 202


def test_invalid_json_is_a_bad_request(http: Client) -> None:
    response = http.post("/v3/mail/send", data=b"{nope", headers=AUTH)
    assert response.status_code == 400
    assert response.get_json() == {
        "errors": [{"message": "Bad Request", "field": None, "help": None}]
    }


def test_sandbox_mode_validates_without_storing(sandbox: SandboxSendGrid, http: Client) -> None:
    body = build_mail_body(_email())
    body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    response = _send(http, body)
    assert response.status_code == 200
    assert sandbox.outbox == []


def test_faults_are_consumed_in_order_by_api_requests_only(
    sandbox: SandboxSendGrid, http: Client
) -> None:
    sandbox.fail_next(429, reset_in=30)
    sandbox.fail_next(500)
    assert http.get("/_sandbox/outbox").status_code == 200  # controls never fail
    body = build_mail_body(_email())
    limited = _send(http, body)
    assert limited.status_code == 429
    assert limited.get_json() == {"errors": [{"field": None, "message": "too many requests"}]}
    reset = int(limited.headers["X-RateLimit-Reset"])
    assert time.time() + 29 <= reset <= time.time() + 31
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert _send(http, body).status_code == 500
    assert _send(http, body).status_code == 202
    assert [r.status for r in sandbox.requests_to("/v3/mail/send")] == [429, 500, 202]


def test_outbox_listing_is_newest_first_and_filterable(
    sandbox: SandboxSendGrid, http: Client
) -> None:
    for index in range(3):
        assert _send(http, build_mail_body(_email(index))).status_code == 202
    listing = http.get("/_sandbox/outbox?limit=2").get_json()
    assert listing["total"] == 3
    assert [m["custom_args"]["kizuna_message_id"] for m in listing["messages"]] == [
        "msg-2",
        "msg-1",
    ]
    (only,) = http.get("/_sandbox/outbox?kizuna_message_id=msg-0").get_json()["messages"]
    one = http.get(f"/_sandbox/outbox/{only['sg_message_id']}").get_json()
    assert one["subject"] == "Hello N0"
    assert http.get("/_sandbox/outbox/unknown").status_code == 404
    assert http.delete("/_sandbox/outbox").status_code == 204
    assert sandbox.outbox == []


def test_email_activity_query_subset(sandbox: SandboxSendGrid, http: Client) -> None:
    for index in range(2):
        _send(http, build_mail_body(_email(index)))
    query = "unique_args['kizuna_message_id']=\"msg-1\""
    found = http.get("/v3/messages", query_string={"query": query}, headers=AUTH).get_json()
    (row,) = found["messages"]
    assert row["msg_id"] == sandbox.outbox[1].sg_message_id
    assert row["status"] == "processed"
    prefix = sandbox.outbox[0].x_message_id
    like = f"msg_id LIKE '{prefix}%' AND status=\"processed\""
    rows = http.get("/v3/messages", query_string={"query": like}, headers=AUTH).get_json()
    assert [r["msg_id"] for r in rows["messages"]] == [sandbox.outbox[0].sg_message_id]
    bad = http.get("/v3/messages", query_string={"query": "drop table"}, headers=AUTH)
    assert bad.status_code == 400
    assert http.get("/v3/messages").status_code == 401


def test_events_for_a_message_parse_and_verify(sandbox: SandboxSendGrid, http: Client) -> None:
    _send(http, build_mail_body(_email(custom_args={"event": "spoof"})))
    (message,) = sandbox.outbox
    events = sandbox.events_for(message, ["processed", "delivered", "click", "bounce"])
    payload, headers = sandbox.signed_delivery(events)
    verification = verify_event_signature(
        sandbox.public_key_b64,
        payload,
        headers["X-Twilio-Email-Event-Webhook-Signature"],
        headers["X-Twilio-Email-Event-Webhook-Timestamp"],
    )
    assert verification.ok
    parsed = parse_events(payload)
    assert [e.event for e in parsed] == ["processed", "delivered", "click", "bounce"]  # not "spoof"
    assert {e.kizuna_message_id for e in parsed} == {"msg-0"}
    assert {e.x_message_id for e in parsed} == {message.x_message_id}
    assert parsed[2].url is not None
    assert parsed[3].type == "bounce"
    assert json.loads(payload)[0]["category"] == "welcome"


def test_public_key_route_matches_the_attribute(sandbox: SandboxSendGrid, http: Client) -> None:
    assert http.get("/_sandbox/public_key").get_json() == {"public_key": sandbox.public_key_b64}
    assert sandbox.public_key_b64.startswith("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
    assert len(sandbox.public_key_b64) == 124
