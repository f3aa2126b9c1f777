"""Every admin page, in English and Japanese, inside the (simulated) Shopify admin and standalone:
each answers 200, logs no console error and requests nothing from another host than the app's
own (Shopify's App Bridge script excepted); a screenshot of each is saved to `tests/artifacts/`.

Pages are found by following the links of the pages themselves from `/app` (one page per path
shape: `/app/customers/<id>` once), so new pages are covered without being listed here. The crawl
is split in groups of pages to keep each test short. Error pages (404, an expired form) are
checked to load App Bridge inside the admin. Each page is also laid out at a phone's width
(390 px; inside the admin, the frame the mobile admin gives the app) and must fit it: nothing,
the navigation included, may make it scroll sideways. The Outbox group also opens both kinds of
email, a flow's and a campaign's, whichever of the two its crawl met first.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.login_link import make_login_url
from app.campaigns import content as campaign_content
from app.campaigns import service as campaigns
from app.config import Config
from app.models.campaign import CampaignRecipient
from app.models.flow import Message
from app.services import segments
from tests.conftest import SHOPIFY_API_KEY
from tests.e2e import simulated_admin
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ARTIFACTS, require_japanese_font
from tests.e2e.simulated_admin import APP_BRIDGE_CDN, Stack, World, build_world, open_context

config = simulated_admin.config
sendgrid = simulated_admin.sendgrid
servers = simulated_admin.servers
stack = simulated_admin.stack

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SKIPPED = re.compile(r"\.(csv|json)$|^/logout|^/static/")
GROUPED = ("/app/segments", "/app/flows", "/app/outbox", "/app/campaigns")
PHONE_WIDTH = 390
# The navigation is measured with one entry more than it has, in each language, so the next
# page added to it still fits.
ONE_MORE_ENTRY = {"en": "Automations", "ja": "オートメーション"}
RESPONSE_EVENT_WAIT_S = 10.0  # a fetch navigation's response event, on a loaded machine


def _group(prefix: str) -> Callable[[str], bool]:
    return lambda path: path == "/app" or path.startswith(prefix)


# Each test crawls one group (the home page, then the group's pages); "other" has every page
# outside the named groups, new ones included.
GROUPS: dict[str, Callable[[str], bool]] = {
    "other": lambda path: not path.startswith(GROUPED),
    **{prefix.rsplit("/", 1)[1]: _group(prefix) for prefix in GROUPED},
}


def shape(path: str) -> str:
    return re.sub(r"/\d+", "/<id>", path)


def prepare(db: Session, stack: Stack, config: Config, lang: str) -> World:
    world = build_world(db, stack, config, lang)
    rule = {"match": "all", "rules": [{"field": "country", "op": "is", "value": "JP"}]}
    result = segments.save_segment(db, world.shop.id, "Japan", rule)
    assert result.ok, result
    assert result.segment is not None
    db.commit()
    content = campaign_content.empty_content()
    for lang, subject, heading in (
        ("ja", "冬の新茶", "冬の新茶が届きました"),
        ("en", "Winter tea", "Tea"),
    ):
        content[lang]["subject"] = subject
        content[lang]["blocks"] = [{"type": "heading", "text": heading}, {"type": "divider"}]
    audience = {"segments": [result.segment.id], "rfm_groups": []}
    campaigns.create(db, world.shop, name="Winter tea", audience=audience, content=content)
    sent = campaigns.create(db, world.shop, name="Autumn tea", audience=audience, content=content)
    sent.status, sent.started_at, sent.finished_at = (
        "sent",
        world.message.sent_at,
        world.message.sent_at,
    )
    db.commit()  # a campaign sent long ago: the list links its report
    emailed = Message(
        shop_id=world.shop.id,
        campaign_id=sent.id,
        step=0,
        customer_id=world.message.customer_id,
        status="sent",
        subject="冬の新茶",
        created_at=world.message.sent_at,
        sent_at=world.message.sent_at,
    )
    db.add(emailed)
    db.flush()
    db.add(
        CampaignRecipient(
            campaign_id=sent.id,
            customer_id=emailed.customer_id,
            shop_id=world.shop.id,
            status="emailed",
            message_id=emailed.id,
        )
    )
    db.commit()  # its email, in the Outbox beside the flow's
    return world


class Crawl:
    def __init__(self, stack: Stack, browser: Any, lang: str, way: str, group: str) -> None:
        self.stack, self.lang, self.way, self.group = stack, lang, way, group
        self.context, self.traffic = open_context(browser, stack.app_url, lang)
        if way == "standalone":  # the cookie-less context is for the embedded admin only
            self.context.unroute(re.compile("^" + re.escape(stack.app_url) + "/"))
        self.page = self.context.new_page()
        self.page.set_viewport_size({"width": 1280, "height": 900})
        self.page.set_default_timeout(ACTION_TIMEOUT_MS)
        self.problems: list[str] = []
        self.documents: list[tuple[str, int]] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"{self.at}: {error}"))
        self.context.on("request", self._request)
        self.context.on("response", self._response)
        self.at = ""

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(f"{self.at}: console: {message.text}")

    def _request(self, request: Any) -> None:
        if self.way == "embedded" and request.frame.parent_frame is None:
            return  # the simulated Shopify admin's own page, not the app's
        url = request.url
        if url.startswith(self.stack.app_url + "/") or url == APP_BRIDGE_CDN:
            return
        if url.startswith(("data:", "about:", "blob:")):
            return
        self.problems.append(f"{self.at}: requested another host: {url}")

    def _response(self, response: Any) -> None:
        request = response.request
        fetched = request.resource_type == "fetch" and request.method == "GET"
        navigated = request.is_navigation_request() or fetched
        if navigated and response.url.startswith(self.stack.app_url + "/"):
            self.documents.append((urlsplit(response.url).path, response.status))

    def open(self, href: str) -> int:
        """Load `href` as the merchant would and return the status of the app's answer: inside
        the admin the first page is the admin's document load, the next ones the app's own
        fetch navigation (a click on a link); standalone, a plain page load."""
        path = urlsplit(href).path
        self.at = path
        self.documents.clear()
        if self.way == "embedded" and self.page.frame(name="app-iframe") is None:
            rest = path.removeprefix("/app")
            url = f"{self.stack.shopify_url}/store/tea-house/apps/{SHOPIFY_API_KEY}{rest}"
            self.page.goto(f"{url}?locale={self.lang}")
            self.page.frame_locator("#app-iframe").locator("body").wait_for()
            self.page.wait_for_load_state("load")
        elif self.way == "embedded":
            self.app_frame().evaluate("href => window.kizunaNavigation.visit(href)", href)
            # The response event may be delivered after the page settled, later still when
            # the machine is busy: wait for it up to a deadline, never a fixed number of polls.
            deadline = time.monotonic() + RESPONSE_EVENT_WAIT_S
            while not any(doc_path == path for doc_path, _status in self.documents):
                if time.monotonic() > deadline:
                    break
                self.page.wait_for_timeout(50)
        else:
            response = self.page.goto(f"{self.stack.app_url}{href}")
            return response.status if response is not None else 0
        statuses = [status for doc_path, status in self.documents if doc_path == path]
        return statuses[-1] if statuses else 0

    def app_frame(self) -> Any:
        return (
            self.page.frame(name="app-iframe") if self.way == "embedded" else self.page.main_frame
        )

    def links(self) -> list[str]:
        hrefs: list[str] = self.app_frame().evaluate(
            "Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href'))"
        )
        return [h for h in hrefs if h.startswith("/")]

    def shot(self, path: str) -> None:
        name = re.sub(r"[^a-z0-9]+", "-", shape(path).lower()).strip("-") or "home"
        target = ARTIFACTS / f"page-{self.way}-{self.lang}-{name}.png"
        self.page.screenshot(path=str(target), full_page=True)

    def check_phone_width(self, path: str) -> None:
        """The page laid out at a phone's width, its navigation one entry longer: no wider than
        the screen (a wide table scrolls inside its own box, the navigation wraps). Inside the
        admin the app's frame fills the phone's width, as in Shopify's mobile admin."""
        self.page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
        try:
            width, viewport = self.app_frame().evaluate(
                """label => {
                    const nav = document.querySelector('nav.tabs');
                    if (nav) {
                        const entry = nav.querySelector('a').cloneNode(false);
                        entry.removeAttribute('aria-current');
                        entry.className = '';
                        entry.textContent = label;
                        nav.append(entry);
                    }
                    return [document.documentElement.scrollWidth, window.innerWidth];
                }""",
                ONE_MORE_ENTRY[self.lang],
            )
            assert viewport == PHONE_WIDTH, viewport
            if width > PHONE_WIDTH:
                name = re.sub(r"[^a-z0-9]+", "-", shape(path).lower()).strip("-") or "home"
                target = ARTIFACTS / f"page-phone-{self.way}-{self.lang}-{name}.png"
                self.page.screenshot(path=str(target), full_page=True)
                self.problems.append(f"{path}: {width} px wide at {PHONE_WIDTH} px")
        finally:
            self.page.set_viewport_size({"width": 1280, "height": 900})

    def sign_in(self, runtime: Any, world: World) -> None:
        """Standalone: the login link `kizuna login-link` prints, opened in the browser."""
        self.page.goto(make_login_url(runtime.config, runtime.redis, world.account.id))
        self.page.click("[data-login-link-submit]")
        self.page.wait_for_url(re.compile(r"/app$"))

    def crawl(self, wanted: Callable[[str], bool]) -> list[str]:
        queue, seen, visited = ["/app"], {shape("/app")}, []
        while queue:
            href = queue.pop(0)
            path = urlsplit(href).path
            status = self.open(href)
            visited.append(path)
            if status != 200:
                self.problems.append(f"{path}: answered {status}")
                continue
            self.shot(path)
            self.check_phone_width(path)
            for link in self.links():
                target = urlsplit(link).path
                if SKIPPED.search(target) or shape(target) in seen or not wanted(target):
                    continue
                if not target.startswith(("/app", "/account")):
                    continue
                if self.way == "embedded" and not target.startswith("/app"):
                    continue
                seen.add(shape(target))
                queue.append(link)
        return visited


