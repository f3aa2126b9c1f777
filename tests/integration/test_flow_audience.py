"""A saved segment as a flow's audience, on PostgreSQL, Redis and the simulated SendGrid: only
members enter, a member who leaves the segment exits before the next email, a deleted segment
lets nobody in."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Customer
from app.models.flow import FlowSetting
from app.models.segment import SavedSegment
from app.queueing import EMAIL, WEBHOOKS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step
from tests.factories import cart_flow
from tests.factories.cart_flow import deliver_checkout, runs, setup_shop

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration


JAPAN = {"match": "all", "rules": [{"field": "country", "op": "is", "value": "JP"}]}


def _audience(db: Session, country: str | None, *, deleted: bool = False) -> None:
    shop_id = db.scalars(select(Customer.shop_id)).one()
    customer = db.scalars(select(Customer)).one()
    customer.country_code = country
    segment = SavedSegment(shop_id=shop_id, name="Japan", rule=JAPAN)
    db.add(segment)
    db.flush()
    setting = db.scalars(select(FlowSetting).where(FlowSetting.flow_key == "cart")).one()
    setting.config = {**setting.config, "audience_segment_id": segment.id}
    if deleted:
        db.delete(segment)
    db.commit()


def test_a_member_enters_and_is_emailed(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    _audience(db, "JP")
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    (run,) = runs(db)
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 1


def test_a_non_member_never_enters(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    _audience(db, "US")
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    assert runs(db) == []


def test_a_member_who_leaves_the_segment_exits_before_the_email(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    _audience(db, "JP")
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    (run,) = runs(db)
    customer = db.scalars(select(Customer)).one()
    customer.country_code = "US"
    db.commit()
    assert run_flow_step(run.id, 1) == "exited:not_in_audience"
    drain_jobs(EMAIL)
    assert sendgrid.outbox == []


def test_a_deleted_audience_segment_lets_nobody_in(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    setup_shop(db)
    _audience(db, "JP", deleted=True)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    assert runs(db) == []
