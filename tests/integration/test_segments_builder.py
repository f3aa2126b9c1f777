"""Segment rules against hand-written SQL, shop isolation, CSV export, flow audiences, pages, API.

Real PostgreSQL and Redis (see conftest). About 300 customers with orders, lines, products,
collections and scores are generated from a seeded random source; for each rule, the builder's
count must equal a hand-written SQL query on the same rows. The tag and consent rules run on a
SQLite database built by the migrations too, against a count made in Python.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.db import make_engine
from app.domain.segment_rules import FIELD_NAMES
from app.migrate import upgrade
from app.models import (
    Customer,
    CustomerScore,
    Product,
    SavedSegment,
    Shop,
)
from app.models.flow import FlowSetting
from app.services import segments
from tests.factories import segment_worlds
from tests.factories.admin import text_of
from tests.factories.segment_worlds import (
    JP_RULE,
    NOW,
    TAGS,
    World,
    _signed_in,
    build_world,
)

world = segment_worlds.world


pytestmark = pytest.mark.integration


LIVE = "c.shop_id = :shop AND c.deleted_at IS NULL AND c.redacted_at IS NULL"
BOUGHT = (
    "SELECT o.customer_id FROM orders o JOIN order_lines l ON l.order_id = o.id "
    "JOIN products p ON p.shop_id = o.shop_id AND p.external_id = l.product_external_id "
    "WHERE o.shop_id = :shop AND o.cancelled_at IS NULL AND o.customer_id IS NOT NULL"
)
SCORES = "SELECT s.customer_id FROM customer_scores s WHERE s.shop_id = :shop"


def _cases(world: World) -> list[tuple[dict[str, Any], str]]:
    p3 = world.products[3].id
    return [
        (
            {
                "match": "all",
                "rules": [
                    {"field": "total_spent", "op": "gte", "value": "500"},
                    {"field": "orders_count", "op": "gt", "value": 1},
                ],
            },
            "c.total_spent >= 500 AND c.orders_count > 1",
        ),
        (
            {
                "match": "any",
                "rules": [
                    {"field": "country", "op": "is", "value": "jp"},
                    {"field": "tag", "op": "has", "value": "vip"},
                ],
            },
            "c.country_code = 'JP' OR EXISTS (SELECT 1 FROM json_array_elements_text(c.tags) t "
            "WHERE t = 'vip')",
        ),
        (
            {
                "match": "all",
                "rules": [
                    {"field": "consent", "op": "is", "value": "subscribed"},
                    {
                        "match": "any",
                        "rules": [
                            {"field": "rfm_group", "op": "is", "value": "champions"},
                            {"field": "rfm_group", "op": "is", "value": "loyal"},
                            {
                                "match": "all",
                                "rules": [
                                    {"field": "predicted_clv", "op": "gt", "value": "300"},
                                    {"field": "probability_alive", "op": "gte", "value": 0.5},
                                ],
                            },
                        ],
                    },
                ],
            },
            "upper(c.email_marketing_state) = 'SUBSCRIBED' AND c.id IN (" + SCORES + " AND ("
            "s.rfm_group IN ('champions', 'loyal') OR "
            "(s.predicted_clv > 300 AND s.probability_alive >= 0.5)))",
        ),
        (
            {
                "match": "all",
                "rules": [{"field": "last_order_at", "op": "within_days", "value": 90}],
            },
            "c.last_order_at >= TIMESTAMPTZ '2026-09-02 12:00:00+00'",
        ),
        (
            {
                "match": "all",
                "rules": [{"field": "first_order_at", "op": "before", "value": "2025-06-01"}],
            },
            "c.first_order_at < TIMESTAMPTZ '2025-06-01 00:00:00+09'",
        ),
        (
            {
                "match": "any",
                "rules": [
                    {"field": "last_order_at", "op": "after", "value": "2026-06-30"},
                    {"field": "last_order_at", "op": "over_days_ago", "value": 180},
                ],
            },
            "c.last_order_at >= TIMESTAMPTZ '2026-07-01 00:00:00+09' "
            "OR c.last_order_at < TIMESTAMPTZ '2026-06-04 12:00:00+00'",
        ),
        (
            {"match": "all", "rules": [{"field": "product_bought", "op": "is", "value": p3}]},
            f"c.id IN ({BOUGHT} AND p.id = {p3})",
        ),
        (
            {
                "match": "all",
                "rules": [
                    {"field": "product_bought", "op": "is_not", "value": p3},
                    {"field": "collection_bought", "op": "is", "value": "c-green"},
                ],
            },
            f"c.id NOT IN ({BOUGHT} AND p.id = {p3}) AND c.id IN ({BOUGHT} AND p.id IN "  # noqa: S608
            "(SELECT pc.product_id FROM product_collections pc WHERE pc.shop_id = :shop "
            "AND pc.collection_external_id = 'c-green'))",
        ),
        (
            {
                "match": "all",
                "rules": [
                    {"field": "tag", "op": "has_not", "value": "vip"},
                    {"field": "country", "op": "is_not", "value": "US"},
                ],
            },
            "NOT (c.tags::jsonb ? 'vip') AND c.country_code IS DISTINCT FROM 'US'",
        ),
        (
            {
                "match": "any",
                "rules": [
                    {"field": "consent", "op": "is", "value": "not_subscribed"},
                    {"field": "consent", "op": "is", "value": "unsubscribed"},
                ],
            },
            "c.email_marketing_state IS NULL OR upper(c.email_marketing_state) <> 'SUBSCRIBED'",
        ),
        (
            {"match": "all", "rules": [{"field": "rfm_group", "op": "is_not", "value": "lost"}]},
            f"c.id NOT IN ({SCORES} AND s.rfm_group = 'lost')",
        ),
        (
            {
                "match": "all",
                "rules": [
                    {"field": "expected_orders_365", "op": "lt", "value": 1.5},
                    {"field": "expected_next_order_at", "op": "within_days", "value": 60},
                ],
            },
            f"c.id IN ({SCORES} AND s.expected_orders_365 < 1.5) AND c.id IN ({SCORES} AND "
            "s.expected_next_order_at BETWEEN TIMESTAMPTZ '2026-12-01 12:00:00+00' "
            "AND TIMESTAMPTZ '2027-01-30 12:00:00+00')",
        ),
        (
            {
                "match": "any",
                "rules": [
                    {"field": "expected_next_order_at", "op": "before", "value": "2026-12-01"},
                    {"field": "expected_next_order_at", "op": "after", "value": "2027-03-01"},
                ],
            },
            f"c.id IN ({SCORES} AND (s.expected_next_order_at < "
            "TIMESTAMPTZ '2026-12-01 00:00:00+09' OR s.expected_next_order_at >= "
            "TIMESTAMPTZ '2027-03-02 00:00:00+09'))",
        ),
        (
            {
                "match": "any",
                "rules": [
                    {"field": "orders_count", "op": "eq", "value": "0"},
                    {"field": "total_spent", "op": "lt", "value": "100.5"},
                ],
            },
            "c.orders_count = 0 OR c.total_spent < 100.5",
        ),
        ({"match": "any", "rules": []}, "true"),
    ]


def _hand_count(db: Session, shop: Shop, where: str) -> int:
    query = f"SELECT count(*) FROM customers c WHERE {LIVE} AND ({where})"  # noqa: S608
    return int(db.execute(text(query), {"shop": shop.id}).scalar_one())


def test_counts_equal_hand_written_sql(db: Session, world: World) -> None:
    counts: set[int] = set()
    fields: set[str] = set()
    for rule, where in _cases(world):
        expected = _hand_count(db, world.shop, where)
        assert segments.count_matching(db, world.shop.id, rule, now=NOW) == expected, rule
        ids = segments.matching_customer_ids(db, world.shop.id, rule, now=NOW)
        assert len(ids) == expected
        counts.add(expected)
        fields.update(condition["field"] for condition in _flat(rule))
    assert set(FIELD_NAMES) <= fields  # every field is exercised
    assert len(counts) > 10  # and the rules select different customers


def _flat(rule: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in rule["rules"]:
        if "rules" in item:
            yield from _flat(item)
        else:
            yield item


def test_shop_isolation(db: Session, world: World) -> None:
    everyone = {"match": "all", "rules": []}
    ids = set(segments.matching_customer_ids(db, world.shop.id, everyone, now=NOW))
    other_ids = set(db.scalars(select(Customer.id).where(Customer.shop_id == world.other.id)))
    assert ids
    assert other_ids
    assert not ids & other_ids
    # A product id of shop B never matches shop A's customers, even via shared external ids.
    other_product = db.scalars(select(Product.id).where(Product.shop_id == world.other.id)).first()
    bought = {
        "match": "all",
        "rules": [{"field": "product_bought", "op": "is", "value": other_product}],
    }
    assert segments.count_matching(db, world.shop.id, bought, now=NOW) == 0
    exported = "".join(segments.export_csv(db, world.shop.id, everyone, batch_size=7, now=NOW))
    exported_ids = {int(row["id"]) for row in csv.DictReader(io.StringIO(exported))}
    assert exported_ids == ids


def test_csv_export_is_complete_ordered_and_injection_safe(db: Session, world: World) -> None:
    rule = {"match": "all", "rules": [{"field": "orders_count", "op": "gte", "value": 1}]}
    expected = segments.matching_customer_ids(db, world.shop.id, rule, now=NOW)
    rows = list(
        csv.DictReader(
            io.StringIO(
                "".join(segments.export_csv(db, world.shop.id, rule, batch_size=13, now=NOW))
            )
        )
    )
    assert [int(row["id"]) for row in rows] == expected
    assert list(rows[0]) == list(segments.CSV_COLUMNS)
    for row in rows:
        for name in ("email", "first_name", "last_name", "country", "rfm_group"):
            assert not row[name].startswith(("=", "+", "-", "@")), row
    by_id = {c.id: c for c in world.customers}
    formula = [row for row in rows if row["email"].startswith("'=")]
    assert formula
    sample = rows[0]
    customer = by_id[int(sample["id"])]
    assert sample["orders"] == str(customer.orders_count)
    assert Decimal(sample["total_spent"]) == customer.total_spent.quantize(Decimal(1))
    score = db.scalar(
        select(CustomerScore.rfm_group).where(CustomerScore.customer_id == customer.id)
    )
    assert sample["rfm_group"] == (score or "")


# --- SQLite ----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_session(tmp_path: Path) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path / 'segments.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_tag_and_consent_rules_on_sqlite(sqlite_session: Session) -> None:
    world = build_world(sqlite_session, count=120)
    live = [c for c in world.customers if c.deleted_at is None and c.redacted_at is None]

    def count(rule: dict[str, Any]) -> int:
        return segments.count_matching(sqlite_session, world.shop.id, rule, now=NOW)

    def state(c: Customer) -> str:
        return (c.email_marketing_state or "").upper()

    for tag in TAGS:
        has = {"match": "all", "rules": [{"field": "tag", "op": "has", "value": tag}]}
        has_not = {"match": "all", "rules": [{"field": "tag", "op": "has_not", "value": tag}]}
        assert count(has) == sum(tag in c.tags for c in live)
        assert count(has_not) == sum(tag not in c.tags for c in live)
    expected = {
        "subscribed": sum(state(c) == "SUBSCRIBED" for c in live),
        "unsubscribed": sum(state(c) == "UNSUBSCRIBED" for c in live),
        "not_subscribed": sum(state(c) not in ("SUBSCRIBED", "UNSUBSCRIBED") for c in live),
    }
    for value, number in expected.items():
        rule = {"match": "all", "rules": [{"field": "consent", "op": "is", "value": value}]}
        assert count(rule) == number > 0
    nested = {
        "match": "any",
        "rules": [
            {"field": "consent", "op": "is", "value": "unsubscribed"},
            {
                "match": "all",
                "rules": [
                    {"field": "tag", "op": "has", "value": "gift"},
                    {"field": "country", "op": "is_not", "value": "US"},
                ],
            },
        ],
    }
    assert count(nested) == sum(
        state(c) == "UNSUBSCRIBED" or ("gift" in c.tags and c.country_code != "US") for c in live
    )
    # Dates are stored as UTC text on SQLite: the comparisons still hold.
    recent = {
        "match": "all",
        "rules": [{"field": "last_order_at", "op": "within_days", "value": 90}],
    }
    cutoff = NOW - timedelta(days=90)
    assert count(recent) == sum(
        c.last_order_at is not None and c.last_order_at >= cutoff for c in live
    )


# --- flow audience ---------------------------------------------------------------------------


def test_in_audience_everyone_segment_and_deleted_segment(db: Session, world: World) -> None:
    shop_id = world.shop.id
    live = [c for c in world.customers if c.deleted_at is None and c.redacted_at is None]
    member = next(c for c in live if c.country_code == "JP")
    outsider = next(c for c in live if c.country_code != "JP")
    assert segments.in_audience(db, shop_id, "cart", member.id)  # no settings row: everyone
    result = segments.save_segment(
        db,
        shop_id,
        "Japan",
        {"match": "all", "rules": [{"field": "country", "op": "is", "value": "JP"}]},
    )
    assert result.ok
    assert result.segment is not None
    db.add(
        FlowSetting(
            shop_id=shop_id, flow_key="cart", config={"audience_segment_id": result.segment.id}
        )
    )
    db.commit()
    assert segments.in_audience(db, shop_id, "cart", member.id)
    assert not segments.in_audience(db, shop_id, "cart", outsider.id)
    other_customer = db.scalars(
        select(Customer.id).where(Customer.shop_id == world.other.id)
    ).first()
    assert other_customer is not None
    assert not segments.in_audience(db, shop_id, "cart", other_customer)
    assert segments.flows_using(db, shop_id, result.segment.id) == ["cart"]
    assert segments.delete_segment(db, shop_id, result.segment.id)
    db.commit()
    assert not segments.in_audience(db, shop_id, "cart", member.id)  # deleted: nobody
    config = db.scalar(select(FlowSetting.config).where(FlowSetting.shop_id == shop_id))
    assert segments.missing_audience(db, shop_id, config)


# --- admin pages, the JSON count, the flow audience and the API ------------------------------


def _live_count(db: Session, shop: Shop, where: str) -> int:
    return _hand_count(db, shop, where)


def test_pages_render_in_both_languages(client: Any, runtime: Any, db: Session) -> None:
    world = build_world(db, count=40)
    _signed_in(client, runtime, db, world)
    segment = segments.save_segment(db, world.shop.id, "日本のお客様", JP_RULE).segment
    db.commit()
    assert segment is not None
    expected = _live_count(db, world.shop, "c.country_code = 'JP'")
    for language, words in (
        ("en", ("Saved segments", "Export CSV")),
        ("ja", ("保存済みセグメント", "CSV を書き出す")),
    ):
        headers = {"Accept-Language": language}
        listing = text_of(client.get("/app/segments/saved", headers=headers))
        for word in words:
            assert word in listing
        assert f'data-segment-id="{segment.id}"' in listing
        assert re.search(rf'data-field="count"><a [^>]*>{expected}</a>', listing)
        builder = client.get(f"/app/segments/saved/{segment.id}", headers=headers)
        assert builder.status_code == 200
        page = text_of(builder)
        for testid in ("segment-count", "add-condition", "save-segment", "field-r-0"):
            assert f'data-testid="{testid}"' in page
        assert 'name="r-0-field"' in page
        assert "segment_builder.js" in page
        assert ("customers match" if language == "en" else "該当する顧客") in page
        assert "https://" not in page.replace("https://cdn.shopify.com", "")  # no CDN assets
    # Another shop's segment is not reachable from this one.
    other = segments.save_segment(db, world.other.id, "Other", JP_RULE).segment
    db.commit()
    assert other is not None
    assert client.get(f"/app/segments/saved/{other.id}").status_code == 404
    assert client.get(f"/app/segments/saved/{other.id}/export.csv").status_code == 404
    assert "Other" not in text_of(client.get("/app/segments/saved"))
    # The RFM page links to the saved segments.
    assert "/app/segments/saved" in text_of(client.get("/app/segments"))


def test_builder_form_saves_without_javascript(client: Any, runtime: Any, db: Session) -> None:
    world = build_world(db, count=40)
    token = _signed_in(client, runtime, db, world)
    form = {
        "csrf_token": token,
        "name": "  Loyal   Japan ",
        "r-match": "all",
        "r-0-field": "country",
        "r-0-op": "is",
        "r-0-value": "jp",
        "r-1-match": "any",
        "r-1-0-field": "orders_count",
        "r-1-0-op": "gte",
        "r-1-0-value": "2",
        "r-1-1-field": "tag",
        "r-1-1-op": "has",
        "r-1-1-value": "vip",
    }
    # "Add condition" in the nested group re-renders the form with one more row, saving nothing.
    added = client.post("/app/segments/saved/new", data={**form, "action": "add_condition:r-1"})
    assert added.status_code == 200
    assert 'name="r-1-2-field"' in text_of(added)
    removed = client.post("/app/segments/saved/new", data={**form, "action": "remove:r-0"})
    assert 'name="r-0-match"' in text_of(removed)  # the group moved up to index 0
    assert db.scalar(select(SavedSegment.id)) is None
    saved = client.post("/app/segments/saved/new", data={**form, "action": "save"})
    assert saved.status_code == 302
    row = db.scalars(select(SavedSegment)).one()
    assert row.shop_id == world.shop.id
    assert row.name == "Loyal Japan"
    assert row.rule == {
        "match": "all",
        "rules": [
            {"field": "country", "op": "is", "value": "JP"},
            {
                "match": "any",
                "rules": [
                    {"field": "orders_count", "op": "gte", "value": 2},
                    {"field": "tag", "op": "has", "value": "vip"},
                ],
            },
        ],
    }
    # Invalid values: 400, nothing saved, the reason next to each field, in the page's language.
    bad = {**form, "name": "Loyal Japan", "r-0-value": "Japan", "r-1-0-value": "many"}
    for language, message in (("en", "two-letter country code"), ("ja", "2 文字の国コード")):
        response = client.post(
            "/app/segments/saved/new",
            data={**bad, "action": "save"},
            headers={"Accept-Language": language},
        )
        assert response.status_code == 400
        page = text_of(response)
        value_error = re.search(r'data-error-for="r-0-value">([^<]*)<', page)
        assert value_error
        assert message in value_error.group(1)
        assert re.search(r'data-error-for="r-1-0-value">[^<]+<', page)
        assert re.search(r'data-error-for="name">[^<]+<', page)  # the name is taken
    assert db.scalar(select(func.count()).select_from(SavedSegment)) == 1
    # Without the CSRF token nothing is saved.
    refused = client.post("/app/segments/saved/new", data={**form, "csrf_token": "x", "name": "B"})
    assert refused.status_code == 400
    assert db.scalar(select(func.count()).select_from(SavedSegment)) == 1


def test_live_count_endpoint_and_export(client: Any, runtime: Any, db: Session) -> None:
    world = build_world(db, count=40)
    token = _signed_in(client, runtime, db, world)
    headers = {"X-CSRF-Token": token, "Accept": "application/json", "Accept-Language": "ja"}
    response = client.post("/app/segments/count", json={"rule": JP_RULE}, headers=headers)
    assert response.status_code == 200
    expected = _live_count(db, world.shop, "c.country_code = 'JP'")
    assert response.get_json()["count"] == expected
    assert "人" in response.get_json()["text"]
    bad = {"match": "all", "rules": [{"field": "tag", "op": "is", "value": "x"}, {"field": "nope"}]}
    response = client.post("/app/segments/count", json={"rule": bad}, headers=headers)
    assert response.status_code == 400
    paths = {e["path"] for e in response.get_json()["errors"]}
    assert paths == {"r-0-op", "r-1-field"}
    no_token = client.post("/app/segments/count", json={"rule": JP_RULE})
    assert no_token.status_code == 400
    # CSV export of a saved segment: a UTF-8 BOM, the header, this shop's members only.
    segment = segments.save_segment(db, world.shop.id, "JP", JP_RULE).segment
    db.commit()
    assert segment is not None
    export = client.get(f"/app/segments/saved/{segment.id}/export.csv")
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    body = export.get_data(as_text=True)
    assert body.startswith("\ufeffid,email,")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(rows) == expected
    assert {row["country"] for row in rows} == {"JP"}


def test_saved_segment_as_flow_audience(client: Any, runtime: Any, db: Session) -> None:
    world = build_world(db, count=40)
    token = _signed_in(client, runtime, db, world)
    mine = segments.save_segment(db, world.shop.id, "Japan", JP_RULE).segment
    theirs = segments.save_segment(db, world.other.id, "Elsewhere", JP_RULE).segment
    db.commit()
    assert mine is not None
    assert theirs is not None
    page = text_of(client.get("/app/flows/cart"))
    assert 'data-testid="flow-audience"' in page
    assert "Japan" in page
    assert "Elsewhere" not in page
    form = {
        "csrf_token": token,
        "enabled": "1",
        "delay_1": "1",
        "delay_2": "24",
        "delay_3": "72",
        "discount_percent": "10",
        "discount_days": "7",
        "discount_min_total": "0",
        "holdout_percent": "0",
        "cap_short": "0",
        "cap_week": "0",
    }
    refused = client.post("/app/flows/cart", data={**form, "audience_segment_id": str(theirs.id)})
    assert refused.status_code == 400
    assert 'data-error="audience_segment_id"' in text_of(refused)
    assert db.scalar(select(FlowSetting.id)) is None
    saved = client.post("/app/flows/cart", data={**form, "audience_segment_id": str(mine.id)})
    assert saved.status_code == 302
    config = db.scalars(select(FlowSetting)).one().config
    assert config["audience_segment_id"] == mine.id
    assert config["step_delay_hours"] == [1.0, 24.0, 72.0]
    live = [c for c in world.customers if c.deleted_at is None and c.redacted_at is None]
    japanese = next(c for c in live if c.country_code == "JP")
    other = next(c for c in live if c.country_code != "JP")
    assert segments.in_audience(db, world.shop.id, "cart", japanese.id)
    assert not segments.in_audience(db, world.shop.id, "cart", other.id)
    assert f'<option value="{mine.id}" selected>' in text_of(client.get("/app/flows/cart"))
    # Deleting the segment: nobody enters the flow, and the flow page says so.
    assert segments.delete_segment(db, world.shop.id, mine.id)
    db.commit()
    assert not segments.in_audience(db, world.shop.id, "cart", japanese.id)
    assert 'data-field="audience-missing"' in text_of(client.get("/app/flows/cart"))
    # Back to everyone.
    assert (
        client.post("/app/flows/cart", data={**form, "audience_segment_id": ""}).status_code == 302
    )
    db.expire_all()
    assert segments.in_audience(db, world.shop.id, "cart", other.id)


def test_api_segments(client: Any, runtime: Any, db: Session) -> None:
    world = build_world(db, count=40)
    token = _signed_in(client, runtime, db, world)
    headers = {"X-CSRF-Token": token}
    assert client.post("/api/v1/segments", json={"name": "JP", "rule": JP_RULE}).status_code == 403
    created = client.post("/api/v1/segments", json={"name": "JP", "rule": JP_RULE}, headers=headers)
    assert created.status_code == 201
    body = created.get_json()
    expected = _live_count(db, world.shop, "c.country_code = 'JP'")
    assert body["customers"] == expected
    assert body["rule"] == JP_RULE
    invalid = client.post(
        "/api/v1/segments",
        json={
            "name": "JP",
            "rule": {"match": "some", "rules": [{"field": "country", "op": "is", "value": 7}]},
        },
        headers=headers,
    )
    assert invalid.status_code == 400
    assert invalid.get_json()["error"] == "invalid_rule"
    assert {e["path"] for e in invalid.get_json()["errors"]} == {"name", "r-match", "r-0-value"}
    count = client.post("/api/v1/segments/count", json={"rule": JP_RULE}, headers=headers)
    assert count.get_json() == {"count": expected}
    listed = client.get("/api/v1/segments").get_json()
    assert [s["name"] for s in listed["saved"]] == ["JP"]
    one = client.get(f"/api/v1/segments/{body['id']}").get_json()
    assert one["customers"] == expected
    ids: list[int] = []
    after = None
    while True:
        page = client.get(
            f"/api/v1/segments/{body['id']}/customers",
            query_string={"limit": 3, **({"after": after} if after else {})},
        ).get_json()
        ids.extend(c["id"] for c in page["customers"])
        after = page["next_after"]
        if after is None:
            break
    assert ids == sorted(ids)
    assert len(ids) == expected
    theirs = segments.save_segment(db, world.other.id, "Theirs", JP_RULE).segment
    db.commit()
    assert theirs is not None
    assert client.get(f"/api/v1/segments/{theirs.id}").status_code == 404
    assert client.get(f"/api/v1/segments/{theirs.id}/customers").status_code == 404
    assert client.delete(f"/api/v1/segments/{theirs.id}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/segments/{body['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/segments/{body['id']}").status_code == 404
