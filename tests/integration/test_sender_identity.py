"""The shop's sender identity: marketing email waits without it, the admin says so, the merchant
sets it, and what waited leaves carrying the sender's name, reply-to and legal footer.

Real PostgreSQL and Redis, the cart flow over the Shopify webhook, SendGrid simulated over HTTP.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from app.models import Account, Shop
from app.queueing import EMAIL, WEBHOOKS
from app.services.sender_identity import WAITING_FOR_SENDER
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step
from tests.factories import cart_flow
from tests.factories.admin import login
from tests.factories.cart_flow import deliver_checkout, messages, runs, setup_shop

config = cart_flow.config
sendgrid = cart_flow.sendgrid

FORM = {
    "sender_name": "絆ストア株式会社",
    "reply_to": "help@kizuna-store.example",
    "postal_address": "〒150-0001\n東京都渋谷区神宮前1-2-3",
    "contact": "03-1234-5678",
}


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_without_sender_details_email_waits_and_leaves_once_they_are_set(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = setup_shop(db)
    shop.sender_identity = None
    db.commit()
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)

    # Nothing sent, nothing lost: the message waits, marked with the reason.
    assert sendgrid.outbox == []
    [msg] = messages(db)
    assert (msg.status, msg.last_error) == ("pending", WAITING_FOR_SENDER)
    assert msg.not_before is not None

    # The admin says so on every page, and the settings page counts what waits.
    login(client, runtime, db.get_one(Account, shop.account_id))
    home = client.get("/app").get_data(as_text=True)
    assert 'data-banner="sender-identity-missing"' in home
    page = client.get("/app/settings/sender", headers={"Accept-Language": "ja"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-sender-waiting="1"' in text
    assert "特定電子メール法" in text
    assert "送信者情報" in text

    # A bad form is refused with the fields named, nothing stored.
    refused = client.post(
        "/app/settings/sender",
        data={**FORM, "reply_to": "not-an-address", "contact": "", "csrf_token": _csrf(text)},
    )
    assert refused.status_code == 400
    assert 'data-error="reply_to"' in refused.get_data(as_text=True)
    assert 'data-error="contact"' in refused.get_data(as_text=True)
    db.expire_all()
    assert db.get_one(Shop, shop.id).sender_identity is None

    saved = client.post("/app/settings/sender", data={**FORM, "csrf_token": _csrf(text)})
    assert saved.status_code == 302
    assert "released=1" in saved.headers["Location"]
    assert "data-sender-saved" in client.get(saved.headers["Location"]).get_data(as_text=True)
    assert 'data-banner="sender-identity-missing"' not in client.get("/app").get_data(as_text=True)

    # What waited leaves now, from the shop's name, answered to its address, with the footer.
    drain_jobs(EMAIL)
    [sent] = sendgrid.outbox
    assert messages(db)[0].status == "sent"
    assert sent.from_name == "絆ストア株式会社"
    assert sent.reply_to == "help@kizuna-store.example"
    for part in (sent.html or "", sent.text or ""):
        assert "送信者: 絆ストア株式会社" in part
        assert "住所: 〒150-0001, 東京都渋谷区神宮前1-2-3" in part
        assert "お問い合わせ: 03-1234-5678" in part
        assert "配信停止" in part
    assert "data-sender-footer" in (sent.html or "")


def test_the_settings_form_needs_its_csrf_token(client: Any, db: Session, runtime: Any) -> None:
    shop = setup_shop(db)
    login(client, runtime, db.get_one(Account, shop.account_id))
    refused = client.post("/app/settings/sender", data=FORM)
    assert refused.status_code in (400, 403)
    db.expire_all()
    assert db.get_one(Shop, shop.id).sender_identity["sender_name"] != FORM["sender_name"]
