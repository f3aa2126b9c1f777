"""The merchant's tour of the standalone admin in a real browser: password sign-in, customer
search, a customer's 360 page, logging an inquiry on it, then segments and analytics.

Screenshots of each step go to `tests/artifacts/` (git-ignored) for a human look.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password
from app.models.inquiry import Inquiry
from tests.e2e.conftest import ARTIFACTS
from tests.integration.test_admin_pages import make_customer, make_order, make_shop

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
    for n in range(3):
        make_customer(db, shop, first_name=f"Other{n}")
    when = datetime.now(UTC) - timedelta(days=20)
    make_order(db, shop, hanako, "#1001", [("Sencha 100g", 2, "1200")], processed_at=when)
    return {"shop": shop, "customer": hanako}


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def test_merchant_tour(
    app: Any, serve: Any, db: Session, store: dict[str, Any], browser_page: Any
) -> None:
    from playwright.sync_api import expect

    base = serve(app).url
    page = browser_page

    # Sign in with the password form.
    page.goto(f"{base}/app")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.fill("#login-email", EMAIL)
    page.fill("#login-password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator("[data-login-error]")).to_contain_text("not correct")
    page.fill("#login-password", PASSWORD)
    shot(page, "01-login")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/app$"))
    expect(page.locator("h1")).to_contain_text("Tea House")
    shot(page, "02-home")

    # Search customers and open the 360 page.
    page.click("nav.tabs >> text=Customers")
    page.fill("input[name=q]", "Hanako")
    page.click("form.search button[type=submit]")
    rows = page.locator("tr[data-customer-id]")
    expect(rows).to_have_count(1)
    shot(page, "03-customers-search")
    rows.first.locator("a").first.click()
    expect(page.locator("h1")).to_have_text("Hanako Tanaka")
    expect(page.locator(".order-name")).to_contain_text("#1001")
    shot(page, "04-customer")

    # Log a complaint: listed, on the timeline, and marketing is shown as paused.
    page.fill("#inquiry-subject", "Tea arrived stale")
    page.select_option("#inquiry-channel", "phone")
    page.select_option("#inquiry-kind", "complaint")
    page.fill("#inquiry-notes", "Offered a replacement")
    page.click(".inquiry-form button[type=submit]")
    expect(page.locator("#inquiries [role=status]")).to_have_text("Inquiry logged.")
    row = page.locator("tr[data-inquiry-status=open]")
    expect(row).to_contain_text("Tea arrived stale")
    expect(page.locator('[data-field="marketing-paused"]')).to_be_visible()
    expect(page.locator('li[data-event-kind="inquiry_opened"]')).to_have_count(1)
    shot(page, "05-inquiry-logged")
    row.locator("button[type=submit]").click()
    expect(page.locator("tr[data-inquiry-status=resolved]")).to_have_count(1)
    expect(page.locator('[data-field="marketing-paused"]')).to_have_count(0)
    db.expire_all()
    assert db.scalars(select(Inquiry.status)).all() == ["resolved"]

    # Segments and analytics render.
    page.click("nav.tabs >> text=Segments")
    expect(page.locator("h1")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/app/segments"))
    shot(page, "06-segments")
    page.click("nav.tabs >> text=Analytics")
    expect(page).to_have_url(re.compile(r"/app/analytics"))
    expect(page.locator("h1")).to_be_visible()
    shot(page, "07-analytics")

    # Log out through the (CSRF-protected) form.
    page.click("form[action='/logout'] button")
    expect(page).to_have_url(re.compile(r"/login$"))
