"""The recommendations page in a real browser on a 390 px phone, in English and Japanese: the
merchant marks a collection durable, sets a product's days of supply, sees both saved, and the
page's content never gets wider than the screen (the tables scroll in their own container).

Screenshots go to `tests/artifacts/` (git-ignored) for a human look.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from babel.support import Translations
from sqlalchemy.orm import Session

from app.auth.login_link import make_login_token
from app.flows.post_purchase import refresh_history_stats
from app.models.recommendation_settings import ProductGroup, ProductSupply
from app.resources import TRANSLATIONS
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ARTIFACTS
from tests.factories.durable_goods import RICE_COOKERS, SOAP, add_appliances, appliance_history
from tests.factories.post_purchase import setup_shop

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}


def say(lang: str, message: str) -> str:
    return Translations.load(str(TRANSLATIONS), [lang]).gettext(message)


@pytest.fixture
def phone(app: Any, serve: Any, runtime: Any, browser_page: Any, db: Session) -> Iterator[Any]:
    """`phone(lang)` → (page, base URL, shop), signed in to a shop with an appliance shelf."""
    shop, _hanako = setup_shop(db)
    add_appliances(db, shop)
    appliance_history(db, shop)
    refresh_history_stats(db, shop.id)
    base = serve(app).url
    contexts: list[Any] = []

    def _open(lang: str) -> Any:
        context = browser_page.context.browser.new_context(
            locale="ja-JP" if lang == "ja" else "en-US", viewport=PHONE
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        page.goto(f"{base}/login/link#{make_login_token(runtime.redis, shop.account_id)}")
        page.click("[data-login-link-submit]")
        page.wait_for_url(re.compile(r"/app$"))
        return page, base, shop

    yield _open
    for context in contexts:
        context.close()


def fits(page: Any) -> None:
    """Nothing in the page's content reaches past the screen's right edge, except inside the
    tables' own scrolling containers."""
    wide = page.evaluate(
        "() => Array.from(document.querySelectorAll('main.page *')).filter(e => "
        "e.getBoundingClientRect().right > 390.5 && !e.closest('.table-scroll'))"
        ".map(e => e.tagName + '.' + e.className + ': ' + e.textContent.slice(0, 30))"
    )
    assert wide == []


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_merchant_marks_a_collection_and_sets_days_of_supply_on_a_phone(
    phone: Any, db: Session, lang: str
) -> None:
    from playwright.sync_api import expect

    page, base, shop = phone(lang)
    page.goto(f"{base}/app/flows")
    page.get_by_test_id("recommendation-settings-link").click()
    expect(page.locator("h1")).to_have_text(say(lang, "Recommendations and replenishment"))
    page.screenshot(path=str(ARTIFACTS / f"recommendations-{lang}-phone.png"), full_page=True)
    fits(page)

    page.select_option(f'select[name="kind:collection:{RICE_COOKERS}"]', "durable")
    page.fill("#durable-hold-days", "200")
    page.get_by_test_id("save-durable").click()
    expect(page.locator("[data-saved=groups]")).to_be_visible()
    fits(page)

    page.fill("#supply-q", "500ml")
    page.locator("#supply-q").press("Enter")
    expect(page.locator(f'tr[data-product="{SOAP}"]')).to_have_count(1)
    expect(page.locator("table[data-testid=supply] tbody tr")).to_have_count(1)
    page.fill(f'input[name="supply:{SOAP}"]', "45")
    page.get_by_test_id("save-supply").click()
    expect(page.locator("[data-saved=supply]")).to_be_visible()
    expect(page.locator(f'input[name="supply:{SOAP}"]')).to_have_value("45")
    fits(page)

    db.expire_all()
    assert db.get_one(ProductGroup, (shop.id, "collection", RICE_COOKERS)).kind == "durable"
    assert db.get_one(ProductSupply, (shop.id, SOAP)).days == 45
