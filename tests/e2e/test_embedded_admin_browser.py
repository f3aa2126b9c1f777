"""The merchant's tour inside the (simulated) Shopify admin, with no cookies at all, once in
English and once in Japanese (the admin's `locale`): open the app, change a flow setting, save a
segment from the builder, log an inquiry, open an email in the Outbox — each change verified
through `/api/v1`. Every request after the first document load is a fetch carrying App Bridge's
session token; no request reaches the app with a Cookie, no answer sets one, nothing bounces.

Screenshots of each step go to `tests/artifacts/` (git-ignored).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from babel.support import Translations
from sqlalchemy.orm import Session

from app.config import Config
from app.models import Checkout
from app.resources import TRANSLATIONS
from tests.e2e import simulated_admin
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ARTIFACTS
from tests.e2e.simulated_admin import Stack, build_world, open_context
from tests.factories.admin import make_customer

config = simulated_admin.config
sendgrid = simulated_admin.sendgrid
servers = simulated_admin.servers
stack = simulated_admin.stack

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def shot(page: Any, lang: str, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"embedded-{lang}-{name}.png"), full_page=True)


class Tour:
    """The app opened from the simulated admin in a cookie-less context, with helpers."""

    def __init__(self, stack: Stack, browser: Any, lang: str) -> None:
        from playwright.sync_api import expect

        self.expect = expect
        self.lang = lang
        self.catalogue = Translations.load(str(TRANSLATIONS), [lang])
        self.context, self.traffic = open_context(browser, stack.app_url, lang)
        self.errors: list[str] = []
        self.page = page = self.context.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        # Open the app from the Shopify admin: one document load with an id_token.
        page.goto(stack.admin_url(lang))
        self.app = page.frame_locator("#app-iframe")
        self.nav = page.get_by_test_id("app-nav")
        expect(self.app.locator("html")).to_have_attribute("lang", lang)
        expect(self.app.locator("body.is-embedded")).to_have_count(1)
        expect(self.app.locator("h1").first).to_be_visible()
        # App Bridge's navigation, shown by the admin: its links reach the app as fetches.
        expect(self.nav.locator("a")).to_have_count(7)

    def say(self, message: str, context: str | None = None) -> str:
        return (
            self.catalogue.pgettext(context, message)
            if context
            else self.catalogue.gettext(message)
        )

    def go(self, target: Any) -> None:
        """Click a link or button that navigates; wait until the new page's scripts ran."""
        target.click()
        self.expect(self.app.locator("html[aria-busy]")).to_have_count(0)

    def admin_nav(self, label: str, path: str) -> None:
        """A link of the admin's own navigation (App Bridge's `<s-app-nav>`)."""
        self.nav.get_by_text(label, exact=True).click()
        self.expect(self.page).to_have_url(re.compile(f"/apps/[^/?]+{path}"))
        self.expect(self.app.locator("html[aria-busy]")).to_have_count(0)

    def shot(self, name: str) -> None:
        shot(self.page, self.lang, name)

    def close_and_check(self) -> None:
        """No errors; no Cookie sent or set; no bounce; every page and form a fetch with the
        session token after the first document load (static files are plain loads)."""
        self.context.close()
        traffic = self.traffic
        assert self.errors == []
        assert traffic.cookies_sent == []
        assert traffic.set_cookies == []
        paths = traffic.app_paths()
        assert not [p for p in paths if p.startswith("/auth/session-token-bounce")]
        pages = [(m, u, bearer) for m, u, bearer in traffic.requests if "/static/" not in u]
        assert "id_token=" in pages[0][1]
        assert [(m, u) for m, u, bearer in pages[1:] if not bearer] == []
        assert any(m == "POST" for m, _u, _b in pages)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_embedded_settings_without_cookies(
    stack: Stack, config: Config, db: Session, browser_page: Any, lang: str
) -> None:
    """Open the app, change a flow setting, preview it for a customer picked by name, save a
    segment from the builder."""
    world = build_world(db, stack, config, lang)
    hanako = world.customer
    kaori = make_customer(
        db, world.shop, first_name="Kaori", last_name="Suzuki", email="kaori@example.jp"
    )
    for n, customer in enumerate((hanako, kaori)):  # Kaori's cart is the latest
        db.add(
            Checkout(
                shop_id=world.shop.id,
                external_id=f"tour-checkout-{n}",
                customer_id=customer.id,
                email=customer.email,
                currency="JPY",
                total_price=Decimal(2400),
                line_items=[{"title": "Sencha 100g", "quantity": 2, "price": "1200"}],
            )
        )
        db.commit()
    tour = Tour(stack, browser_page.context.browser, lang)
    try:
        app, expect, go, say = tour.app, tour.expect, tour.go, tour.say
        tour.shot("01-home")

        # Change a flow setting: the Flows link of the admin's navigation, then the cart flow.
        tour.admin_nav(say("Flows"), "/flows")
        go(app.locator('a[href^="/app/flows/cart"]').first)
        form = app.locator("main form[method=post]").first
        form.locator("input[name=enabled]").uncheck()
        form.locator("#holdout_percent").fill("15")
        go(form.locator("button[type=submit]").first)
        expect(app.locator('[data-field="saved"]')).to_be_visible()
        expect(app.locator("#holdout_percent")).to_have_value("15")
        tour.shot("02-flow-saved")
        flows = {f["key"]: f for f in stack.api("flows")["flows"]}
        assert flows["cart"]["enabled"] is False

        # Preview it for a customer picked by name, with the keyboard (the latest cart first).
        search = app.get_by_test_id("preview-customer-search")
        expect(search).to_have_value(re.compile("kaori@example.jp"))
        expect(app.locator('[data-field="preview-customer"]')).to_contain_text(str(kaori.id))
        search.fill("hana")
        options = app.get_by_test_id("preview-customer-results").get_by_role("option")
        expect(options).to_have_count(1)
        expect(options).to_contain_text("hanako@example.jp")
        search.press("ArrowDown")
        expect(options.first).to_be_focused()
        options.first.press("Enter")
        expect(app.locator('[data-field="preview-customer"]')).to_contain_text(str(hanako.id))
        expect(app.locator("html[aria-busy]")).to_have_count(0)
        expect(app.get_by_test_id("preview-customer-search")).to_have_value(
            re.compile("hanako@example.jp")
        )
        expect(app.locator("article.preview").first).to_be_visible()
        tour.shot("02b-flow-preview-picked")

        # Save a segment from the builder (our tabs, then links inside the page).
        go(app.locator("nav.tabs").get_by_text(say("Segments"), exact=True))
        go(app.get_by_test_id("saved-segments-link"))
        go(app.get_by_test_id("new-segment"))
        count = app.get_by_test_id("segment-count")
        app.locator("#r-0-field").select_option("country")
        app.locator("#r-0-op").select_option("is")
        app.locator("#r-0-value").fill("JP")
        expect(count).to_have_attribute("data-count", "3")
        app.locator("#segment-name").fill("Japan")
        go(app.get_by_test_id("save-segment"))
        expect(app.locator('[data-field="saved"]')).to_be_visible()
        tour.shot("03-segment-saved")
        saved = stack.api("segments")["saved"]
        assert [s["name"] for s in saved] == ["Japan"]
    except BaseException:
        tour.context.close()
        raise
    tour.close_and_check()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_embedded_customer_and_outbox_without_cookies(
    stack: Stack, config: Config, db: Session, browser_page: Any, lang: str
) -> None:
    """Log an inquiry on a customer's page, open her email there and from the Outbox."""
    world = build_world(db, stack, config, lang)
    tour = Tour(stack, browser_page.context.browser, lang)
    try:
        app, expect, go, say = tour.app, tour.expect, tour.go, tour.say
        # Log an inquiry on the customer's page (search, then open her).
        go(app.locator("nav.tabs").get_by_text(say("Customers", "nav.customers"), exact=True))
        app.locator("input[name=q]").fill("Hanako")
        go(app.locator("form.search button[type=submit]"))
        rows = app.locator("tr[data-customer-id]")
        expect(rows).to_have_count(1)
        go(rows.first.locator("a").first)
        app.locator("#inquiry-subject").fill("Tea arrived stale")
        app.locator("#inquiry-channel").select_option("phone")
        app.locator("#inquiry-kind").select_option("complaint")
        go(app.locator(".inquiry-form button[type=submit]"))
        expect(app.locator("#inquiries [role=status]")).to_have_text(say("Inquiry logged."))
        tour.shot("04-inquiry-logged")
        timeline = stack.api(f"customers/{world.customer.id}")["timeline"]
        opened = [e for e in timeline if e["kind"] == "inquiry_opened"]
        assert [e["detail"] for e in opened] == [{"channel": "phone", "kind": "complaint"}]

        # Open the email from the customer's page, then from the Outbox.
        go(app.locator(f'#messages a[href^="/app/outbox/{world.message.id}"]'))
        expect(app.locator('[data-field="message-subject"]')).to_have_text("Your cart at Tea House")
        tour.admin_nav(say("Outbox"), "/outbox")
        expect(app.locator("tr[data-message-id]")).to_have_count(1)
        go(app.locator(f'a[href^="/app/outbox/{world.message.id}"]'))
        email = app.frame_locator("iframe[name=email-preview]")
        expect(email.locator("h1")).to_have_text("Your sencha is waiting")
        events = app.locator("[data-event]")
        expect(events).to_have_count(2)
        tour.shot("05-email")
        messages = stack.api(f"customers/{world.customer.id}")["messages"]
        assert [(m["id"], m["status"]) for m in messages] == [(world.message.id, "sent")]

        # Back goes back, through the same fetch navigation.
        tour.page.go_back()
        expect(app.locator("tr[data-message-id]")).to_have_count(1)
    except BaseException:
        tour.context.close()
        raise
    tour.close_and_check()
