"""A campaign's audience on PostgreSQL: segments and RFM groups unioned without duplicates, the
live count after consent, suppression, an open complaint, smart sending, the frequency cap and
the holdout — checked against a hand count — and the send leaving out exactly those people,
each for the reason the count gave."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns import audience, sending
from app.db import utcnow
from app.domain.campaigns import in_holdout
from app.models.campaign import CampaignRecipient
from app.models.flow import Message, Suppression
from app.models.inquiry import Inquiry
from connectors.sandbox.sendgrid import SandboxSendGrid
from tests.factories import cart_flow
from tests.factories.campaigns import Person, add_people, campaign_shop, draft, vip_segment

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration


def _world(db: Session) -> Any:
    """20 VIPs (4 of them also 'champions'), 5 champions without the tag, and the people the
    rules leave out among the VIPs."""
    shop = campaign_shop(db)
    people = [Person(group="champions" if n < 4 else None) for n in range(20)]
    people += [Person(tags=(), group="champions") for _ in range(5)]
    people += [Person(tags=(), group="lost")]  # in neither
    people[1] = Person(consent="UNSUBSCRIBED")
    people[2] = Person(consent=None)
    people[3] = Person(email=None)  # no address: counts as suppressed
    customers = add_people(db, shop, people)
    db.add(Suppression(shop_id=shop.id, email_normalized=customers[4].email, reason="bounce"))
    db.add(
        Inquiry(
            shop_id=shop.id,
            customer_id=customers[5].id,
            channel="email",
            kind="complaint",
            status="open",
            subject="Damaged parcel",
        )
    )
    now = utcnow()
    # customers 6 and 7: emailed 3 h ago (smart sending 24 h catches both; the 16 h cap too);
    # customer 8: emailed 20 h ago (smart sending only); customers 9: 5 times this week (cap).
    recent = {6: [3], 7: [3], 8: [20], 9: [30, 50, 70, 90, 110]}
    for index, hours in recent.items():
        for h in hours:
            db.add(
                Message(
                    shop_id=shop.id,
                    campaign_id=None,
                    flow_run_id=None,
                    step=0,
                    customer_id=customers[index].id,
                    status="sent",
                    sent_at=now - timedelta(hours=h),
                )
            )
    db.commit()
    return shop, customers, vip_segment(db, shop)


def test_the_count_matches_a_hand_count_and_the_send_leaves_out_the_same_people(
    db: Session, runtime: Any, app: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, customers, segment = _world(db)
    chosen = {"segments": [segment.id], "rfm_groups": ["champions"]}
    campaign = draft(db, shop, chosen, holdout_percent=20, smart_sending_hours=24)
    members = customers[:25]  # 20 VIPs ∪ 9 champions, 4 of them in both: 25 people
    expected_reasons = {
        customers[1].id: "no_consent",
        customers[2].id: "no_consent",
        customers[3].id: "suppressed",
        customers[4].id: "suppressed",
        customers[5].id: "complaint_open",
        customers[6].id: "smart_sending",
        customers[7].id: "smart_sending",
        customers[8].id: "smart_sending",
        customers[9].id: "frequency_cap",
    }
    eligible = [c.id for c in members if c.id not in expected_reasons]
    held = [cid for cid in eligible if in_holdout(campaign.id, cid, 20)]
    assert 0 < len(held) < len(eligible)  # the hash actually splits this audience

    with app.app_context():
        counted = audience.count(db, shop, campaign, utcnow())
    assert counted == audience.AudienceCount(
        total=25,
        no_consent=2,
        suppressed=2,
        complaint_open=1,
        smart_sending=3,
        frequency_cap=1,
        holdout=len(held),
        will_receive=len(eligible) - len(held),
    )
    # Without smart sending, 6 and 7 meet the 16-hour cap instead and 8 receives it.
    with app.app_context():
        plain = audience.count(db, shop, chosen, utcnow())
    assert (plain.smart_sending, plain.frequency_cap, plain.holdout) == (0, 3, 0)
    assert plain.will_receive == len(eligible) + 1

    with app.app_context():
        sending.start(db, shop, campaign, utcnow())
        db.commit()
        outcome = sending.send_campaign(runtime, campaign.id)
    assert outcome["sent:sent"] == len(eligible) - len(held)
    db.expire_all()
    rows = {r.customer_id: r for r in db.scalars(select(CampaignRecipient))}
    assert sorted(rows) == sorted(c.id for c in members)
    assert {cid: r.skip_reason for cid, r in rows.items() if r.status == "skipped"} == (
        expected_reasons
    )
    assert sorted(cid for cid, r in rows.items() if r.status == "holdout") == sorted(held)
    statuses = Counter(r.status for r in rows.values())
    assert statuses["emailed"] == counted.will_receive
    assert len(sendgrid.outbox) == counted.will_receive
    assert db.get_one(type(campaign), campaign.id).status == "sent"


def test_the_snapshots_holdout_in_sql_is_the_domains_on_both_databases(db_or_sqlite: Any) -> None:
    from sqlalchemy import literal

    from app.domain.campaigns import holdout_bucket

    ids = [1, 2, 99, 1000, 65_537, 1_000_003, 2_000_000_011, 2**31 - 1]
    for campaign_id in (1, 42, 987_654):
        expressions = [audience.holdout_bucket_sql(campaign_id, literal(i)) for i in ids]
        row = db_or_sqlite.execute(select(*expressions)).one()
        assert list(row) == [holdout_bucket(campaign_id, i) for i in ids]
