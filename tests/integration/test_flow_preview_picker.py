"""The flow preview's customer is picked by name or email: the JSON search behind the picker
(scoped to the shop, only customers the flow's preview can be shown for, answered with an
embedded session token and no cookie), the page's default (the latest such customer), and the
same search on the server when the text is sent without a script.

Real PostgreSQL and Redis; the simulated Shopify mints the session tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.models import Account, Customer, Shop
from connectors.sandbox.shopify import SandboxShopify
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET
from tests.factories.admin import login, make_account, make_customer, make_order, make_shop, text_of

pytestmark = pytest.mark.integration

DOMAIN = "tea-house.myshopify.com"
EN = {"Accept-Language": "en"}
SEARCH = "/app/flows/winback/preview-customers"
HANAKO_LABEL = "Hanako Tanaka · hanako@example.jp"


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    """Win-back previews need an order: Hanako and Hanae have one (Hanae's the latest), Hanabi
    has none, and another store's Hanako has one."""
    shop = make_shop(db, make_account(db), DOMAIN, locale="en")
    people: dict[str, Any] = {"shop": shop}
    long_ago = datetime.now(UTC) - timedelta(days=200)
    for key, first, last, days in (
        ("hanako", "Hanako", "Tanaka", 0),
        ("hanae", "Hanae", "Mori", 30),
        ("hanabi", "Hanabi", "Sato", None),
    ):
        customer = make_customer(
            db, shop, first_name=first, last_name=last, email=f"{key}@example.jp", orders_count=1
        )
        if days is not None:
            when = long_ago + timedelta(days=days)
            make_order(db, shop, customer, f"#{key}", [("Sencha", 1, "1200")], processed_at=when)
        people[key] = customer
    other = make_shop(db, make_account(db, "Other"), "other.myshopify.com")
    stranger = make_customer(
        db, other, first_name="Hanako", last_name="Other", email="hanako@other.example"
    )
    make_order(db, other, stranger, "#1", [("Sencha", 1, "1200")], processed_at=long_ago)
    people["stranger"] = stranger
    return people


def _labels(response: Any) -> list[str]:
    assert response.status_code == 200
    return [found["label"] for found in response.get_json()["results"]]


def _ids(response: Any) -> list[int]:
    return [int(found["value"]) for found in response.get_json()["results"]]


def test_the_search_finds_previewable_customers_of_this_shop_by_name_or_email(
    client: Any, db: Session, runtime: Any, world: dict[str, Any]
) -> None:
    shop: Shop = world["shop"]
    hanako: Customer = world["hanako"]
    hanae: Customer = world["hanae"]
    login(client, runtime, db.get_one(Account, shop.account_id))

    found = client.get(SEARCH, query_string={"q": "hana"}, headers=EN)
    assert set(_ids(found)) == {hanako.id, hanae.id}  # not Hanabi (no order), not the stranger
    assert "Hanae Mori · hanae@example.jp" in _labels(found)
    assert _ids(client.get(SEARCH, query_string={"q": "HANAE@EXAMPLE"})) == [hanae.id]
    assert _ids(client.get(SEARCH, query_string={"q": "tanaka"})) == [hanako.id]
    assert _ids(client.get(SEARCH, query_string={"q": "hanabi"})) == []
    assert _ids(client.get(SEARCH, query_string={"q": "other"})) == []
    # Nothing typed: the latest customers the preview can be shown for, latest order first.
    assert _ids(client.get(SEARCH)) == [hanae.id, hanako.id]
    assert client.get("/app/flows/nope/preview-customers?q=hana").status_code == 404


def test_the_search_answers_an_embedded_request_with_no_cookie(
    app: Any, db: Session, runtime: Any, world: dict[str, Any]
) -> None:
    world["shop"].access_token_encrypted = runtime.cipher.encrypt("shpat_embedded")  # installed
    db.commit()
    sandbox = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=5)
    sandbox.add_shop(DOMAIN, customers=1, years=1, name="Tea House")
    try:
        bare = app.test_client(use_cookies=False)
        refused = bare.get(
            SEARCH, query_string={"q": "hana"}, headers={"Accept": "application/json"}
        )
        assert refused.status_code in (401, 403)
        token = sandbox.mint_session_token(DOMAIN)
        found = bare.get(
            SEARCH,
            query_string={"q": "tanaka", "embedded": "1", "shop": DOMAIN, "host": "YWRtaW4"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert _ids(found) == [world["hanako"].id]
        assert "Set-Cookie" not in found.headers
    finally:
        sandbox.close()


def test_the_page_defaults_to_the_latest_customer_and_searches_typed_text(
    client: Any, db: Session, runtime: Any, world: dict[str, Any]
) -> None:
    shop: Shop = world["shop"]
    hanako, hanae = world["hanako"], world["hanae"]
    login(client, runtime, db.get_one(Account, shop.account_id))

    page = text_of(client.get("/app/flows/winback", headers=EN))
    assert f"(customer {hanae.id})" in page
    assert 'value="Hanae Mori · hanae@example.jp"' in page
    assert f'name="customer_id" value="{hanae.id}"' in page
    assert 'data-search-url="/app/flows/winback/preview-customers"' in page

    # Typed and sent without picking (no script): the best match is previewed.
    typed = text_of(client.get("/app/flows/winback?customer=tanaka", headers=EN))
    assert f"(customer {hanako.id})" in typed
    # The text still naming the picked customer: the picked one, by id.
    picked = text_of(
        client.get(
            "/app/flows/winback",
            query_string={
                "customer": "Hanako Tanaka · hanako@example.jp",
                "customer_id": hanako.id,
            },
            headers=EN,
        )
    )
    assert f"(customer {hanako.id})" in picked
    # The text changed after a pick: the text wins over the stale id.
    changed = text_of(
        client.get(
            "/app/flows/winback",
            query_string={"customer": "mori", "customer_id": hanako.id},
            headers=EN,
        )
    )
    assert f"(customer {hanae.id})" in changed
    nobody = text_of(client.get("/app/flows/winback?customer=hanabi", headers=EN))
    assert "No customer matching “hanabi” can be previewed for this flow." in nobody
    assert 'data-step="' not in nobody
