"""The segment builder in a real browser: the count follows the edits, rows are added and
removed in place, and the saved segment lists with its count.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.login_link import make_login_token
from app.models import Account, SavedSegment
from tests.factories.admin import make_customer, make_shop

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_live_count_add_remove_and_save(
    app: Any, serve: Any, db: Session, runtime: Any, browser_page: Any
) -> None:
    from playwright.sync_api import expect

    account = Account(name="Tea House")
    db.add(account)
    db.commit()
    shop = make_shop(db, account, "tea-house.myshopify.com", name="Tea House")
    for n in range(5):
        make_customer(
            db, shop, country_code="JP" if n < 3 else "US", tags=["vip"] if n == 0 else []
        )
    base = serve(app).url
    page = browser_page
    page.goto(f"{base}/login/link#{make_login_token(runtime.redis, account.id)}")
    page.click("[data-login-link-submit]")
    page.wait_for_url(re.compile(r"/app"))
    page.goto(f"{base}/app/segments/saved/new")
    count = page.get_by_test_id("segment-count")
    expect(page.get_by_test_id("refresh-count")).to_be_hidden()

    page.select_option("#r-0-field", "country")
    page.select_option("#r-0-op", "is")
    page.fill("#r-0-value", "JP")
    expect(count).to_have_attribute("data-count", "3")

    page.get_by_test_id("add-condition").click()
    page.select_option("#r-1-field", "tag")
    page.select_option("#r-1-op", "has")
    page.fill("#r-1-value", "vip")
    expect(count).to_have_attribute("data-count", "1")

    page.fill("#r-1-value", "")  # invalid: the reason shows next to the field
    expect(page.locator('[data-error-for="r-1-value"]')).to_be_visible()
    page.get_by_test_id("remove-r-0").click()  # the tag row becomes r-0
    expect(page.locator("#r-0-field")).to_have_value("tag")
    page.fill("#r-0-value", "vip")
    expect(count).to_have_attribute("data-count", "1")

    page.fill("#segment-name", "VIP")
    page.get_by_test_id("save-segment").click()
    expect(page.locator('[data-field="saved"]')).to_be_visible()
    rule = db.scalars(select(SavedSegment.rule)).one()
    assert rule == {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}
    page.goto(f"{base}/app/segments/saved")
    expect(page.locator('tr[data-segment-id] [data-field="count"]')).to_have_text(re.compile("^1$"))