@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("way", ["embedded", "standalone"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_admin_page(
    stack: Stack,
    config: Config,
    db: Session,
    runtime: Any,
    browser_page: Any,
    lang: str,
    way: str,
    group: str,
) -> None:
    if lang == "ja":
        require_japanese_font()
    world = prepare(db, stack, config, lang)
    crawl = Crawl(stack, browser_page.context.browser, lang, way, group)
    try:
        if way == "standalone":
            crawl.sign_in(runtime, world)
        visited = crawl.crawl(GROUPS[group])
        if group == "outbox":
            campaign_email = db.scalar(select(Message.id).where(Message.campaign_id.is_not(None)))
            for message_id in (world.message.id, campaign_email):
                path = f"/app/outbox/{message_id}"
                if path not in visited:
                    assert crawl.open(path) == 200, path
                    crawl.shot(f"{path}-other")
                    visited.append(path)
    finally:
        crawl.context.close()
    assert crawl.problems == []
    shapes = {shape(p) for p in visited}
    expected = {
        "other": {"/app", "/app/customers", "/app/customers/<id>", "/app/analytics"},
        "segments": {"/app/segments", "/app/segments/saved", "/app/segments/saved/<id>"},
        "flows": {
            "/app/flows",
            "/app/flows/cart",
            "/app/flows/winback",
            "/app/flows/recommendations",
        },
        "outbox": {"/app/outbox", "/app/outbox/<id>"},
        "campaigns": {
            "/app/campaigns",
            "/app/campaigns/new",
            "/app/campaigns/<id>",
            "/app/campaigns/<id>/report",
        },
    }
    assert expected[group] <= shapes, shapes
    if way == "embedded":
        assert crawl.traffic.cookies_sent == []
        assert crawl.traffic.set_cookies == []


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_error_pages_inside_the_admin_load_app_bridge(
    stack: Stack, config: Config, db: Session, browser_page: Any, lang: str
) -> None:
    """A missing page and an expired form, shown in Shopify's frame: App Bridge is loaded, the
    admin may frame them, and the way back into the app works."""
    prepare(db, stack, config, lang)
    crawl = Crawl(stack, browser_page.context.browser, lang, "embedded", "errors")
    try:
        assert crawl.open("/app/customers/999999") == 404
        frame = crawl.app_frame()
        assert frame.locator('script[src="' + APP_BRIDGE_CDN + '"]').count() == 1
        assert frame.locator('meta[name="shopify-api-key"]').count() == 1
        assert frame.locator("[data-error-status='404']").count() == 1
        crawl.shot("/error-404")
        frame.locator("main a.btn").click()
        frame.locator("html:not([aria-busy]) nav.tabs").wait_for()
        [problem] = crawl.problems  # the browser's own line about the 404
        assert problem.startswith("/app/customers/999999: console: Failed to load resource")
    finally:
        crawl.context.close()
