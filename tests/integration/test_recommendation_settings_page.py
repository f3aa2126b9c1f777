"""The recommendations page (`/app/flows/recommendations`): collections and product types with
their re-buy figures and defaults, marked durable or consumable by the merchant; the hold period;
products' days of supply with search. Both languages, standalone and embedded (session token, no
cookie), hostile input refused with the fields named, every read and write scoped to the shop.

Real PostgreSQL and Redis, the Flask test client.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows.post_purchase import refresh_history_stats
from app.models import Account, Product, Shop
from app.models.recommendation_settings import ProductGroup, ProductSupply, RecommendationSettings
from tests.factories.admin import login, make_account, make_shop, text_of
from tests.factories.durable_goods import (
    FILTER,
    FILTERS,
    MICROWAVES,
    SOAP,
    add_appliances,
    appliance_history,
)
from tests.factories.post_purchase import setup_shop
from tests.factories.tenants import session_token

pytestmark = pytest.mark.integration

PAGE = "/app/flows/recommendations"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


@pytest.fixture
def shop(db: Session, client: Any, runtime: Any) -> Shop:
    made, _hanako = setup_shop(db)
    add_appliances(db, made)
    appliance_history(db, made)
    refresh_history_stats(db, made.id)
    login(client, runtime, db.get_one(Account, made.account_id))
    return made


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("Durable goods", "Days of supply", "Not enough data", "5.0%")),
        ("ja", ("耐久財", "使用日数", "データ不足", "5.0%")),
    ],
)
def test_the_page_shows_each_group_with_its_figures_and_default(
    client: Any, shop: Shop, lang: str, words: tuple[str, ...]
) -> None:
    page = client.get(PAGE, headers={"Accept-Language": lang})
    assert page.status_code == 200
    text = text_of(page)
    for word in words:
        assert word in text
    microwaves = re.search(
        rf'<tr data-group="kind:collection:{MICROWAVES}" data-effective="durable">(.*?)</tr>',
        text,
        re.S,
    )
    assert microwaves, "the microwaves are durable by default"
    assert 'data-field="rate">5.0%' in microwaves.group(1)
    assert f'data-group="kind:collection:{FILTERS}" data-effective="unknown"' in text
    assert f'data-product="{SOAP}"' in text
    assert "電子レンジ" in text


def test_marks_and_the_hold_period_are_saved(client: Any, db: Session, shop: Shop) -> None:
    text = text_of(client.get(PAGE))
    saved = client.post(
        PAGE,
        data={
            "csrf_token": _csrf(text),
            "durable_hold_days": "180",
            "grouping": "product_type",
            f"kind:collection:{MICROWAVES}": "consumable",
            f"kind:collection:{FILTERS}": "durable",
            "kind:type:洗剤": "durable",
            "kind:collection:no-such-collection": "durable",  # not the shop's: ignored
        },
    )
    assert saved.status_code == 302
    assert "saved=groups" in saved.headers["Location"]
    db.expire_all()
    settings = db.get_one(RecommendationSettings, shop.id)
    assert (settings.durable_hold_days, settings.grouping) == (180, "product_type")
    marks = {
        (row.grouping, row.group_key): row.kind
        for row in db.scalars(select(ProductGroup).where(ProductGroup.kind.is_not(None)))
    }
    assert marks == {
        ("collection", MICROWAVES): "consumable",
        ("collection", FILTERS): "durable",
        ("product_type", "洗剤"): "durable",
    }
    page = text_of(client.get(f"{PAGE}?saved=groups"))
    assert 'data-saved="groups"' in page
    assert 'value="180"' in page
    # Back to the default.
    client.post(
        PAGE,
        data={
            "csrf_token": _csrf(page),
            "durable_hold_days": "180",
            "grouping": "collection",
            f"kind:collection:{MICROWAVES}": "",
        },
    )
    db.expire_all()
    row = db.get_one(ProductGroup, (shop.id, "collection", MICROWAVES))
    assert (row.kind, row.buyers) == (None, 20)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("durable_hold_days", "0"),
        ("durable_hold_days", "-5"),
        ("durable_hold_days", "9" * 40),
        ("durable_hold_days", "1e3"),
        ("durable_hold_days", " "),
        ("grouping", "<script>alert(1)</script>"),
        (f"kind:collection:{MICROWAVES}", "forever"),
    ],
)
def test_hostile_input_is_refused_with_the_field_named(
    client: Any, db: Session, shop: Shop, field: str, value: str
) -> None:
    text = text_of(client.get(PAGE))
    form = {"csrf_token": _csrf(text), "durable_hold_days": "30", "grouping": "collection"}
    refused = client.post(PAGE, data={**form, field: value})
    assert refused.status_code == 400
    page = text_of(refused)
    assert "data-errors" in page
    assert "<script>alert(1)</script>" not in page
    db.expire_all()
    assert db.get(RecommendationSettings, shop.id) is None
    assert db.scalars(select(ProductGroup).where(ProductGroup.kind.is_not(None))).all() == []


def test_days_of_supply_are_saved_searched_and_scoped_to_the_shop(
    client: Any, db: Session, shop: Shop
) -> None:
    other = make_shop(db, make_account(db, "Other"), "other-store.myshopify.com")
    db.add(Product(shop_id=other.id, external_id="999", title="Other soap", status="active"))
    db.add(Product(shop_id=shop.id, external_id="666", title="<img src=x onerror=alert(1)>"))
    db.commit()
    page = text_of(client.get(PAGE, query_string={"q": "洗剤"}))
    assert f'data-product="{SOAP}"' in page
    assert f'data-product="{FILTER}"' not in page
    assert "Other soap" not in text_of(client.get(PAGE, query_string={"q": "soap"}))
    assert "<img src=x" not in text_of(client.get(PAGE))  # titles are escaped

    saved = client.post(
        f"{PAGE}/supply?q=洗剤",
        data={"csrf_token": _csrf(page), f"supply:{SOAP}": "30", "supply:999": "10"},
    )
    assert saved.status_code == 302
    assert "saved=supply" in saved.headers["Location"]
    db.expire_all()
    rows = {(r.shop_id, r.product_external_id): r.days for r in db.scalars(select(ProductSupply))}
    assert rows == {(shop.id, SOAP): 30}  # the other shop's product was not touched

    for bad in ("0", "731", "abc", "-1", "3.5"):
        refused = client.post(
            f"{PAGE}/supply", data={"csrf_token": _csrf(page), f"supply:{SOAP}": bad}
        )
        assert refused.status_code == 400, bad
        assert f'data-error="supply:{SOAP}"' in text_of(refused)
    cleared = client.post(f"{PAGE}/supply", data={"csrf_token": _csrf(page), f"supply:{SOAP}": ""})
    assert cleared.status_code == 302
    db.expire_all()
    assert db.scalars(select(ProductSupply)).all() == []


def test_another_shops_groups_are_not_shown(client: Any, db: Session, shop: Shop) -> None:
    other_shop, _ = setup_shop(db, domain="elsewhere.myshopify.com")
    db.add(ProductGroup(shop_id=other_shop.id, grouping="collection", group_key="77", buyers=9))
    db.commit()
    text = text_of(client.get(PAGE))
    assert 'data-group="kind:collection:77"' not in text
    assert f'data-group="kind:collection:{MICROWAVES}"' in text


def test_the_embedded_admin_saves_with_its_session_token(
    client: Any, db: Session, runtime: Any
) -> None:
    shop, _ = setup_shop(db, domain="tea-house.myshopify.com")
    shop.access_token_encrypted = runtime.cipher.encrypt("shpat_embedded")
    db.commit()
    add_appliances(db, shop)
    query = {"embedded": "1", "shop": shop.domain, "host": "YWRtaW4", "locale": "ja"}
    page = client.get(PAGE, query_string={**query, "id_token": session_token(shop.domain)})
    assert page.status_code == 200
    assert "おすすめと買い替え" in text_of(page)
    saved = client.post(
        PAGE,
        query_string=query,
        data={"durable_hold_days": "90", "grouping": "collection"},
        headers={"Authorization": f"Bearer {session_token(shop.domain)}"},
    )
    assert saved.status_code == 302, text_of(saved)[:300]
    assert "embedded=1" in saved.headers["Location"]
    assert client.get_cookie("session") is None
    db.expire_all()
    assert db.get_one(RecommendationSettings, shop.id).durable_hold_days == 90
