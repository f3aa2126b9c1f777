"""A merchant's campaign inside the (simulated) Shopify admin, with no cookies at all: written in
the block editor in Japanese and English, previewed for a customer picked by name, test-sent to
the merchant, scheduled to a saved segment in the shop's time zone, sent when its time comes,
and its report filled by the simulated SendGrid's delivered, open and click events.

Every request after the first document load is a fetch carrying App Bridge's session token. The
send runs as a worker runs it (the scheduler's tick, then the queued jobs drained in this
process); the recipients' events arrive over HTTP, signed, as SendGrid's Event Webhook sends them.
Screenshots go to `tests/artifacts/` (git-ignored).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns import sending
from app.config import Config
from app.models import Product
from app.models.campaign import Campaign
from app.services import segments
from connectors.sandbox.sendgrid.engagement import EngagementModel
from tests.conftest import drain
from tests.e2e import simulated_admin
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ARTIFACTS
from tests.e2e.simulated_admin import Stack, build_world, open_context

config = simulated_admin.config
sendgrid = simulated_admin.sendgrid
servers = simulated_admin.servers
stack = simulated_admin.stack

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

JP_RULE = {"match": "all", "rules": [{"field": "country", "op": "is", "value": "JP"}]}
MERCHANT = "owner@tea-house.example"
# Every recipient's email is delivered, opened and clicked within about a second.
ENGAGED = EngagementModel(
    bounce_share=0.0, open_share=1.0, click_share=1.0, unsubscribe_share=0.0, pace=400.0
)


def test_a_campaign_from_the_editor_to_its_report(
    stack: Stack, config: Config, db: Session, app: Flask, runtime: Any, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    world = build_world(db, stack, config, "ja")
    saved = segments.save_segment(db, world.shop.id, "Japan", JP_RULE)
    assert saved.segment is not None
    db.add(Product(shop_id=world.shop.id, external_id="gid-sencha", title="Sencha 100g"))
    db.commit()
    stack.sendgrid.event_webhook_url = f"{stack.app_url}/webhooks/sendgrid"

    context, traffic = open_context(browser_page.context.browser, stack.app_url, "ja")
    errors: list[str] = []
    page = context.new_page()
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    app_frame = page.frame_locator("#app-iframe")

    def go(target: Any) -> None:
        target.click()
        expect(app_frame.locator("html[aria-busy]")).to_have_count(0)

    def shot(name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"campaign-{name}.png"), full_page=True)

    try:
        page.goto(stack.admin_url("ja"))
        expect(app_frame.locator("body.is-embedded")).to_have_count(1)
        go(app_frame.locator('nav.tabs a[href^="/app/campaigns"]'))
        go(app_frame.get_by_test_id("new-campaign"))
        editor = app_frame.get_by_test_id("campaign-editor")

        # Audience: the saved segment; the live count leaves out who gave no consent.
        editor.get_by_test_id("campaign-name").fill("Winter tea")
        editor.get_by_test_id(f"segment-{saved.segment.id}").check()
        will_receive = editor.locator('[data-count="will_receive"]')
        expect(will_receive).to_have_text("1")
        expect(editor.locator('[data-count="total"]')).to_have_text("3")

        # Japanese: subject, heading, text, a button and a grid of a product picked by name.
        expect(editor.get_by_test_id("tab-ja")).to_have_attribute("aria-selected", "true")
        editor.get_by_test_id("subject-ja").fill("冬の新茶")
        editor.get_by_test_id("preheader-ja").fill("今週だけのお知らせ")
        ja = editor.get_by_test_id("blocks-ja")
        ja.get_by_test_id("block-ja-0").locator("[data-name=text]").fill("冬の新茶が届きました")
        ja.get_by_test_id("block-ja-1").locator("[data-name=text]").fill("温かいお茶で一息。")
        editor.get_by_test_id("add-button-ja").click()
        button = ja.get_by_test_id("block-ja-2")
        button.locator("[data-name=label]").fill("見てみる")
        button.locator("[data-name=url]").fill("https://tea-house.example/winter")
        editor.get_by_test_id("add-products-ja").click()
        grid = ja.get_by_test_id("block-ja-3")
        grid.get_by_test_id("block-mode").select_option("chosen")
        grid.get_by_test_id("product-search").fill("sen")
        grid.get_by_role("option", name="Sencha 100g").click()
        expect(grid.locator(".chip")).to_have_text("Sencha 100g ×")
        # A block moved up and back: the order (and the names the server reads) follow.
        button.locator('[data-role="up"]').click()
        expect(ja.get_by_test_id("block-ja-1").locator("[data-name=label]")).to_have_value(
            "見てみる"
        )
        ja.get_by_test_id("block-ja-1").locator('[data-role="down"]').click()

        # The preview follows the tab's language, for the customer picked by name.
        frame = editor.frame_locator('[data-testid="preview-frame"]')
        expect(editor.get_by_test_id("preview-subject")).to_have_text("冬の新茶")
        expect(frame.locator("body")).to_contain_text("冬の新茶が届きました")
        expect(frame.locator("body")).to_contain_text("Sencha 100g")
        editor.get_by_test_id("preview-customer").fill("Hanako")
        editor.get_by_role("option", name="Tanaka").click()
        expect(frame.locator("body")).to_contain_text("Tanaka")

        # English: the Japanese blocks copied, then written in English.
        editor.get_by_test_id("tab-en").click()
        editor.get_by_test_id("copy-ja-to-en").click()
        editor.get_by_test_id("subject-en").fill("Winter tea is here")
        en = editor.get_by_test_id("blocks-en")
        en.get_by_test_id("block-en-0").locator("[data-name=text]").fill(
            "Winter sencha has arrived"
        )
        en.get_by_test_id("block-en-1").locator("[data-name=text]").fill(
            "A warm cup for a cold day."
        )
        en.get_by_test_id("block-en-2").locator("[data-name=label]").fill("Take a look")
        expect(editor.get_by_test_id("preview-lang")).to_have_value("en")
        expect(editor.get_by_test_id("preview-subject")).to_have_text("Winter tea is here")
        expect(frame.locator("body")).to_contain_text("Winter sencha has arrived")
        expect(frame.locator("body")).to_contain_text("Sencha 100g")
        shot("01-editor")
        # On a phone (390 px) nothing is wider than the screen.
        page.set_viewport_size({"width": 390, "height": 844})
        overflow = (
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        expect(editor.get_by_test_id("preview-frame")).to_be_visible()
        assert app_frame.locator("html").evaluate(overflow) <= 0
        shot("01-editor-phone")
        page.set_viewport_size({"width": 1280, "height": 900})

        # A test to the merchant's own address, in English: saved first, then sent.
        editor.get_by_test_id("test-email").fill(MERCHANT)
        editor.get_by_test_id("test-lang").select_option("en")
        go(editor.get_by_test_id("send-test"))
        expect(app_frame.locator('[data-field="tested"]')).to_be_visible()
        tests = [m for m in stack.sendgrid.outbox if m.to_email == MERCHANT]
        assert [m.subject for m in tests] == ["[Test] Winter tea is here"]
        assert "Winter sencha has arrived" in (tests[0].html or "")
        # What was saved comes back in the editor, both languages.
        expect(app_frame.get_by_test_id("subject-ja")).to_have_value("冬の新茶")
        expect(app_frame.get_by_test_id("block-en-3").locator(".chip")).to_have_text(
            "Sencha 100g ×"
        )

        # Review, then schedule an hour from now in the shop's time zone (Tokyo).
        go(app_frame.get_by_test_id("review-campaign"))
        expect(
            app_frame.get_by_test_id("review-count").locator('[data-count="will_receive"]')
        ).to_have_text("1")
        tokyo = (datetime.now(UTC) + timedelta(hours=1)).astimezone(ZoneInfo("Asia/Tokyo"))
        expect(app_frame.get_by_test_id("when-now")).to_be_checked()
        app_frame.get_by_test_id("send-at").fill(tokyo.strftime("%Y-%m-%dT%H:%M"))
        expect(app_frame.get_by_test_id("when-later")).to_be_checked()  # a time was chosen
        shot("02-review")
        go(app_frame.get_by_test_id("confirm-schedule"))
        expect(app_frame.locator('[data-field="status"]')).to_contain_text("予約済み")
        expect(app_frame.locator('[data-field="scheduled-at"]')).to_contain_text(
            tokyo.strftime("%H:%M")
        )

        campaign = db.scalars(select(Campaign).where(Campaign.shop_id == world.shop.id)).one()
        assert campaign.status == "scheduled"
        assert campaign.scheduled_at is not None
        assert campaign.audience == {"segments": [saved.segment.id], "rfm_groups": []}
        assert [b["type"] for b in campaign.content["ja"]["blocks"]] == [
            "heading",
            "text",
            "button",
            "products",
        ]
        assert campaign.content["en"]["blocks"][3]["product_ids"] == ["gid-sencha"]

        # The hour passes: the scheduler's tick starts the send, the worker sends it; the
        # recipient's events come back signed over HTTP.
        stack.sendgrid.start_engagement(ENGAGED, seed=7, interval=0.2)
        with app.app_context():  # as the worker runs the tick, at the scheduled time
            started = sending.start_due(runtime, now=campaign.scheduled_at + timedelta(seconds=1))
        assert started
        drain(app)
        sent = [m for m in stack.sendgrid.outbox if f"campaign-{campaign.id}" in m.categories]
        assert [m.to_email for m in sent] == [world.customer.email]
        assert [m.subject for m in sent] == ["冬の新茶"]
        assert "冬の新茶が届きました" in (sent[0].html or "")

        # The report fills as the events arrive (its numbers refresh in place).
        go(app_frame.get_by_test_id("refresh-report"))
        report = app_frame.get_by_test_id("campaign-report")
        expect(report.locator('[data-field="sent"]')).to_have_text("1")
        deadline = time.monotonic() + 60  # a bound: a post to a busy server may be retried
        while time.monotonic() < deadline:
            if report.locator('[data-field="clicked"]').inner_text() == "1":
                break
            time.sleep(0.5)
            go(app_frame.get_by_test_id("refresh-report"))
        expect(report.locator('[data-field="delivered"]')).to_have_text("1")
        expect(report.locator('[data-field="opened"]')).to_have_text("1")
        expect(report.locator('[data-field="clicked"]')).to_have_text("1")
        expect(app_frame.locator('[data-field="status"]')).to_contain_text("送信済み")
        chart = report.get_by_test_id("engagement-chart")
        expect(chart.locator("svg.chart")).to_have_count(2)
        expect(chart.locator("rect.chart-bar[data-value='1']")).to_have_count(2)
        shot("03-report")
    finally:
        stack.sendgrid.stop_engagement()
        context.close()
    assert errors == []
    assert traffic.cookies_sent == []
    assert traffic.set_cookies == []
    pages = [(m, u, bearer) for m, u, bearer in traffic.requests if "/static/" not in u]
    assert [(m, u) for m, u, bearer in pages[1:] if not bearer] == []
