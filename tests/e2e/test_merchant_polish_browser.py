"""The merchant's tour without rough edges, in a real browser: Japanese names family name first,
money in the shop's currency (RFM boundaries too), settings in natural units, every form control
styled by our stylesheet, products picked by name in the segment builder, RFM cells, groups and
saved segments opening their customers, the flow backtest page, translated connect pages reached
from the navigation, the favicon, and pages that fit a 390 px phone.

Screenshots go to `tests/artifacts/` (git-ignored) for a human look.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from babel.support import Translations
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.login_link import make_login_token
from app.models import CustomerScore, SavedSegment
from app.models.flow import FlowSetting
from app.resources import TRANSLATIONS
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ARTIFACTS
from tests.factories.merchant_tour import TeaStore, build_tea_store

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def store(db: Session) -> TeaStore:
    return build_tea_store(db)


@pytest.fixture
def open_admin(app: Any, serve: Any, runtime: Any, browser_page: Any) -> Iterator[Any]:
    """`open_admin(store, lang, viewport)` → (page, base URL), signed in with a login link, in
    a browser context speaking `lang`."""
    base = serve(app).url
    contexts: list[Any] = []

    def _open(store: TeaStore, lang: str = "en", viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser_page.context.browser.new_context(
            locale="ja-JP" if lang == "ja" else "en-US", viewport=viewport
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        page.goto(f"{base}/login/link#{make_login_token(runtime.redis, store.account.id)}")
        page.click("[data-login-link-submit]")
        page.wait_for_url(re.compile(r"/app$"))
        return page, base

    yield _open
    for context in contexts:
        context.close()


def say(lang: str, message: str, context: str | None = None) -> str:
    catalogue = Translations.load(str(TRANSLATIONS), [lang])
    return catalogue.pgettext(context, message) if context else catalogue.gettext(message)


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"polish-{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_names_money_and_rfm_cells_open_their_customers(
    store: TeaStore, open_admin: Any, db: Session, lang: str
) -> None:
    from playwright.sync_api import expect

    page, _base = open_admin(store, lang)
    page.click(f"nav.tabs >> text={say(lang, 'Customers', 'nav.customers')}")
    rows = page.locator("tr[data-customer-id]")
    # A name written in kanji is family name first in either language; a Latin name follows
    # the page: given name first in English, family name first in Japanese.
    expect(rows.filter(has_text="森 陽葵")).to_have_count(1)
    hanako = "Hanako Tanaka" if lang == "en" else "Tanaka Hanako"
    expect(rows.filter(has_text=hanako)).to_have_count(1)
    rows.filter(has_text="森 陽葵").locator("a").first.click()
    expect(page.locator("h1")).to_have_text("森 陽葵")
    expect(page.locator(".order-total").first).to_contain_text("¥6,708")

    page.click(f"nav.tabs >> text={say(lang, 'Segments')}")
    applied = page.locator('[data-dimension="monetary"] [data-field="applied"]')
    expect(applied).to_contain_text("¥")
    assert not re.search(r"\d\.\d{4}", applied.inner_text())  # never "3354.0000"
    expect(page.locator('[data-dimension="monetary"] .input-prefix').first).to_have_text("¥")
    shot(page, f"{lang}-segments")

    # A grid cell opens the customers it counts.
    db.expire_all()
    r, fm = db.execute(
        select(CustomerScore.r, CustomerScore.fm).where(
            CustomerScore.shop_id == store.shop.id, CustomerScore.customer_id == store.hinata.id
        )
    ).one()
    cell_count = len(
        db.scalars(
            select(CustomerScore.id).where(
                CustomerScore.shop_id == store.shop.id, CustomerScore.r == r, CustomerScore.fm == fm
            )
        ).all()
    )
    page.locator(f'svg a[href*="r={r}"][href*="fm={fm}"]').first.click()
    expect(page).to_have_url(re.compile(rf"/app/customers\?.*r={r}"))
    expect(page.locator('[data-field="list-filter"]')).to_contain_text(f"R{r} · FM{fm}")
    expect(page.locator("tr[data-customer-id]")).to_have_count(cell_count)
    expect(page.locator(f'tr[data-customer-id="{store.hinata.id}"]')).to_have_count(1)
    shot(page, f"{lang}-rfm-cell-customers")

    # A group row opens the customers of the group.
    group = db.scalar(
        select(CustomerScore.rfm_group).where(CustomerScore.customer_id == store.hinata.id)
    )
    page.go_back()
    page.get_by_test_id(f"group-link-{group}").click()
    expect(page).to_have_url(re.compile(rf"rfm_group={group}"))
    expect(page.locator(f'tr[data-customer-id="{store.hinata.id}"]')).to_have_count(1)


def test_flow_settings_read_in_natural_units_and_every_control_is_styled(
    store: TeaStore, open_admin: Any, db: Session
) -> None:
    from playwright.sync_api import expect

    page, base = open_admin(store, "en")
    page.goto(f"{base}/app/flows")
    summary = page.locator('#flow-cart [data-field="summary"]')
    expect(summary).to_contain_text("Emails 1 hour, 1 day and 3 days after the cart was left")
    page.goto(f"{base}/app/flows/cart")
    expect(page.locator("#delay_1")).to_have_value("1")
    expect(page.locator("#delay_1_unit")).to_have_value("hours")
    expect(page.locator("#delay_2")).to_have_value("1")
    expect(page.locator("#delay_2_unit")).to_have_value("days")
    expect(page.get_by_text("Emails per 16 hours")).to_have_count(0)
    expect(page.get_by_text("0.25 h")).to_have_count(0)

    # Every control on the page is drawn by our stylesheet, none by the browser's defaults.
    unstyled = page.evaluate(
        """() => Array.from(document.querySelectorAll('main input:not([type=hidden]), main select,'
            + ' main textarea, main button')).filter(el => el.offsetParent !== null).filter(el => {
              const s = getComputedStyle(el);
              if (el.tagName === 'BUTTON') return s.borderRadius === '0px';
              const square = s.borderRadius === '0px' && !el.closest('.input-group');
              return s.appearance !== 'none' || square;
            }).map(el => el.outerHTML.slice(0, 80))"""
    )
    assert unstyled == []

    page.fill("#delay_1", "30")
    page.select_option("#delay_1_unit", "minutes")
    page.fill("#delay_2", "26")
    page.select_option("#delay_2_unit", "hours")
    page.click("main form[method=post] button[type=submit]")
    expect(page.locator('[data-field="saved"]')).to_be_visible()
    expect(page.locator("#delay_1")).to_have_value("30")
    expect(page.locator("#delay_1_unit")).to_have_value("minutes")
    shot(page, "en-flow-settings")
    db.expire_all()
    config = db.scalars(select(FlowSetting.config).where(FlowSetting.flow_key == "cart")).one()
    assert config["step_delay_hours"][:2] == [0.5, 26.0]

    # Out of range in natural units, said in natural units.
    page.fill("#delay_1", "31")
    page.select_option("#delay_1_unit", "days")
    page.click("main form[method=post] button[type=submit]")
    expect(page.locator("#error-delay_1")).to_have_text("Enter a value from 15 minutes to 30 days.")


def test_segment_builder_picks_products_by_name_and_segments_list_their_members(
    store: TeaStore, open_admin: Any, db: Session
) -> None:
    from playwright.sync_api import expect

    page, base = open_admin(store, "ja")
    page.goto(f"{base}/app/segments/saved/new")
    count = page.get_by_test_id("segment-count")
    page.select_option("#r-0-field", "product_bought")
    expect(page.locator("#r-0-value")).to_be_hidden()  # the id is kept out of sight
    search = page.get_by_test_id("search-r-0")
    expect(search).to_have_attribute("placeholder", say("ja", "Search products by name"))
    search.fill("sen")
    option = page.locator(f'.picker-option[data-value="{store.sencha.id}"]')
    expect(option).to_have_text("Sencha 100g")
    expect(page.locator(".picker-option")).to_have_count(1)  # Genmaicha does not match
    shot(page, "ja-product-picker")
    option.click()
    expect(search).to_have_value("Sencha 100g")
    expect(count).to_have_attribute("data-count", "1")

    # A collection, by name too, in a second condition.
    page.get_by_test_id("add-condition").click()
    page.select_option("#r-1-field", "collection_bought")
    page.get_by_test_id("search-r-1").fill("green")
    page.locator('.picker-option[data-value="c-green"]').click()
    expect(count).to_have_attribute("data-count", "1")

    page.fill("#segment-name", "煎茶のお客様")
    page.get_by_test_id("save-segment").click()
    expect(page.locator('[data-field="saved"]')).to_be_visible()
    db.expire_all()
    segment = db.scalars(select(SavedSegment)).one()
    assert segment.rule["rules"] == [
        {"field": "product_bought", "op": "is", "value": store.sencha.id},
        {"field": "collection_bought", "op": "is", "value": "c-green"},
    ]
    # The saved rule shows names again, and its members.
    expect(page.get_by_test_id("search-r-0")).to_have_value("Sencha 100g")
    members = page.get_by_test_id("segment-members")
    expect(members.locator("tr[data-customer-id]")).to_have_count(1)
    expect(members).to_contain_text("森 陽葵")
    shot(page, "ja-segment-members")

    page.goto(f"{base}/app/segments/saved")
    page.get_by_test_id(f"members-{segment.id}").click()
    expect(page).to_have_url(re.compile(rf"segment_id={segment.id}"))
    expect(page.locator('[data-field="list-filter"]')).to_contain_text("煎茶のお客様")
    expect(page.locator("tr[data-customer-id]")).to_have_count(1)


def test_the_flow_backtest_is_a_page(store: TeaStore, open_admin: Any) -> None:
    from playwright.sync_api import expect

    page, base = open_admin(store, "ja")
    page.goto(f"{base}/app/flows")
    page.get_by_test_id("backtest-link").click()
    expect(page.locator("h1")).to_have_text(say("ja", "Flow backtest"))
    page.select_option("#backtest-flow", "cart")
    page.select_option("#backtest-days", "7")
    page.get_by_test_id("run-backtest").click()
    result = page.get_by_test_id("backtest-result")
    expect(result).to_have_attribute("data-flow", "cart")
    row = page.locator(f'tr[data-customer-id="{store.hinata.id}"]')
    expect(row).to_contain_text("森 陽葵")
    expect(row).to_contain_text("チェックアウト tok-tour-0001")
    outcome = row.get_attribute("data-outcome")
    entered, emails = (
        result.locator('[data-field="entered"]'),
        result.locator('[data-field="emails"]'),
    )
    if outcome == "entered":  # three emails, at 1 hour, 1 day and 3 days, all in the past
        expect(entered).to_have_text("1")
        expect(row.locator("[data-step]")).to_have_count(3)
        expect(emails).to_have_text("3")
    else:
        assert outcome == "held_out"
        expect(result.locator('[data-field="held-out"]')).to_have_text("1")
    expect(result.locator('[data-field="capped"]')).to_be_visible()
    shot(page, "ja-backtest")


def test_connect_pages_from_the_navigation_and_the_favicon(
    store: TeaStore, open_admin: Any
) -> None:
    from playwright.sync_api import expect

    page, base = open_admin(store, "ja", PHONE)
    icon = page.locator('link[rel="icon"]')
    expect(icon).to_have_count(1)
    favicon = page.request.get(f"{base}/favicon.ico")
    assert favicon.status == 200
    assert favicon.headers["content-type"].startswith("image/")
    assert page.request.get(base + icon.get_attribute("href")).status == 200

    # The stores page is in the navigation; it leads to both connect pages, in Japanese.
    page.locator(f"nav.tabs >> text={say('ja', 'Stores', 'nav.stores')}").click()
    expect(page).to_have_url(re.compile(r"/app/stores"))
    page.get_by_test_id("connect-woocommerce").click()
    expect(page.locator("h1")).to_have_text(say("ja", "Connect a WooCommerce store"))
    expect(page.locator('link[rel="icon"]')).to_have_count(1)
    shot(page, "ja-phone-connect-woocommerce")
    page.get_by_text(say("ja", "Connect a Shopify store instead")).click()
    expect(page.locator("h1")).to_have_text(say("ja", "Connect a Shopify store"))
    expect(page.locator("label[for=token]")).to_have_text(say("ja", "Admin API access token"))
    shot(page, "ja-phone-connect-shopify")


def test_every_page_fits_a_phone(store: TeaStore, open_admin: Any, db: Session) -> None:
    segment = SavedSegment(
        shop_id=store.shop.id,
        name="JP",
        rule={"match": "all", "rules": [{"field": "country", "op": "is", "value": "JP"}]},
    )
    db.add(segment)
    db.commit()
    page, base = open_admin(store, "ja", PHONE)
    # Every page fits a 390 px phone: nothing wider than the screen but the tables' own
    # scrolling containers.
    for path in (
        "/app",
        "/app/customers",
        f"/app/customers/{store.hinata.id}",
        "/app/segments",
        "/app/segments/saved",
        f"/app/segments/saved/{segment.id}",
        "/app/analytics",
        "/app/flows",
        "/app/flows/cart",
        "/app/flows/backtest?flow=cart&days=30",
        "/app/outbox",
        "/app/stores",
        "/connect/shopify",
    ):
        response = page.goto(base + path)
        assert response is not None
        assert response.status == 200, path
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
    shot(page, "ja-phone-stores")
