"""A campaign's report filling from the simulated SendGrid's signed engagement events (through
the real Event Webhook endpoint) and the shop's orders: sent, delivered, opened, clicked,
unsubscribed, bounced, the orders and revenue credited to the campaign by the shop's
attribution, and the holdout's conversion and lift with its interval — against a hand count."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns import sending
from app.campaigns.report import campaign_report
from app.db import utcnow
from app.domain.campaigns import lift
from app.models import Order
from app.models.campaign import Campaign, CampaignRecipient
from connectors.sandbox.sendgrid import SandboxSendGrid
from tests.factories import cart_flow
from tests.factories.campaigns import Person, add_people, campaign_shop, draft, vip_segment

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration


def _order(db: Session, shop: Any, customer_id: int, n: int, at: Any, total: int) -> None:
    db.add(
        Order(
            shop_id=shop.id,
            external_id=f"camp-{n}",
            customer_id=customer_id,
            total_price=Decimal(total),
            currency="JPY",
            financial_status="paid",
            processed_at=at,
        )
    )


def test_the_report_fills_from_sendgrid_events_and_orders(
    client: Any, db: Session, runtime: Any, app: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = campaign_shop(db)
    add_people(db, shop, [Person() for _ in range(40)])
    segment = vip_segment(db, shop)
    campaign = draft(db, shop, {"segments": [segment.id], "rfm_groups": []}, holdout_percent=25)
    with app.app_context():
        sending.start(db, shop, campaign, utcnow())
        db.commit()
        sending.send_campaign(runtime, campaign.id)
    db.expire_all()
    started = db.get_one(Campaign, campaign.id).started_at
    assert started is not None
    recipients = list(
        db.scalars(select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id))
    )
    held = sorted(r.customer_id for r in recipients if r.status == "holdout")
    emailed = {r.message_id: r.customer_id for r in recipients if r.status == "emailed"}
    assert held
    assert len(sendgrid.outbox) == len(emailed) == 40 - len(held)

    # Engagement as SendGrid reports it: everyone delivered, the first 10 open, 6 click,
    # one unsubscribes, one bounces.
    at = int((started + timedelta(hours=1)).timestamp())
    messages = sorted(sendgrid.outbox, key=lambda m: int(m.kizuna_message_id or 0))
    for n, message in enumerate(messages):
        kinds = ["processed", "delivered" if n != 29 else "bounce"]
        kinds += ["open"] if n < 10 else []
        kinds += ["click"] if n < 6 else []
        kinds += ["unsubscribe"] if n == 12 else []
        body, headers = sendgrid.signed_delivery(sendgrid.events_for(message, kinds, timestamp=at))
        assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200

    # Orders after the clicks: 3 clickers buy (credited), 2 of the held out buy (not credited,
    # but they count for the holdout's conversion), one clicker's order is cancelled.
    buyers = [emailed[int(m.kizuna_message_id or 0)] for m in messages[:4]]
    placed = started + timedelta(hours=2)
    for n, customer_id in enumerate(buyers[:3]):
        _order(db, shop, customer_id, n, placed, 3000 + n * 1000)
    _order(db, shop, buyers[3], 3, placed, 9999)
    db.flush()
    db.scalars(select(Order).where(Order.external_id == "camp-3")).one().cancelled_at = placed
    for n, customer_id in enumerate(held[:2]):
        _order(db, shop, customer_id, 10 + n, placed, 2000)
    db.commit()

    with app.app_context():
        report = campaign_report(db, shop, campaign.id, now=started + timedelta(hours=3))
    assert report is not None
    treated = len(emailed)
    assert (report.recipients, report.emailed, report.sent, report.holdout) == (
        40,
        treated,
        treated,
        len(held),
    )
    assert (report.delivered, report.opened, report.clicked) == (treated - 1, 10, 6)
    assert (report.unsubscribed, report.bounced, report.failed) == (1, 1, 0)
    assert (report.orders, report.revenue) == (3, Decimal(3000 + 4000 + 5000))
    assert (report.treated_conversions, report.holdout_conversions) == (3, 2)
    expected = lift(3, treated, 2, len(held))
    assert expected is not None
    assert report.lift == pytest.approx(expected.difference)
    assert report.lift_low == pytest.approx(expected.low)
    assert report.lift_high == pytest.approx(expected.high)
    assert report.lift_low is not None
    assert report.lift_low < report.lift < (report.lift_high or 0)
