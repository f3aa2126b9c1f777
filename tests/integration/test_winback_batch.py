"""Campaign-size win-back sends on PostgreSQL, Redis and the simulated SendGrid: the due emails
of a shop and step leave in one Mail Send request, each recipient with their own greeting and
unsubscribe link, each message sent once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.orchestration import WINBACK, WINBACK_DEFAULTS
from app.models.flow import FlowSetting, Message
from app.queueing import EMAIL
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step, scan_winback
from jobs.send_email import send_message
from tests.factories import cart_flow
from tests.factories.shopify_webhooks import make_shop
from tests.factories.winback import add_customer, winback_runs

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration


def _lapsed_customers(db: Session, names: list[str | None]) -> Any:
    shop = make_shop(db)
    shop.name, shop.locale = "Tea House", "en"
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key=WINBACK,
            config={**WINBACK_DEFAULTS, "holdout_percent": 0, "quiet_hours": None},
        )
    )
    for n, name in enumerate(names):
        customer = add_customer(db, shop, str(9100 + n), [300, 250, 200], "SUBSCRIBED")
        # An English-speaking customer with a name in Latin letters: greeted by the given name.
        customer.first_name, customer.last_name, customer.locale = name, "Yamada", "en"
    db.commit()
    return shop


def test_due_winback_emails_leave_in_one_request(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    _lapsed_customers(db, ["Hanako", "Tom <b>& Jerry", None])
    assert scan_winback() == 3
    for run in winback_runs(db):
        assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)

    assert len(sendgrid.requests_to("/v3/mail/send")) == 1
    by_address = {m.to_email: m for m in sendgrid.outbox}
    assert sorted(by_address) == ["c9100@example.jp", "c9101@example.jp", "c9102@example.jp"]
    assert "Hi Hanako, It has been a while" in (by_address["c9100@example.jp"].html or "")
    assert "Hi Hanako," in (by_address["c9100@example.jp"].text or "")
    escaped = by_address["c9101@example.jp"]
    assert "Hi Tom &lt;b&gt;&amp; Jerry, " in (escaped.html or "")
    assert "<b>&" not in (escaped.html or "")
    assert "Hi Tom <b>& Jerry," in (escaped.text or "")  # plain text is not HTML
    assert "Hi " not in (by_address["c9102@example.jp"].html or "")
    links = {m.to_email: m.headers["List-Unsubscribe"] for m in sendgrid.outbox}
    assert len(set(links.values())) == 3  # one signed link per recipient
    for message in by_address.values():
        assert "-unsub-" not in (message.html or "") + (message.text or "")
        assert "-greeting" not in (message.html or "") + (message.text or "")

    db.expire_all()
    sent = db.scalars(select(Message).order_by(Message.id)).all()
    assert {m.status for m in sent} == {"sent"}
    assert len({m.x_message_id for m in sent}) == 1  # one request, one X-Message-Id
    # The other messages' own send jobs find their rows taken: nothing is sent twice.
    assert [send_message(m.id) for m in sent] == ["skipped"] * 3
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 3


def test_a_refused_batch_fails_every_message_in_it_and_is_not_retried(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _lapsed_customers(db, ["Hanako", "Taro"])
    assert scan_winback() == 2
    for run in winback_runs(db):
        assert run_flow_step(run.id, 1) == "created"
    sendgrid.fail_next(400)
    drain_jobs(EMAIL)
    db.expire_all()
    # Each message keeps the refusal's code and HTTP status, never SendGrid's words.
    assert {(m.status, m.last_error) for m in db.scalars(select(Message))} == {
        ("failed", "sendgrid_refused: status=400")
    }
    assert sendgrid.outbox == []
    db.refresh(shop)
    assert "An email of the Win-back flow" in (shop.last_error or "")
    assert len(sendgrid.requests_to("/v3/mail/send")) == 1
