"""The cart flow's shop, checkout webhooks and runs; the SendGrid sandbox and the app
configured to send to it (`sendgrid`, `config`: take them with `config = cart_flow.config`).

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.models import Customer, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from connectors.sandbox.sendgrid import SandboxSendGrid
from tests.conftest import make_test_env
from tests.factories.shopify_webhooks import deliver, make_shop, sample_body

TOKEN = "cart-token-0001"


CUSTOMER_ID = 7001


TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def sendgrid(serve: Any) -> SandboxSendGrid:
    sandbox = SandboxSendGrid()
    sandbox.url = serve(sandbox.wsgi_app).url  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Path, sendgrid: Any) -> Config:
    env = make_test_env(
        database_url,
        redis_url,
        APP_URL="https://kizuna.test",
        SENDGRID_SANDBOX_URL=sendgrid.url,
        SENDGRID_EVENT_PUBLIC_KEY=sendgrid.public_key_b64,
    )
    return load_config(env, instance_path=tmp_path / "instance")


def setup_shop(
    db: Session,
    *,
    consent: str = "SUBSCRIBED",
    timezone: str = "UTC",
    locale: str = "ja",
    flow_config: dict[str, Any] | None = None,
) -> Shop:
    shop = make_shop(db)
    shop.timezone, shop.locale, shop.currency, shop.name = timezone, locale, "JPY", "絆ストア"
    db.add(
        Customer(
            shop_id=shop.id,
            external_id=str(CUSTOMER_ID),
            email="hanako@example.jp",
            email_normalized="hanako@example.jp",
            first_name="花子",
            locale=locale,
            email_marketing_state=consent,
        )
    )
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key="cart",
            enabled=True,
            # Holdout off so the test customer is treated; quiet hours off unless a test wants them.
            config=flow_config
            if flow_config is not None
            else {"holdout_percent": 0, "quiet_hours": None},
        )
    )
    db.commit()
    return shop


def recently(minutes: float = 10) -> str:
    """A platform timestamp shortly before now (stale checkouts start no flow)."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).astimezone(TOKYO).isoformat()


def checkout_body(updated_at: str | None = None, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(sample_body("checkouts.create.json"))
    line = body["line_items"][0]
    line.update(title="抹茶セット", variant_title="缶入り", price="12800", quantity=1)
    body.update(
        token=TOKEN,
        email="hanako@example.jp",
        currency="JPY",
        presentment_currency="JPY",
        total_price="12800",
        created_at=recently(15),
        updated_at=updated_at or recently(),
        completed_at=None,
        abandoned_checkout_url="https://shop.example/checkouts/cart-token-0001/recover?key=k",
        customer={"id": CUSTOMER_ID, "email": "hanako@example.jp", "first_name": "花子"},
        line_items=[line],
    )
    body.pop("id", None)
    body.update(changes)
    return body


def deliver_checkout(client: Any, times: int = 1) -> None:
    for attempt in range(times):
        body = checkout_body(updated_at=recently(10 - attempt / 60))
        response = deliver(client, "checkouts/create", body, webhook_id=f"wh-checkout-{attempt}")
        assert response.status_code == 200


def runs(db: Session) -> list[FlowRun]:
    db.expire_all()
    return list(db.scalars(select(FlowRun).order_by(FlowRun.id)))


def messages(db: Session) -> list[Message]:
    db.expire_all()
    return list(db.scalars(select(Message).order_by(Message.id)))


def scheduled(runtime: Any, queue: str) -> list[str]:
    return ScheduledJobRegistry(queue=Queue(queue, connection=runtime.redis)).get_job_ids()
