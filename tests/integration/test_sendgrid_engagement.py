"""The simulated SendGrid's recipients at work: once engagement is on, the emails Kizuna sends get
signed delivered, open, click and bounce events posted back over HTTP on their own, and the flows
page counts them. Real PostgreSQL, Redis and HTTP both ways."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.orchestration import WINBACK, WINBACK_DEFAULTS
from app.models import Account
from app.models.flow import FlowSetting, Message, MessageEvent
from app.queueing import EMAIL
from connectors.sandbox.sendgrid import EngagementModel, SandboxSendGrid
from jobs.flows import run_flow_step, scan_winback
from tests.factories import cart_flow
from tests.factories.admin import login
from tests.factories.shopify_webhooks import make_shop
from tests.factories.winback import add_customer, winback_runs

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration

RECIPIENTS = 20


def _field(page: str, flow: str, name: str) -> int:
    section = page.split(f'id="flow-{flow}"', 1)[1]
    found = re.search(rf'data-field="{name}">([\d,]+)<', section)
    assert found, name
    return int(found.group(1).replace(",", ""))


def test_sent_emails_get_their_events_on_their_own_and_the_flows_page_counts_them(
    client: Any,
    db: Session,
    app: Flask,
    runtime: Any,
    serve: Any,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
) -> None:
    shop = make_shop(db)
    shop.name, shop.locale = "Tea House", "en"
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key=WINBACK,
            config={**WINBACK_DEFAULTS, "holdout_percent": 0, "quiet_hours": None},
        )
    )
    for n in range(RECIPIENTS):
        add_customer(db, shop, str(9300 + n), [300, 250, 200], "SUBSCRIBED")
    db.commit()

    sendgrid.event_webhook_url = f"{serve(app).url}/webhooks/sendgrid"
    # Demo shares, at a pace where the events of a minute come within a second or two.
    sendgrid.start_engagement(EngagementModel(pace=400), seed=4, interval=0.1)
    try:
        assert scan_winback() == RECIPIENTS
        for run in winback_runs(db):
            assert run_flow_step(run.id, 1) == "created"
        drain_jobs(EMAIL)
        assert len(sendgrid.outbox) == RECIPIENTS
        deadline = time.monotonic() + 60  # a bound: a post to a busy server may be retried
        while sendgrid.engagement_pending and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sendgrid.engagement_pending == 0
    finally:
        sendgrid.stop_engagement()

    db.expire_all()
    counts = dict(
        db.execute(select(MessageEvent.event, func.count()).group_by(MessageEvent.event)).all()
    )
    assert counts["processed"] == RECIPIENTS
    assert counts["delivered"] + counts.get("bounce", 0) == RECIPIENTS
    assert counts["delivered"] >= RECIPIENTS * 0.8
    assert 0 < counts["open"] < counts["delivered"]
    assert 0 < counts["click"] <= counts["open"]
    # Every event matched its message, and a click names a link of the email itself.
    assert db.scalar(select(func.count()).where(MessageEvent.message_id.is_(None))) == 0
    clicked = db.scalars(select(Message).where(Message.clicked_at.is_not(None))).all()
    assert len(clicked) == counts["click"]

    login(client, runtime, db.get_one(Account, shop.account_id))
    page = client.get("/app/flows").get_data(as_text=True)
    assert _field(page, "winback", "delivered") == counts["delivered"]
    assert _field(page, "winback", "opened") == counts["open"]
    assert _field(page, "winback", "clicked") == counts["click"]
