"""A WooCommerce merchant from nothing, in a real browser: sign up, open the confirmation email
from the simulated SendGrid's outbox, sign in, connect the simulated WooCommerce store and see
the first sync finish; then, for a merchant whose store is connected, invite a staff member who
signs in and cannot disconnect it, reset the owner's forgotten password by email, and
disconnect the store and see its data gone.

Kizuna, the simulated store and the simulated SendGrid each listen on a loopback port; the jobs
(emails, key check, sync) are drained in this process while the page waits, as a worker would.
Screenshots go to `tests/artifacts/` (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.models import Customer, Shop
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.woocommerce import SandboxWooCommerce
from tests.conftest import Dispatcher, LiveServer, Served, drain, make_test_env
from tests.e2e.conftest import ACTION_TIMEOUT_MS, ARTIFACTS
from tests.factories.accounts import (
    connect_woocommerce_store,
    emails_to,
    make_owner,
    sign_in,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STORE = "tea-shop"
OWNER = "owner@tea-house.example"
STAFF = "staff@tea-house.example"
PASSWORD = "matcha-latte-2026"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Served, Served, Served]]:
    served = tuple(Served(LiveServer(d), d) for d in (Dispatcher(), Dispatcher(), Dispatcher()))
    yield served  # type: ignore[misc]
    for each in served:
        each.server.stop()


@pytest.fixture
def sendgrid(servers: Any) -> SandboxSendGrid:
    sandbox = SandboxSendGrid()
    servers[2].dispatcher.target = sandbox.wsgi_app
    return sandbox


@pytest.fixture
def woocommerce(servers: Any) -> Iterator[SandboxWooCommerce]:
    platform = SandboxWooCommerce(seed=21)
    platform.add_store(url_path=STORE, customers=6, years=1, currency="JPY")
    servers[0].dispatcher.target = platform.wsgi_app
    yield platform
    platform.close()


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Path, servers: Any) -> Config:
    env = make_test_env(
        database_url, redis_url, APP_URL=servers[1].url, SENDGRID_SANDBOX_URL=servers[2].url
    )
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def live(app: Flask, servers: Any, sendgrid: SandboxSendGrid, woocommerce: Any) -> str:
    servers[1].dispatcher.target = app
    return str(servers[1].url)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"woocommerce-merchant-{name}.png"))


def open_last_email(page: Any, sendgrid: SandboxSendGrid, address: str) -> None:
    """Show the latest email to `address` as a mail client would, and press its button."""
    messages = emails_to(sendgrid, address)
    assert messages, f"no email to {address}"
    page.set_content(messages[-1].html or "")
    page.click("[data-account-link]")


def test_sign_up_confirm_the_email_and_sign_in(
    app: Flask, live: str, sendgrid: SandboxSendGrid, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{live}/app")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.click("[data-signup]")
    page.fill("#signup-name", "Tea House")
    page.fill("#signup-email", OWNER)
    page.fill("#signup-password", PASSWORD)
    shot(page, "01-sign-up")
    page.click("button[type=submit]")
    expect(page.locator("[data-check-email]")).to_contain_text(OWNER)

    drain(app)  # the worker sends the email
    open_last_email(page, sendgrid, OWNER)
    expect(page).to_have_url(re.compile(r"/account/verify$"))  # the token left the address bar
    shot(page, "02-confirm-email")
    page.click("[data-account-link-form] button[type=submit]")
    expect(page.locator("[data-login-notice]")).to_be_visible()

    page.fill("#login-email", OWNER)
    page.fill("#login-password", PASSWORD)
    page.click(".login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/app$"))
    expect(page.locator("[data-connect-woocommerce]")).to_be_visible()
    shot(page, "03-no-store-yet")


def test_connect_the_store_and_see_the_first_sync_finish(
    app: Flask, live: str, servers: Any, db: Session, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    make_owner(db, OWNER, PASSWORD, name="Tea House")
    page = browser_page
    _sign_in(page, live, OWNER, PASSWORD)
    page.click("[data-connect-woocommerce]")
    page.fill("#store_url", f"{servers[0].url}/{STORE}")
    page.click("button[type=submit]")
    # The simulated store approves at once and sends the browser back to wait for the key check.
    expect(page).to_have_url(re.compile(r"/connect/woocommerce/done\?"))
    drain(app)  # key check, webhooks and the first sync
    expect(page).to_have_url(re.compile(r"/app$"), timeout=10_000)  # the page refreshes itself
    expect(page.locator('[data-field="sync-status"]')).to_have_text("Done")
    shot(page, "04-first-sync-done")
    page.goto(f"{live}/app/stores")
    expect(page.locator("tr[data-shop-id]")).to_have_count(1)
    expect(page.locator('[data-field="customers"]')).not_to_have_text("0")
    db.expire_all()
    assert (db.scalar(select(func.count()).select_from(Customer)) or 0) >= 6


@pytest.fixture
def connected_owner(app: Flask, live: str, servers: Any, db: Session, drain_jobs: Any) -> Shop:
    """An owner who signed up and connected the simulated store (over HTTP, no browser)."""
    make_owner(db, OWNER, PASSWORD, name="Tea House")
    client = app.test_client()
    assert sign_in(client, OWNER, PASSWORD).status_code == 302
    connect_woocommerce_store(client, f"{servers[0].url}/{STORE}", drain_jobs)
    shop = db.scalars(select(Shop)).one()
    assert shop.sync_state["status"] == "done"
    return shop


def _sign_in(page: Any, base: str, email: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/login")
    page.fill("#login-email", email)
    page.fill("#login-password", password)
    page.click(".login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/app$"))


def test_invited_staff_signs_in_and_cannot_disconnect_the_store(
    app: Flask,
    live: str,
    sendgrid: SandboxSendGrid,
    connected_owner: Shop,
    browser_page: Any,
) -> None:
    from playwright.sync_api import expect

    owner = browser_page
    _sign_in(owner, live, OWNER, PASSWORD)
    owner.click("[data-nav-team]")
    owner.fill("#invite-email", STAFF)
    owner.click("[data-invite-form] button[type=submit]")
    expect(owner.locator("[data-team-notice]")).to_be_visible()
    expect(owner.locator(f'tr[data-member="{STAFF}"]')).to_be_visible()
    shot(owner, "05-team-invited")
    drain(app)

    # The staff member accepts in their own browser, signs in and cannot disconnect the store.
    staff_context = owner.context.browser.new_context(locale="en-US")
    try:
        staff = staff_context.new_page()
        staff.set_default_timeout(ACTION_TIMEOUT_MS)
        open_last_email(staff, sendgrid, STAFF)
        staff.fill("#new-password", "staff-password-1")
        staff.fill("#repeat-password", "staff-password-1")
        staff.click("[data-account-link-form] button[type=submit]")
        expect(staff).to_have_url(re.compile(r"/app$"))
        staff.goto(f"{live}/app/stores")
        expect(staff.locator("tr[data-shop-id]")).to_have_count(1)
        expect(staff.locator("[data-disconnect-link]")).to_have_count(0)
        answer = staff.goto(f"{live}/app/stores/{connected_owner.id}/disconnect")
        assert answer is not None
        assert answer.status == 403
        expect(staff.locator("[data-forbidden]")).to_be_visible()
        shot(staff, "06-staff-cannot-disconnect")
    finally:
        staff_context.close()


def test_owner_resets_a_forgotten_password_by_email(
    app: Flask, live: str, db: Session, sendgrid: SandboxSendGrid, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    make_owner(db, OWNER, PASSWORD, name="Tea House")
    elsewhere = browser_page
    _sign_in(elsewhere, live, OWNER, PASSWORD)
    context = elsewhere.context.browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        page.goto(f"{live}/login")
        page.click("[data-forgot-password]")
        page.fill("#forgot-email", OWNER)
        page.click("button[type=submit]")
        expect(page.locator("[data-check-email]")).to_be_visible()
        drain(app)
        open_last_email(page, sendgrid, OWNER)
        page.fill("#new-password", "a-new-password-26")
        page.fill("#repeat-password", "a-new-password-26")
        shot(page, "07-reset-password")
        page.click("[data-account-link-form] button[type=submit]")
        expect(page).to_have_url(re.compile(r"/app$"))
    finally:
        context.close()
    elsewhere.goto(f"{live}/app/stores")
    expect(elsewhere).to_have_url(re.compile(r"/login$"))  # the other session ended
    _sign_in(elsewhere, live, OWNER, "a-new-password-26")


def test_owner_disconnects_the_store_and_its_data_is_gone(
    live: str,
    db: Session,
    woocommerce: SandboxWooCommerce,
    connected_owner: Shop,
    browser_page: Any,
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    label = connected_owner.domain.split("://", 1)[1]
    _sign_in(page, live, OWNER, PASSWORD)
    page.goto(f"{live}/app/stores")
    expect(page.locator('[data-field="customers"]')).not_to_have_text("0")
    page.click("[data-disconnect-link]")
    page.fill("#confirm-domain", "not-my-store.example")
    page.click("[data-disconnect-form] button[type=submit]")
    expect(page.locator("[data-disconnect-error]")).to_be_visible()
    page.fill("#confirm-domain", label)
    page.click("[data-disconnect-form] button[type=submit]")
    expect(page.locator("[data-disconnected]")).to_be_visible()
    expect(page.locator("[data-keys-page]")).to_have_attribute("href", re.compile(r"section=keys$"))
    shot(page, "08-disconnected")
    page.goto(f"{live}/app/stores")
    expect(page.locator("tr[data-shop-id]")).to_have_count(0)
    expect(page.locator('[data-field="customers"]')).to_have_text("0")
    assert woocommerce.store(STORE).webhooks == {}
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Customer)) == 0
