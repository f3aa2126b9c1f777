"""Mail Send bodies: every body built is validated against SendGrid's official OpenAPI schema.

Unit tests: no database, no network. The schema is the request body of `POST /v3/mail/send` in
shared/specs/sendgrid/openapi/tsg_mail_v3.json (OpenAPI 3.1, so JSON Schema 2020-12), resolved
with its own `$ref`s and checked with formats on; the sandbox's validator must accept them too.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.sendgrid.mail import (
    MAX_PERSONALIZATIONS,
    InvalidEmailError,
    OutgoingEmail,
    build_batch,
    build_mail_body,
)
from tests.factories.sendgrid_mail import (
    NOW,
    SPEC,
    VALIDATOR,
    assert_valid,
)


def _email(index: int = 0, **overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "kizuna_message_id": f"msg-{index}",
        "from_email": "shop@example.com",
        "to_email": f"customer{index}@example.net",
        "subject": "Your cart is waiting",
        "text": "You left something behind.",
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def _full_email(index: int = 0, **overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "from_name": "Example Shop",
        "to_name": "Customer",
        "html": "<p>Hello -first_name-, you left something behind.</p>",
        "reply_to": "help@example.com",
        "reply_to_name": "Help desk",
        "shop_id": "shop-42",
        "categories": ("abandoned_cart", "flow-3"),
        "custom_args": {"flow_id": "3", "step_id": "2"},
        "substitutions": {"-first_name-": f"Name{index}"},
        "headers": {"X-Entity-Ref-ID": "run-77"},
        "unsubscribe_url": f"https://app.example.com/u/token{index}",
        "unsubscribe_mailto": f"mailto:unsubscribe@app.example.com?subject=token{index}",
        "send_at": NOW + timedelta(hours=1),
    }
    fields.update(overrides)
    return _email(index, **fields)


# --- the schema itself -----------------------------------------------------------------------


def test_schema_is_the_real_one() -> None:
    schema = SPEC["components"]["requestBodies"]["PostMailSend"]
    body_schema = schema["content"]["application/json"]["schema"]
    assert body_schema["required"] == ["personalizations", "from"]
    assert body_schema["properties"]["personalizations"]["maxItems"] == 1000


@pytest.mark.parametrize(
    ("breakage", "path"),
    [
        (lambda body: body.pop("from"), []),
        (lambda body: body["from"].update(email="not-an-address"), ["from", "email"]),
        (lambda body: body["personalizations"][0].pop("to"), ["personalizations", 0]),
        (
            lambda body: body.update(personalizations=body["personalizations"] * 1001),
            ["personalizations"],
        ),
        (lambda body: body.update(categories=[f"c{i}" for i in range(11)]), ["categories"]),
        (lambda body: body.update(subject=""), ["subject"]),
        (lambda body: body["content"][0].update(value=""), ["content", 0, "value"]),
        (lambda body: body["personalizations"][0].update(send_at="soon"), None),
        (lambda body: body["personalizations"][0]["substitutions"].update(n=1), None),
    ],
    ids=[
        "no-from",
        "bad-from-email",
        "no-to",
        "1001-personalizations",
        "11-categories",
        "empty-subject",
        "empty-content",
        "send_at-string",
        "substitution-int",
    ],
)
def test_schema_rejects_broken_bodies(breakage: Any, path: list[Any] | None) -> None:
    body = copy.deepcopy(build_mail_body(_full_email()))
    assert_valid(copy.deepcopy(body))
    breakage(body)
    errors = list(VALIDATOR.iter_errors(body))
    assert errors, "a broken body passed the OpenAPI schema"
    if path is not None:
        assert any(list(error.absolute_path) == path for error in errors)


# --- single bodies ---------------------------------------------------------------------------


def test_minimal_body() -> None:
    body = build_mail_body(_email())
    assert_valid(body)
    assert body == {
        "from": {"email": "shop@example.com"},
        "subject": "Your cart is waiting",
        "personalizations": [
            {
                "to": [{"email": "customer0@example.net"}],
                "custom_args": {"kizuna_message_id": "msg-0"},
            }
        ],
        "content": [{"type": "text/plain", "value": "You left something behind."}],
    }


def test_full_body() -> None:
    body = build_mail_body(_full_email())
    assert_valid(body)
    assert body["from"] == {"email": "shop@example.com", "name": "Example Shop"}
    assert body["reply_to"] == {"email": "help@example.com", "name": "Help desk"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["categories"] == ["abandoned_cart", "flow-3"]
    assert body["headers"] == {"X-Entity-Ref-ID": "run-77"}
    (personalization,) = body["personalizations"]
    assert personalization["to"] == [{"email": "customer0@example.net", "name": "Customer"}]
    assert personalization["headers"] == {
        "List-Unsubscribe": (
            "<https://app.example.com/u/token0>, "
            "<mailto:unsubscribe@app.example.com?subject=token0>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert personalization["custom_args"] == {
        "flow_id": "3",
        "step_id": "2",
        "kizuna_message_id": "msg-0",
        "kizuna_shop_id": "shop-42",
    }
    assert personalization["substitutions"] == {"-first_name-": "Name0"}
    assert personalization["send_at"] == int((NOW + timedelta(hours=1)).timestamp())
    # Message-level custom_args is typed as a string by the spec, so Kizuna never sets it.
    assert "custom_args" not in body


def test_japanese_body() -> None:
    body = build_mail_body(
        _full_email(
            from_name="東京ストア",
            to_name="山田 花子",
            subject="カートに商品が残っています",
            text="-first_name-様、お買い忘れはありませんか？",
            html="<p>-first_name-様、お買い忘れはありませんか？</p>",
            substitutions={"-first_name-": "花子"},
        )
    )
    assert_valid(body)
    assert body["subject"] == "カートに商品が残っています"
    assert body["personalizations"][0]["to"][0]["name"] == "山田 花子"
    assert "花子様" not in json.dumps(body, ensure_ascii=False)  # substituted by SendGrid
    assert body["personalizations"][0]["substitutions"] == {"-first_name-": "花子"}


def test_mailto_only_unsubscribe_has_no_one_click_header() -> None:
    body = build_mail_body(_email(unsubscribe_mailto="mailto:u@app.example.com"))
    assert_valid(body)
    assert body["personalizations"][0]["headers"] == {
        "List-Unsubscribe": "<mailto:u@app.example.com>"
    }


def test_address_is_kept_verbatim() -> None:
    # The helpers would parse a lone "Name <address>" string; the builder never passes one.
    body = build_mail_body(_email(to_email="first.last+tag@example.net"))
    assert body["personalizations"][0]["to"] == [{"email": "first.last+tag@example.net"}]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"text": None}, "html or text"),
        ({"subject": " "}, "subject"),
        ({"from_email": "ショップ@example.com"}, "from_email must be ASCII"),
        ({"to_email": "not-an-address"}, "to_email"),
        ({"kizuna_message_id": "has space"}, "kizuna_message_id"),
        ({"categories": tuple(f"c{i}" for i in range(11))}, "categories"),
        ({"categories": ("a", "a")}, "repeat"),
        ({"categories": ("x" * 256,)}, "category"),
        ({"custom_args": {"customer": "someone@example.com"}}, "personal data"),
        ({"custom_args": {"kizuna_message_id": "other"}}, "Kizuna's own ids"),
        ({"custom_args": {"blob": "x" * 10_000}}, "bytes"),
        ({"headers": {"Subject": "x"}}, "reserved"),
        ({"headers": {"List-Unsubscribe": "<https://x>"}}, "unsubscribe_url"),
        ({"headers": {"X-Bad": "a\r\nBcc: someone"}}, "malformed"),
        ({"unsubscribe_url": "http://app.example.com/u/1"}, "https"),
        ({"unsubscribe_mailto": "u@app.example.com"}, "mailto"),
        ({"unsubscribe_url": "https://app.example.com/u/1>, <https://evil"}, "breaks"),
        ({"send_at": datetime(2026, 5, 1, 13, 0)}, "timezone"),  # noqa: DTZ001
    ],
)
def test_refuses_what_sendgrid_would_or_what_leaks(
    overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidEmailError, match=fragment) as caught:
        build_mail_body(_email(**overrides))
    assert "someone@example.com" not in str(caught.value)


# --- batches ---------------------------------------------------------------------------------


def test_batch_of_2500_is_three_requests_in_order() -> None:
    emails = [_full_email(i) for i in range(2500)]
    bodies = build_batch(emails)
    assert [len(body["personalizations"]) for body in bodies] == [1000, 1000, 500]
    for body in bodies:
        assert_valid(body)
        assert len(body["personalizations"]) <= MAX_PERSONALIZATIONS
    ids = [p["custom_args"]["kizuna_message_id"] for b in bodies for p in b["personalizations"]]
    assert ids == [f"msg-{i}" for i in range(2500)]
    subs = [p["substitutions"]["-first_name-"] for b in bodies for p in b["personalizations"]]
    assert subs == [f"Name{i}" for i in range(2500)]
    unsubscribe = bodies[2]["personalizations"][-1]["headers"]["List-Unsubscribe"]
    assert "token2499" in unsubscribe


def test_batch_groups_by_content_and_keeps_first_appearance_order() -> None:
    emails = [
        _email(0),
        _email(1, subject="Other subject"),
        _email(2),
        _email(3, html="<p>x</p>"),
        _email(4, subject="Other subject"),
    ]
    bodies = build_batch(emails)
    for body in bodies:
        assert_valid(body)
    grouped = [
        [p["custom_args"]["kizuna_message_id"] for p in b["personalizations"]] for b in bodies
    ]
    assert grouped == [["msg-0", "msg-2"], ["msg-1", "msg-4"], ["msg-3"]]


def test_batch_puts_a_repeated_recipient_in_another_request() -> None:
    emails = [_email(0), _email(1, to_email="customer0@example.net"), _email(2)]
    bodies = build_batch(emails)
    assert [len(b["personalizations"]) for b in bodies] == [1, 2]
    for body in bodies:
        assert_valid(body)
        addresses = [p["to"][0]["email"].lower() for p in body["personalizations"]]
        assert len(addresses) == len(set(addresses))


def test_batch_of_nothing_is_no_request() -> None:
    assert build_batch([]) == []


def test_batch_validates_every_email() -> None:
    with pytest.raises(InvalidEmailError):
        build_batch([_email(0), _email(1, text=None)])


def test_categories_and_personalizations_keep_their_order() -> None:
    body = build_batch([_email(i, categories=("z", "a", "m")) for i in range(3)])[0]
    assert body["categories"] == ["z", "a", "m"]
    assert [p["to"][0]["email"] for p in body["personalizations"]] == [
        "customer0@example.net",
        "customer1@example.net",
        "customer2@example.net",
    ]
