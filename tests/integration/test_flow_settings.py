"""Flow settings, preview and outbox pages: validation, saving, effect on the flow, scoping.

Real PostgreSQL, Redis and a simulated SendGrid over HTTP (fixtures from test_cart_flow); the
merchant signs in through a real login link and posts the form with the session's CSRF token.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Account, Customer, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.queues import FLOWS, WEBHOOKS
from tests.integration.test_admin_pages import login, text_of
from tests.integration.test_cart_flow import (  # noqa: F401 - fixtures
    config,
    deliver_checkout,
    runs,
    sendgrid,
    setup_shop,
)
from tests.integration.test_webhook_intake import make_shop

pytestmark = pytest.mark.integration

EN = {"Accept-Language": "en"}  # the test shop speaks Japanese

VALID = {
    "enabled": "1",
    "delay_1": "2",
    "delay_2": "30",
    "delay_3": "96",
    "discount_percent": "15",
    "discount_days": "5",
    "subject_ja_1": "お忘れ物はありませんか",
    "subject_en_1": "",
    "holdout_percent": "20",
    "cap_short": "1",
    "cap_week": "4",
    "quiet_enabled": "1",
    "quiet_start": "22:00",
    "quiet_end": "08:30",
}


def signed_in(client: Any, runtime: Any, db: Session, shop: Shop) -> str:
    """Log in as the shop's account; → the page's CSRF token."""
    login(client, runtime, db.get_one(Account, shop.account_id))
    page = text_of(client.get("/app/flows/cart"))
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def setting(db: Session, shop: Shop) -> FlowSetting:
    db.expire_all()
    return db.scalars(select(FlowSetting).where(FlowSetting.shop_id == shop.id)).one()


def test_bad_values_show_field_errors_and_save_nothing(
    client: Any, db: Session, runtime: Any
) -> None:
    shop = setup_shop(db)
    before = dict(setting(db, shop).config)
    token = signed_in(client, runtime, db, shop)
    bad = {
        **VALID,
        "csrf_token": token,
        "delay_2": "1",  # not after step 1
        "holdout_percent": "80",
        "cap_short": "x",
        "quiet_start": "25:00",
        "subject_en_2": "s" * 151,
        "discount_days": "",
    }
    response = client.post("/app/flows/cart", data=bad, headers=EN)
    assert response.status_code == 400
    page = text_of(response)
    errors = set(re.findall(r'data-error="([^"]+)"', page))
    assert errors == {
        "delay_2",
        "holdout_percent",
        "cap_short",
        "quiet_start",
        "subject_en_2",
        "discount_days",
    }
    assert "Must be later than email 1." in page
    assert "Enter a value from 0 to 50." in page
    assert "nothing was saved" in page
    assert 'value="80"' in page  # the posted values are shown again
    assert setting(db, shop).config == before

    ja = client.post("/app/flows/cart?locale=ja", data=bad)
    assert ja.status_code == 400
    assert "0 から 50 までの値を入力してください。" in text_of(ja)

    # Without the CSRF token nothing happens either.
    refused = client.post("/app/flows/cart", data={**VALID}, headers=EN)
    assert refused.status_code == 400
    assert "This form has expired" in text_of(refused)
    assert setting(db, shop).config == before


def test_valid_settings_are_saved_in_the_keys_the_flow_reads(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop = setup_shop(db)
    token = signed_in(client, runtime, db, shop)
    response = client.post("/app/flows/cart", data={**VALID, "csrf_token": token})
    assert response.status_code == 302
    assert "saved=1" in response.headers["Location"]
    row = setting(db, shop)
    assert row.enabled is True
    assert row.config == {
        "step_delay_hours": [2.0, 30.0, 96.0],
        "holdout_percent": 20,
        "caps": [[1, 16], [4, 168]],
        "quiet_hours": ["22:00", "08:30"],
        "discount_percent": 15,
        "discount_days": 5,
        "subjects": {"ja": {"1": "お忘れ物はありませんか"}},
    }
    page = text_of(client.get(response.headers["Location"], headers=EN))
    assert "Settings saved." in page
    assert 'value="96"' in page
    assert 'value="22:00"' in page

    # Changed delay: the step-1 job is scheduled 2 h after the run starts (holdout back to 0
    # so the test customer is treated).
    response = client.post(
        "/app/flows/cart", data={**VALID, "holdout_percent": "0", "csrf_token": token}
    )
    assert response.status_code == 302
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run.status == "running"
    assert run.next_step_at is not None
    assert run.next_step_at - run.started_at == timedelta(hours=2)
    registry = ScheduledJobRegistry(queue=Queue(FLOWS, connection=runtime.redis))
    when = registry.get_scheduled_time(f"flow-{run.id}-1")
    assert abs(when.timestamp() - run.next_step_at.timestamp()) < 2


def test_a_disabled_flow_starts_no_run(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop = setup_shop(db)
    token = signed_in(client, runtime, db, shop)
    data = {k: v for k, v in VALID.items() if k != "enabled"}
    response = client.post("/app/flows/cart", data={**data, "csrf_token": token})
    assert response.status_code == 302
    assert setting(db, shop).enabled is False
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    assert runs(db) == []
    page = text_of(client.get("/app/flows", headers=EN))
    assert "Off" in page


def test_preview_renders_a_real_customers_cart_with_the_senders_render(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop = setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    token = signed_in(client, runtime, db, shop)
    client.post("/app/flows/cart", data={**VALID, "csrf_token": token})
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()

    page = text_of(client.get("/app/flows/cart", headers=EN))
    assert f"(customer {customer.id})" in page
    assert page.count('data-step="') == 3
    assert "抹茶セット" in page
    assert "¥12,800" in page
    # The merchant's subject for step 1 (the customer reads Japanese), built-in ones after.
    assert "お忘れ物はありませんか" in page
    assert "お買い物カゴの商品をお取り置きしています" in page
    assert "/unsubscribe/" not in page  # links are neutralised in the preview
    assert 'sandbox=""' in page
    # Previewing stores nothing and creates no discount.
    assert db.scalars(select(Message)).all() == []
    assert len(db.scalars(select(FlowRun)).all()) == 1

    chosen = text_of(client.get(f"/app/flows/cart?customer_id={customer.id}"))
    assert "抹茶セット" in chosen
    other_shop = make_shop(db, domain="other.myshopify.com")
    stranger = Customer(shop_id=other_shop.id, external_id="1", email="x@example.com")
    db.add(stranger)
    db.commit()
    refused = text_of(client.get(f"/app/flows/cart?customer_id={stranger.id}", headers=EN))
    assert "This customer has no checkout in this store." in refused
    assert client.get("/app/flows/nope").status_code == 404


def _sandbox_mail(shop_id: int, to: str, subject: str) -> dict[str, Any]:
    return {
        "from": {"email": "shop@example.com"},
        "personalizations": [{"to": [{"email": to}]}],
        "subject": subject,
        "content": [{"type": "text/plain", "value": "hi"}],
        "categories": ["kizuna", "flow-cart", "cart-step-1"],
        "custom_args": {"kizuna_shop_id": str(shop_id), "kizuna_message_id": "1"},
    }


def test_outbox_shows_only_this_shops_sandbox_messages(
    client: Any,
    db: Session,
    runtime: Any,
    sendgrid: SandboxSendGrid,  # noqa: F811
) -> None:
    shop = setup_shop(db)
    other = make_shop(db, domain="other.myshopify.com")
    sendgrid.accept(_sandbox_mail(shop.id, "mine@example.com", "Subject for my shop"))
    sendgrid.accept(_sandbox_mail(other.id, "theirs@example.com", "Subject for the other shop"))
    sendgrid.accept({**_sandbox_mail(shop.id, "x@example.com", "No shop"), "custom_args": {}})
    login(client, runtime, db.get_one(Account, shop.account_id))
    page = text_of(client.get("/app/outbox", headers=EN))
    assert "simulated SendGrid" in page
    assert "mine@example.com" in page
    assert "Subject for my shop" in page
    assert "cart-step-1" in page
    assert "theirs@example.com" not in page
    assert "other shop" not in page
    assert "No shop" not in page


def test_outbox_with_real_sendgrid_lists_kizunas_messages(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, monkeypatch: Any
) -> None:
    shop = setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    db.add(
        Message(
            shop_id=shop.id,
            flow_run_id=run.id,
            step=1,
            customer_id=run.customer_id,
            status="sent",
            subject="Kizuna's own record",
        )
    )
    db.commit()
    monkeypatch.setattr(
        runtime,
        "config",
        replace(runtime.config, sendgrid_api_key="SG.test", sendgrid_sandbox_url=None),
    )
    login(client, runtime, db.get_one(Account, shop.account_id))
    page = text_of(client.get("/app/outbox", headers=EN))
    assert "Emails Kizuna sent for this store" in page
    assert "Kizuna&#39;s own record" in page
    assert "hanako@example.jp" in page
