"""Inquiries on the customer page: log, list, timeline, resolve, CSRF, shop scoping, and the
pause an open complaint puts on marketing email (checked by the sender at send time).

Real PostgreSQL and Redis (see conftest); each test builds its own account, shop and customer.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Checkout, TimelineEvent
from app.models.flow import FlowRun, Message
from app.models.inquiry import Inquiry
from app.services import inquiries
from tests.factories.admin import login, make_account, make_customer, make_shop, text_of

pytestmark = pytest.mark.integration


@pytest.fixture
def setup(client: Any, runtime: Any, db: Session) -> dict[str, Any]:
    account = make_account(db)
    shop = make_shop(db, account, "tea-house.myshopify.com", name="Tea House")
    customer = make_customer(db, shop, first_name="Hanako", email_marketing_state="SUBSCRIBED")
    login(client, runtime, account)
    return {"account": account, "shop": shop, "customer": customer}


def page_token(client: Any, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text_of(client.get(path)))
    assert match
    return match.group(1)


def log_one(client: Any, customer_id: int, **fields: str) -> Any:
    path = f"/app/customers/{customer_id}"
    data = {"channel": "email", "kind": "question", "subject": "Where is my parcel?"}
    data.update(fields)
    data.setdefault("csrf_token", page_token(client, path))
    return client.post(f"{path}/inquiries", data=data)


def test_log_an_inquiry_and_resolve_it(client: Any, db: Session, setup: dict[str, Any]) -> None:
    customer = setup["customer"]
    response = log_one(
        client, customer.id, kind="complaint", channel="phone", notes="Box arrived crushed"
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/app/customers/{customer.id}?inquiry=logged#inquiries"
    )
    inquiry = db.scalars(select(Inquiry)).one()
    assert (inquiry.shop_id, inquiry.customer_id, inquiry.status, inquiry.kind) == (
        setup["shop"].id,
        customer.id,
        "open",
        "complaint",
    )
    assert inquiry.account_id == setup["account"].id
    assert inquiries.marketing_paused(db, setup["shop"].id, customer.id)

    page = text_of(client.get(f"/app/customers/{customer.id}?inquiry=logged"))
    assert "Inquiry logged." in page
    assert f'data-inquiry-id="{inquiry.id}" data-inquiry-status="open"' in page
    assert "Where is my parcel?" in page
    assert "Box arrived crushed" in page
    assert 'data-field="marketing-paused"' in page
    assert 'data-event-kind="inquiry_opened"' in page
    [event] = db.scalars(select(TimelineEvent).where(TimelineEvent.kind == "inquiry_opened"))
    assert event.detail == {"channel": "phone", "kind": "complaint"}  # no free text

    token = page_token(client, f"/app/customers/{customer.id}")
    resolve = f"/app/customers/{customer.id}/inquiries/{inquiry.id}/resolve"
    assert client.post(resolve, data={"csrf_token": token}).status_code == 302
    assert client.post(resolve, data={"csrf_token": token}).status_code == 302  # twice: no-op
    db.expire_all()
    assert db.get_one(Inquiry, inquiry.id).status == "resolved"
    assert not inquiries.marketing_paused(db, setup["shop"].id, customer.id)
    resolved = db.scalars(select(TimelineEvent).where(TimelineEvent.kind == "inquiry_resolved"))
    assert len(list(resolved)) == 1
    page = text_of(client.get(f"/app/customers/{customer.id}"))
    assert 'data-inquiry-status="resolved"' in page
    assert 'data-field="marketing-paused"' not in page


def test_questions_do_not_pause_marketing(db: Session, setup: dict[str, Any], client: Any) -> None:
    customer = setup["customer"]
    assert log_one(client, customer.id, kind="question").status_code == 302
    assert log_one(client, customer.id, kind="other").status_code == 302
    assert not inquiries.marketing_paused(db, setup["shop"].id, customer.id)


def test_the_japanese_page(client: Any, setup: dict[str, Any]) -> None:
    page = text_of(client.get(f"/app/customers/{setup['customer'].id}?locale=ja"))
    assert "問い合わせを記録" in page
    assert "苦情" in page


def test_csrf_validation_and_scoping(
    client: Any, runtime: Any, db: Session, setup: dict[str, Any]
) -> None:
    customer = setup["customer"]
    assert log_one(client, customer.id, csrf_token="forged").status_code == 400
    no_token = client.post(
        f"/app/customers/{customer.id}/inquiries",
        data={"channel": "email", "kind": "question", "subject": "x"},
    )
    assert no_token.status_code == 400
    bad = log_one(client, customer.id, subject="   ")
    assert bad.headers["Location"].endswith("inquiry_error=subject#inquiries")
    assert log_one(client, customer.id, channel="fax").status_code == 302
    assert db.scalars(select(Inquiry)).all() == []

    other_account = make_account(db, "Someone else")
    other_shop = make_shop(db, other_account, "rival.myshopify.com")
    stranger = make_customer(db, other_shop)
    token = page_token(client, f"/app/customers/{customer.id}")
    refused = client.post(
        f"/app/customers/{stranger.id}/inquiries",
        data={"channel": "email", "kind": "complaint", "subject": "x", "csrf_token": token},
    )
    assert refused.status_code == 404
    theirs = inquiries.log_inquiry(
        db, other_shop.id, stranger.id, inquiries.InquiryInput("email", "complaint", "Theirs")
    )
    resolve = f"/app/customers/{stranger.id}/inquiries/{theirs.id}/resolve"
    assert client.post(resolve, data={"csrf_token": token}).status_code == 404
    mine = f"/app/customers/{customer.id}/inquiries/{theirs.id}/resolve"
    assert client.post(mine, data={"csrf_token": token}).status_code == 404
    db.expire_all()
    assert db.get_one(Inquiry, theirs.id).status == "open"
    with pytest.raises(inquiries.InquiryError):
        inquiries.log_inquiry(
            db, setup["shop"].id, stranger.id, inquiries.InquiryInput("email", "question", "x")
        )


def test_an_open_complaint_stops_the_cart_email_at_send_time(
    app: Any, db: Session, setup: dict[str, Any]
) -> None:
    from jobs.send_email import send_message

    shop, customer = setup["shop"], setup["customer"]
    db.add(Checkout(shop_id=shop.id, external_id="chk-1", customer_id=customer.id, currency="JPY"))
    run = FlowRun(shop_id=shop.id, flow_key="cart", customer_id=customer.id, trigger_key="chk-1")
    db.add(run)
    db.flush()
    msg = Message(shop_id=shop.id, flow_run_id=run.id, step=1, customer_id=customer.id)
    db.add(msg)
    db.commit()
    inquiries.log_inquiry(
        db, shop.id, customer.id, inquiries.InquiryInput("chat", "complaint", "Rude courier")
    )
    assert send_message(msg.id) == "skipped"
    db.expire_all()
    sent = db.get_one(Message, msg.id)
    assert (sent.status, sent.last_error, sent.attempts) == ("skipped", "complaint_open", 0)
