"""A merchant's RFM score boundaries: saved per shop from the segments page, applied at once.

Real PostgreSQL and Redis (see conftest). The merchant signs in through a login link and posts the
form with the session's CSRF token; the expected scores are worked out here from the orders
table with a hand-written query, not through the scoring code.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import make_engine, utcnow
from app.domain import rfm
from app.migrate import upgrade
from app.models import Account, CustomerScore, RfmSnapshot, Shop
from app.queueing import SYNC
from app.services import customer_reads, rfm_thresholds
from app.services.scoring import activities, load_transactions, rescore_rfm, score_shop
from tests.factories.admin import login, text_of
from tests.factories.scoring import build_history, make_shop

pytestmark = pytest.mark.integration

EN = {"Accept-Language": "en"}
R_EDGES = (30, 90, 200, 400)  # days: R5 within 30, R4 within 90, …
F_EDGES = (2, 3, 5, 7)  # orders: F2 from 2, F3 from 3, …
M_EDGES = (Decimal(5000), Decimal(15000), Decimal(40000), Decimal(80000))
CUSTOM = {
    "action": "save",
    "r_mode": "custom",
    **{f"r_{k}": str(v) for k, v in enumerate(R_EDGES, 1)},
    "f_mode": "custom",
    **{f"f_{k}": str(v) for k, v in enumerate(F_EDGES, 1)},
    "m_mode": "custom",
    **{f"m_{k}": f"{v:,}" for k, v in enumerate(M_EDGES, 1)},  # "5,000": separators allowed
}


def signed_in(client: Any, runtime: Any, db: Session, shop: Shop) -> str:
    """Log in as the shop's account; → the segments page's CSRF token."""
    login(client, runtime, db.get_one(Account, shop.account_id))
    match = re.search(r'name="csrf_token" value="([^"]+)"', text_of(client.get("/app/segments")))
    assert match
    return match.group(1)


def saved_scores(db: Session, shop: Shop) -> dict[int, tuple[int, int, int, int, str]]:
    db.expire_all()
    rows = db.scalars(select(CustomerScore).where(CustomerScore.shop_id == shop.id))
    return {row.customer_id: (row.r, row.f, row.m, row.fm, row.rfm_group) for row in rows}


def expected_by_hand(
    db: Session, shop: Shop, now: datetime
) -> dict[int, tuple[int, int, int, int, str]]:
    """R, F, M, FM and group from the custom edges, straight from the orders table."""
    rows = db.execute(
        text(
            "SELECT o.customer_id, count(*), sum(o.total_price),"
            " max(coalesce(o.processed_at, o.platform_created_at, o.created_at))"
            " FROM orders o JOIN customers c ON c.id = o.customer_id"
            " WHERE o.shop_id = :shop AND c.shop_id = :shop AND o.cancelled_at IS NULL"
            " GROUP BY o.customer_id"
        ),
        {"shop": shop.id},
    )
    expected = {}
    for customer_id, orders, spent, last in rows:
        if isinstance(last, str):  # SQLite returns the stored text
            last = datetime.fromisoformat(last)
            last = last if last.tzinfo else last.replace(tzinfo=UTC)
        days = (now - last).days
        r = 1 + sum(days <= edge for edge in R_EDGES)
        f = 1 + sum(orders >= edge for edge in F_EDGES)
        m = 1 + sum(spent >= edge for edge in M_EDGES)
        fm = (f + m) // 2
        expected[customer_id] = (r, f, m, fm, rfm.DEFAULT_SEGMENT_MAP[(r, fm)])
    return expected


def latest_snapshot(db: Session, shop: Shop) -> RfmSnapshot:
    db.expire_all()
    return db.scalars(
        select(RfmSnapshot).where(RfmSnapshot.shop_id == shop.id).order_by(RfmSnapshot.id.desc())
    ).first()  # type: ignore[return-value]


@pytest.fixture
def shops(db: Session) -> tuple[Shop, Shop, datetime]:
    """A shop with 40 customers and two years of orders ending now, and another shop; both
    scored once on automatic boundaries."""
    now = utcnow()
    shop = make_shop(db, "tea.myshopify.com")
    other = make_shop(db, "other.myshopify.com")
    build_history(db, shop, 40, seed=11, as_of=now)
    build_history(db, other, 30, seed=12, as_of=now)
    score_shop(db, shop.id)
    score_shop(db, other.id)
    return shop, other, now


def test_custom_edges_rescore_the_shop_exactly_and_leave_the_other_alone(
    client: Any, db: Session, runtime: Any, shops: tuple[Shop, Shop, datetime]
) -> None:
    shop, other, now = shops
    other_before = saved_scores(db, other)
    other_computed = latest_snapshot(db, other).computed_at
    assert saved_scores(db, shop) != expected_by_hand(db, shop, now)  # quintiles differ

    token = signed_in(client, runtime, db, shop)
    response = client.post("/app/segments", data={**CUSTOM, "csrf_token": token}, headers=EN)
    assert response.status_code == 302
    assert "thresholds=1" in response.headers["Location"]  # small shop: rescored inline

    db.expire_all()
    assert db.get_one(Shop, shop.id).rfm_thresholds == {
        "recency_days": ["30", "90", "200", "400"],
        "frequency_orders": ["2", "3", "5", "7"],
        "monetary": ["5000", "15000", "40000", "80000"],
    }
    assert saved_scores(db, shop) == expected_by_hand(db, shop, now)
    detail = latest_snapshot(db, shop).detail["thresholds"]
    assert detail["sources"] == ["custom", "custom", "custom"]
    assert detail["monetary"] == ["5000", "15000", "40000", "80000"]

    page = text_of(client.get(response.headers["Location"], headers=EN))
    assert "Customers were scored again with these boundaries." in page
    assert re.search(r'name="m_2"[^>]*value="15000"', page)
    assert 'name="r_mode" value="custom" checked' in page

    # The other shop: same boundaries source, same scores, not rescored.
    db.expire_all()
    assert db.get_one(Shop, other.id).rfm_thresholds is None
    assert saved_scores(db, other) == other_before
    assert latest_snapshot(db, other).computed_at == other_computed


def test_invalid_boundaries_save_nothing_and_say_why(
    client: Any, db: Session, runtime: Any, shops: tuple[Shop, Shop, datetime]
) -> None:
    shop, _other, _now = shops
    before = saved_scores(db, shop)
    computed = latest_snapshot(db, shop).computed_at
    token = signed_in(client, runtime, db, shop)
    bad = {
        **CUSTOM,
        "csrf_token": token,
        "r_3": "60",  # not after 90
        "f_2": "2.5",
        "m_1": "-5",
        "m_4": "80000.123",
    }
    response = client.post("/app/segments", data=bad, headers=EN)
    assert response.status_code == 400
    page = text_of(response)
    assert set(re.findall(r'data-error="([^"]+)"', page)) == {"r_3", "f_2", "m_1", "m_4"}
    assert "Must be larger than the boundary before it." in page
    assert "Enter a whole number." in page
    assert "Enter a value from 0.01 to 1000000000000." in page
    assert "Use at most 2 decimal places." in page
    assert "nothing was saved" in page
    assert re.search(r'name="f_2"[^>]*value="2.5"', page)  # the posted values come back

    ja = client.post("/app/segments?locale=ja", data=bad)
    assert ja.status_code == 400
    ja_page = text_of(ja)
    assert "前の境界値より大きくしてください。" in ja_page
    assert "小数点以下は2桁までにしてください。" in ja_page
    assert "正しくない境界値があるため、保存されていません。" in ja_page

    refused = client.post("/app/segments", data={**CUSTOM}, headers=EN)  # no CSRF token
    assert refused.status_code == 400

    db.expire_all()
    assert db.get_one(Shop, shop.id).rfm_thresholds is None
    assert saved_scores(db, shop) == before
    assert latest_snapshot(db, shop).computed_at == computed


def test_automatic_restores_quintiles(
    client: Any, db: Session, runtime: Any, shops: tuple[Shop, Shop, datetime]
) -> None:
    shop, _other, _now = shops
    token = signed_in(client, runtime, db, shop)
    # Only monetary custom: recency and frequency stay on quintiles.
    partial = {**CUSTOM, "r_mode": "auto", "f_mode": "auto", "csrf_token": token}
    assert client.post("/app/segments", data=partial).status_code == 302
    detail = latest_snapshot(db, shop).detail["thresholds"]
    assert detail["sources"] == ["quintiles", "quintiles", "custom"]

    response = client.post("/app/segments", data={"action": "automatic", "csrf_token": token})
    assert response.status_code == 302
    db.expire_all()
    assert db.get_one(Shop, shop.id).rfm_thresholds is None
    snapshot = latest_snapshot(db, shop)
    assert snapshot.detail["thresholds"]["sources"] == ["quintiles", "quintiles", "quintiles"]
    as_of = snapshot.computed_at
    expected = rfm.score_customers(activities(load_transactions(db, shop.id, as_of)), as_of)
    assert saved_scores(db, shop) == {
        c.customer_id: (c.r, c.f, c.m, c.fm, c.group) for c in expected.customers
    }


def test_a_large_shop_is_rescored_by_a_job(
    client: Any,
    db: Session,
    runtime: Any,
    drain_jobs: Any,
    monkeypatch: pytest.MonkeyPatch,
    shops: tuple[Shop, Shop, datetime],
) -> None:
    shop, _other, now = shops
    monkeypatch.setattr(rfm_thresholds, "INLINE_MAX_CUSTOMERS", 0)
    before = saved_scores(db, shop)
    token = signed_in(client, runtime, db, shop)
    response = client.post("/app/segments", data={**CUSTOM, "csrf_token": token}, headers=EN)
    assert response.status_code == 302
    assert "thresholds=queued" in response.headers["Location"]
    assert saved_scores(db, shop) == before  # nothing rescored in the request
    page = text_of(client.get(response.headers["Location"], headers=EN))
    assert "Customers are being scored again" in page

    drain_jobs(SYNC)
    assert saved_scores(db, shop) == expected_by_hand(db, shop, now)


def test_japanese_page_shows_the_boundaries_and_the_group_map(
    client: Any, db: Session, runtime: Any, shops: tuple[Shop, Shop, datetime]
) -> None:
    shop, _other, _now = shops
    signed_in(client, runtime, db, shop)
    page = text_of(client.get("/app/segments?locale=ja"))
    assert "スコアの境界値" in page
    assert "使用中：五分位" in page
    assert "R5：何日以内に注文" in page
    assert "グループを構成するセル" in page
    cells = dict(
        re.findall(
            r'<tr data-group="(\w+)"><td><a [^>]*>[^<]+</a></td><td data-field="cells">([^<]+)<',
            page,
        )
    )
    assert cells["champions"] == "R5·FM5, R5·FM4"
    assert cells["new"] == "R5·FM1"
    assert set(cells) == set(rfm.GROUP_KEYS)


def test_rescoring_and_search_work_on_sqlite(tmp_path: Path) -> None:
    """The embedded demo's database: the same rescoring, and the customer search as a LIKE."""
    url = f"sqlite:///{tmp_path / 'rfm.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    now = utcnow()
    with Session(engine) as session:
        shop = make_shop(session, "sqlite.myshopify.com")
        customers = build_history(session, shop, 30, seed=21, as_of=now)
        score_shop(session, shop.id)
        shop.rfm_thresholds = rfm.thresholds_to_json(
            rfm.RfmThresholds(
                recency_days=tuple(Decimal(v) for v in R_EDGES),  # type: ignore[arg-type]
                frequency_orders=tuple(Decimal(v) for v in F_EDGES),  # type: ignore[arg-type]
                monetary=M_EDGES,
            )
        )
        session.commit()
        assert rescore_rfm(session, shop.id) == 30
        assert saved_scores(session, shop) == expected_by_hand(session, shop, now)
        snapshot = latest_snapshot(session, shop)
        assert sum(snapshot.group_counts.values()) == 30
        assert sum(n for _r, _fm, n, _rev in snapshot.detail["totals"]["cells"]) == 30

        customers[4].first_name, customers[4].last_name = "Taro", "Yamada"
        session.commit()
        for typed in ("yamada taro", "TARO YAMADA", "yamadataro"):
            page = customer_reads.customer_page(session, shop, q=typed)
            assert [c.id for c in page.customers] == [customers[4].id]
    engine.dispose()
