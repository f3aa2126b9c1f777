"""The merchant's legal chores in a real browser, in English and Japanese: the sender details
every email must show (the banner until they are set, the form, the save), a customer's data
download and a WooCommerce customer's erase. Screenshots go to `tests/artifacts/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations
from sqlalchemy.orm import Session

from app.models import Account, Customer
from app.passwords import hash_password
from app.resources import TRANSLATIONS
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ARTIFACTS
from tests.factories.admin import make_customer, make_shop

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

EMAIL = "owner@tea-house.example"
PASSWORD = "matcha-latte-2026"


@pytest.fixture
def store(db: Session) -> dict[str, Any]:
    account = Account(name="Tea House", email=EMAIL, password_hash=hash_password(PASSWORD))
    db.add(account)
    db.commit()
    shop = make_shop(
        db, account, "https://tea-house.example", name="Tea House", platform="woocommerce"
    )
    shop.sender_identity = None
    customer = make_customer(
        db, shop, first_name="Hanako", last_name="Tanaka", email="hanako@example.jp"
    )
    db.commit()
    return {"shop": shop, "customer": customer}


def _signed_in(browser_page: Any, base: str, lang: str) -> tuple[Any, Any]:
    """A new browser context in `lang` at phone width, signed in with the password form."""
    context = browser_page.context.browser.new_context(
        locale="ja-JP" if lang == "ja" else "en-US",
        viewport={"width": 390, "height": 844},
        accept_downloads=True,
    )
    page = context.new_page()
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    page.goto(f"{base}/app")
    page.fill("#login-email", EMAIL)
    page.fill("#login-password", PASSWORD)
    page.click("button[type=submit]")
    return context, page


def _shot(page: Any, lang: str, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"compliance-{lang}-{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_sender_details_hold_email_until_set(
    app: Any, serve: Any, store: dict[str, Any], browser_page: Any, lang: str
) -> None:
    from playwright.sync_api import expect

    say = Translations.load(str(TRANSLATIONS), [lang]).gettext
    context, page = _signed_in(browser_page, serve(app).url, lang)
    try:
        banner = page.locator('[data-banner="sender-identity-missing"]')
        expect(banner).to_be_visible()
        _shot(page, lang, "01-on-hold")
        banner.locator("a").click()
        expect(page.locator("h1")).to_have_text(say("Sender details"))
        page.fill("#sender-sender_name", "Tea House 株式会社")
        page.fill("#sender-reply_to", "not an address")
        page.fill("#sender-postal_address", "1-2-3 Jingumae\nShibuya, Tokyo")
        page.fill("#sender-contact", "03-1234-5678")
        # The browser's own check stops a malformed address before it is sent.
        page.click('[data-testid="save-sender"]')
        expect(page.locator("[data-sender-saved]")).to_have_count(0)
        page.fill("#sender-reply_to", "hello@tea-house.example")
        page.click('[data-testid="save-sender"]')
        expect(page.locator("[data-sender-saved]")).to_be_visible()
        expect(banner).to_have_count(0)
        _shot(page, lang, "02-sender-saved")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_customers_data_download_and_erase(
    app: Any, serve: Any, store: dict[str, Any], browser_page: Any, lang: str
) -> None:
    from playwright.sync_api import expect

    say = Translations.load(str(TRANSLATIONS), [lang]).gettext
    base = serve(app).url
    context, page = _signed_in(browser_page, base, lang)
    try:
        customer: Customer = store["customer"]
        page.goto(f"{base}/app/customers/{customer.id}")
        with page.expect_download() as download_info:
            page.click('[data-testid="customer-export"]')
        exported = json.loads(Path(download_info.value.path()).read_text())
        assert exported["data"]["customers"][0]["email"] == "hanako@example.jp"
        _shot(page, lang, "03-customer-privacy")
        page.click('[data-testid="customer-erase"]')
        page.fill("#confirm-email", "someone-else@example.jp")
        page.click('[data-testid="confirm-erase"]')
        expect(page.locator("[data-erase-mismatch]")).to_be_visible()
        page.fill("#confirm-email", "hanako@example.jp")
        _shot(page, lang, "04-erase-confirm")
        page.click('[data-testid="confirm-erase"]')
        expect(page.locator("[data-erased]")).to_have_text(
            say("This customer’s personal data was erased.")
        )
        expect(page.locator('[data-testid="customer-erase"]')).to_have_count(0)
        _shot(page, lang, "05-erased")
        page.goto(f"{base}/app/privacy")
        expect(page.locator("h1")).to_have_text(say("Data requests"))
        expect(page.locator("[data-empty]")).to_be_visible()
        _shot(page, lang, "06-data-requests")
    finally:
        context.close()
