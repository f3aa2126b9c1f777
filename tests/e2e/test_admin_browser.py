"""The merchant's tour of the standalone admin in a real browser, once in English and once in
Japanese: password sign-in, customer search, a customer's 360 page, logging an inquiry on it,
building a segment while its count updates, changing a flow setting, and analytics.

Screenshots of each step go to `tests/artifacts/` (git-ignored) for a human look.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from babel.support import Translations
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.flow import FlowSetting
from app.models.inquiry import Inquiry
from app.models.segment import SavedSegment
from app.passwords import hash_password
from app.resources import TRANSLATIONS
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ARTIFACTS
from tests.factories.admin import make_customer, make_order, make_shop

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

EMAIL = "owner@tea-house.example"
PASSWORD = "matcha-latte-2026"


@pytest.fixture
def store(db: Session) -> dict[str, Any]:
    from app.models import Account

    account = Account(name="Tea House", email=EMAIL, password_hash=hash_password(PASSWORD))
    db.add(account)
    db.commit()
    shop = make_shop(db, account, "tea-house.myshopify.com", name="Tea House")
    hanako = make_customer(
        db,
        shop,
        first_name="Hanako",
        last_name="Tanaka",
        email="hanako@example.jp",
        email_marketing_state="SUBSCRIBED",
    )
    hanako.country_code, hanako.orders_count = "JP", 1  # as a sync leaves them
    db.commit()
    make_customer(db, shop, first_name="Other0", country_code="JP")
    for n in (1, 2):
        make_customer(db, shop, first_name=f"Other{n}", country_code="US")
    when = datetime.now(UTC) - timedelta(days=20)
    make_order(db, shop, hanako, "#1001", [("Sencha 100g", 2, "1200")], processed_at=when)
    return {"shop": shop, "customer": hanako}


def shot(page: Any, lang: str, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"admin-{lang}-{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_merchant_tour(
    app: Any, serve: Any, db: Session, store: dict[str, Any], browser_page: Any, lang: str
) -> None:
    """Sign in, search, open a customer, log an inquiry, build a segment and watch its count,
    change a flow setting, open analytics — in the merchant's language."""
    base = serve(app).url
    # The browser's language picks the admin's (Accept-Language), as for a real merchant.
    context = browser_page.context.browser.new_context(
        locale="ja-JP" if lang == "ja" else "en-US", viewport={"width": 1280, "height": 900}
    )
    try:
        page = context.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        _tour(page, base, db, lang)
    finally:
        context.close()


def _tour(page: Any, base: str, db: Session, lang: str) -> None:
    from playwright.sync_api import expect

    catalogue = Translations.load(str(TRANSLATIONS), [lang])

    def say(message: str, context: str | None = None) -> str:
        return catalogue.pgettext(context, message) if context else catalogue.gettext(message)

    # Sign in with the password form.
    page.goto(f"{base}/app")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.fill("#login-email", EMAIL)
    page.fill("#login-password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator("[data-login-error]")).to_be_visible()
    page.fill("#login-password", PASSWORD)
    shot(page, lang, "01-login")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/app$"))
    expect(page.locator("h1")).to_contain_text("Tea House")
    shot(page, lang, "02-home")

    # Search customers and open the 360 page.
    page.click(f"nav.tabs >> text={say('Customers', 'nav.customers')}")
    page.fill("input[name=q]", "Hanako")
    page.click("form.search button[type=submit]")
    rows = page.locator("tr[data-customer-id]")
    expect(rows).to_have_count(1)
    shot(page, lang, "03-customers-search")
    rows.first.locator("a").first.click()
    # Japanese writes the family name first.
    expect(page.locator("h1")).to_have_text("Hanako Tanaka" if lang == "en" else "Tanaka Hanako")
    expect(page.locator(".order-name")).to_contain_text("#1001")
    expect(page.locator("#messages h2").first).to_contain_text(say("Email", "customer.messages"))
    shot(page, lang, "04-customer")

    # Log a complaint: listed, on the timeline, and marketing is shown as paused.
    page.fill("#inquiry-subject", "Tea arrived stale")
    page.select_option("#inquiry-channel", "phone")
    page.select_option("#inquiry-kind", "complaint")
    page.fill("#inquiry-notes", "Offered a replacement")
    page.click(".inquiry-form button[type=submit]")
    expect(page.locator("#inquiries [role=status]")).to_have_text(say("Inquiry logged."))
    row = page.locator("tr[data-inquiry-status=open]")
    expect(row).to_contain_text("Tea arrived stale")
    expect(page.locator('[data-field="marketing-paused"]')).to_be_visible()
    expect(page.locator('li[data-event-kind="inquiry_opened"]')).to_have_count(1)
    shot(page, lang, "05-inquiry-logged")
    row.locator("button[type=submit]").click()
    expect(page.locator("tr[data-inquiry-status=resolved]")).to_have_count(1)
    expect(page.locator('[data-field="marketing-paused"]')).to_have_count(0)
    db.expire_all()
    assert db.scalars(select(Inquiry.status)).all() == ["resolved"]

    # Segments: the RFM page, then build a rule and watch the count follow it.
    page.click(f"nav.tabs >> text={say('Segments')}")
    expect(page).to_have_url(re.compile(r"/app/segments"))
    shot(page, lang, "06-segments")
    page.goto(f"{base}/app/segments/saved/new")
    count = page.get_by_test_id("segment-count")
    page.select_option("#r-0-field", "country")
    page.select_option("#r-0-op", "is")
    page.fill("#r-0-value", "JP")
    expect(count).to_have_attribute("data-count", "2")
    page.get_by_test_id("add-condition").click()
    page.select_option("#r-1-field", "orders_count")
    page.select_option("#r-1-op", "gte")
    page.fill("#r-1-value", "1")
    expect(count).to_have_attribute("data-count", "1")
    page.fill("#segment-name", "Japan buyers")
    shot(page, lang, "07-segment-builder")
    page.get_by_test_id("save-segment").click()
    expect(page.locator('[data-field="saved"]')).to_be_visible()
    db.expire_all()
    segment = db.scalars(select(SavedSegment)).one()
    assert segment.name == "Japan buyers"

    # Change a flow setting: a bad value is refused in place, a good one is saved.
    page.click(f"nav.tabs >> text={say('Flows')}")
    expect(page).to_have_url(re.compile(r"/app/flows"))
    page.goto(f"{base}/app/flows/cart")
    page.fill("#holdout_percent", "95")
    page.click("main form[method=post] button[type=submit]")
    expect(page.locator("#error-holdout_percent")).to_be_visible()
    page.fill("#holdout_percent", "20")
    page.select_option("#audience_segment_id", str(segment.id))
    page.click("main form[method=post] button[type=submit]")
    expect(page.locator('[data-field="saved"]')).to_be_visible()
    expect(page.locator("#holdout_percent")).to_have_value("20")
    shot(page, lang, "08-flow-settings")
    db.expire_all()
    setting = db.scalars(select(FlowSetting).where(FlowSetting.flow_key == "cart")).one()
    assert setting.config["holdout_percent"] == 20
    assert setting.config["audience_segment_id"] == segment.id

    # Analytics render.
    page.click(f"nav.tabs >> text={say('Analytics')}")
    expect(page).to_have_url(re.compile(r"/app/analytics"))
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("svg").first).to_be_visible()
    shot(page, lang, "09-analytics")

    # Log out through the (CSRF-protected) form.
    page.click("form[action='/logout'] button")
    expect(page).to_have_url(re.compile(r"/login$"))
