"""The admin's merchant-facing polish, over HTTP on real PostgreSQL: the product and collection
search is scoped to the store, the customer list filters by RFM cell, group or saved segment (bad
values are a 400, another store's segment a 404), the backtest page, translated connect pages,
money in the shop's currency on the RFM boundaries, and the favicon."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import CustomerScore, Product, SavedSegment
from tests.factories.admin import login, make_shop, text_of
from tests.factories.merchant_tour import TeaStore, build_tea_store

EN = {"Accept-Language": "en"}
JA = {"Accept-Language": "ja"}


def _store(client: Any, runtime: Any, db: Session) -> TeaStore:
    store = build_tea_store(db, history=12)
    login(client, runtime, store.account)
    return store


def test_catalogue_search_finds_this_stores_products_and_collections_by_name(
    client: Any, runtime: Any, db: Session
) -> None:
    store = _store(client, runtime, db)
    other = make_shop(db, store.account, "other-tea.myshopify.com")
    db.add(Product(shop_id=other.id, external_id="p-other", title="Sencha of another store"))
    db.commit()
    found = client.get("/app/segments/values?field=product_bought&q=SEN").get_json()
    assert found == {"results": [{"value": str(store.sencha.id), "label": "Sencha 100g"}]}
    every = client.get("/app/segments/values?field=product_bought&q=").get_json()
    assert [r["label"] for r in every["results"]] == ["Genmaicha 200g", "Sencha 100g"]
    green = client.get("/app/segments/values?field=collection_bought&q=green").get_json()
    assert green == {"results": [{"value": "c-green", "label": "Green tea"}]}
    # LIKE wildcards are searched for, not obeyed.
    assert client.get("/app/segments/values?field=product_bought&q=%25").get_json() == {
        "results": []
    }
    assert client.get("/app/segments/values?field=country&q=JP").status_code == 400


def test_a_saved_rule_shows_product_names_and_its_members(
    client: Any, runtime: Any, db: Session
) -> None:
    store = _store(client, runtime, db)
    segment = SavedSegment(
        shop_id=store.shop.id,
        name="Sencha buyers",
        rule={
            "match": "all",
            "rules": [{"field": "product_bought", "op": "is", "value": store.sencha.id}],
        },
    )
    db.add(segment)
    db.commit()
    page = text_of(client.get(f"/app/segments/saved/{segment.id}", headers=EN))
    assert re.search(r'data-testid="search-r-0"[^>]* value="Sencha 100g"', page)
    assert 'data-testid="segment-members"' in page
    assert f'data-customer-id="{store.hinata.id}"' in page
    assert f'data-customer-id="{store.hanako.id}"' not in page
    listing = text_of(client.get(f"/app/customers?segment_id={segment.id}", headers=EN))
    assert "Segment “Sencha buyers”" in listing
    assert re.findall(r'<tr data-customer-id="(\d+)"', listing) == [str(store.hinata.id)]


def test_the_customer_list_filters_by_rfm_cell_and_group(
    client: Any, runtime: Any, db: Session
) -> None:
    store = _store(client, runtime, db)
    r, fm, group = db.execute(
        select(CustomerScore.r, CustomerScore.fm, CustomerScore.rfm_group).where(
            CustomerScore.customer_id == store.hinata.id
        )
    ).one()

    def listed(query: str) -> set[int]:
        page = text_of(client.get(f"/app/customers?{query}", headers=EN))
        return {int(i) for i in re.findall(r'<tr data-customer-id="(\d+)"', page)}

    def scored(*conditions: Any) -> set[int]:
        return set(
            db.scalars(
                select(CustomerScore.customer_id).where(
                    CustomerScore.shop_id == store.shop.id, *conditions
                )
            )
        )

    in_cell = scored(CustomerScore.r == r, CustomerScore.fm == fm)
    assert store.hinata.id in in_cell
    assert listed(f"r={r}&fm={fm}") == in_cell
    assert listed(f"rfm_group={group}") == scored(CustomerScore.rfm_group == group)
    page = text_of(client.get(f"/app/customers?rfm_group={group}", headers=JA))
    assert 'data-field="list-filter"' in page

    # The segments page links its cells and groups to these lists.
    segments_page = text_of(client.get("/app/segments", headers=EN))
    assert f"/app/customers?r={r}&amp;fm={fm}" in segments_page
    assert f"/app/customers?rfm_group={group}" in segments_page

    for bad in ("rfm_group=vip", "r=9", "fm=x", "r=-1"):
        assert client.get(f"/app/customers?{bad}").status_code == 400, bad
    other = make_shop(db, store.account, "other-tea.myshopify.com")
    foreign = SavedSegment(shop_id=other.id, name="Theirs", rule={"match": "all", "rules": []})
    db.add(foreign)
    db.commit()
    assert client.get(f"/app/customers?segment_id={foreign.id}").status_code == 404


def test_rfm_boundaries_are_money_in_the_shops_currency(
    client: Any, runtime: Any, db: Session
) -> None:
    _store(client, runtime, db)
    for headers in (EN, JA):
        page = text_of(client.get("/app/segments", headers=headers))
        applied = re.search(
            r'data-dimension="monetary".*?data-field="applied">([^<]*)<', page, re.S
        )
        assert applied is not None
        assert applied.group(1).count("¥") == 4, applied.group(1)
        assert not re.search(r"\d\.\d{4}", applied.group(1))
        assert '<span class="input-prefix">¥</span>' in page


def test_the_backtest_page(client: Any, runtime: Any, db: Session) -> None:
    store = _store(client, runtime, db)
    empty = client.get("/app/flows/backtest", headers=EN)
    assert empty.status_code == 200
    assert 'data-testid="backtest-result"' not in text_of(empty)
    page = text_of(client.get("/app/flows/backtest?flow=cart&days=7", headers=EN))
    assert 'data-testid="backtest-result" data-flow="cart"' in page
    assert f'data-customer-id="{store.hinata.id}"' in page
    assert "Checkout tok-tour-0001" in page
    ja = text_of(client.get("/app/flows/backtest?flow=winback&days=90", headers=JA))
    assert "フローのバックテスト" in ja
    for bad in ("flow=nope", "flow=cart&days=12", "flow=cart&days=x"):
        assert client.get(f"/app/flows/backtest?{bad}").status_code == 400, bad


def test_connect_pages_speak_japanese_and_the_stores_page_links_them(
    client: Any, runtime: Any, db: Session
) -> None:
    _store(client, runtime, db)
    shopify = text_of(client.get("/connect/shopify", headers=JA))
    assert "<h1>Shopify ストアを接続</h1>" in shopify
    assert 'lang="ja"' in shopify
    woo = text_of(client.get("/connect/woocommerce", headers=JA))
    assert "<h1>WooCommerce ストアを接続</h1>" in woo
    assert "ストアのアドレス" in woo
    stores = text_of(client.get("/app/stores", headers=EN))
    assert 'href="/connect/shopify"' in stores
    assert 'href="/connect/woocommerce"' in stores
    home = text_of(client.get("/app", headers=EN))
    assert 'href="/app/stores"' in home  # in the navigation of every merchant
    assert 'rel="icon"' in home


def test_the_favicon_is_served(client: Any) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert response.data[:4] == b"\x00\x00\x01\x00"
    assert client.get("/static/favicon.svg").status_code == 200
