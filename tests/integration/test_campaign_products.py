"""A campaign's product grids: chosen products are the same for everyone (shared content), and a
recommended grid is each recipient's own, from the shop's precomputed cross-sells and best
sellers, never a product they already own unless it is a consumable due again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.campaigns import sending
from app.db import utcnow
from app.flows.post_purchase import refresh_history_stats
from app.models import Customer
from app.services import segments
from connectors.sandbox.sendgrid import SandboxSendGrid
from tests.factories import cart_flow
from tests.factories.campaigns import draft
from tests.factories.post_purchase import BOWL, SCOOP, TEA, TRAY, WHISK, add_history, setup_shop

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration

SUBSCRIBED = {"match": "all", "rules": [{"field": "consent", "op": "is", "value": "subscribed"}]}


def test_chosen_products_are_shared_and_recommendations_are_each_recipients_own(
    db: Session, runtime: Any, app: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, hanako = setup_shop(db, domain="camp-products.myshopify.com")
    for customer, days, products in (
        ("2", 100, [BOWL, WHISK, TEA]), ("2", 70, [TEA]), ("2", 40, [TEA]),
        ("3", 90, [BOWL, TEA, SCOOP]), ("3", 60, [TEA]), ("4", 80, [BOWL, WHISK]),
        ("4", 50, [TEA]), ("4", 20, [TEA]),
    ):  # fmt: skip
        add_history(db, shop, customer, days, products)
    add_history(db, shop, hanako.external_id, 5, [BOWL])  # Hanako owns the bowl
    db.add(
        Customer(
            shop_id=shop.id,
            external_id="8001",
            email="taro@example.jp",
            email_normalized="taro@example.jp",
            first_name="Taro",
            locale="en",
            email_marketing_state="SUBSCRIBED",
        )
    )
    db.commit()
    refresh_history_stats(db, shop.id)
    saved = segments.save_segment(db, shop.id, "Subscribed", SUBSCRIBED).segment
    assert saved is not None
    db.commit()
    grids = (
        {"type": "products", "mode": "chosen", "product_ids": [TRAY], "count": 1},
        {"type": "products", "mode": "recommended", "product_ids": [], "count": 2},
    )
    body = {
        "coupon": None,
        "en": {"subject": "New in", "preheader": "", "blocks": list(grids)},
        "ja": {"subject": "新着のご案内", "preheader": "", "blocks": list(grids)},
    }
    campaign = draft(db, shop, {"segments": [saved.id], "rfm_groups": []}, body=body)
    with app.app_context():
        sending.start(db, shop, campaign, utcnow())
        db.commit()
        sending.send_campaign(runtime, campaign.id)

    by_address = {m.to_email: m.html or "" for m in sendgrid.outbox}
    assert sorted(by_address) == ["hanako@example.jp", "taro@example.jp"]
    hanako_html, taro_html = by_address["hanako@example.jp"], by_address["taro@example.jp"]
    for html in (hanako_html, taro_html):
        assert "盆" in html  # the chosen product, in the shared content
        assert "-campaign_recs" not in html
    assert "抹茶碗" not in hanako_html  # she owns the bowl: not offered again
    assert "茶筅" in hanako_html  # bought with the bowl by others
    assert "宇治抹茶 30g" in taro_html  # no history: the best seller
    assert len(sendgrid.requests_to("/v3/mail/send")) == 2  # ja and en, shared content each
