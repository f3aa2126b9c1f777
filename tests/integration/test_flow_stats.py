"""Flow performance: numbers on a small hand-built fixture, confidence intervals, shop scoping.

Hand computation (runs start at S = T0 − 1 h, messages go out at T0; window 5 days):
- sent: c1 step 1, c1 step 2, c2 step 1 (c3's failed message is not sent) → 3; delivered:
  c1/1 (stamped) + c2/1 (event only) → 2; opened: c1/1 (event only) → 1; clicked: c1/1 → 1.
- attributed: c1's 1000 (T0 + 1 d) and c2's 700 (T0 + 4 d 22 h) → 2 orders, 1700; not c1's 500
  (10 days after), c2's 300 (before the send), c2's cancelled 900, nor the holdout's 200.
- lift: treated runs c1..c4, per-run revenue within S..S+5 d = [1000, 300 + 700, 0, 0] → n 4,
  2 conversions, 2000; holdout c5, c6 = [200, 0] → n 2, 1 conversion, 200. Conversion difference
  0.5 − 0.5 = 0 ± 1.96·sqrt(.25/4 + .25/2); revenue (500 − 100)·4 = 1600 ±
  1.96·sqrt((1e6/3)/4 + 20000/2)·4.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.db import make_engine
from app.domain.attribution import AttributionSettings
from app.flows.stats import (
    Z95,
    flow_performance,
    mean_difference_total,
    proportion_difference,
)
from app.migrate import upgrade
from app.models.flow import Message, MessageEvent
from tests.factories.admin import login, make_account, make_customer, make_shop, text_of
from tests.factories.flow_stats import NOW, T0, S, _events, message, order, run

pytestmark = pytest.mark.integration


def event(db: Session, msg: Message, name: str) -> None:
    n = next(_events)
    db.add(
        MessageEvent(
            shop_id=msg.shop_id,
            message_id=msg.id,
            event=name,
            occurred_at=T0 + timedelta(minutes=5),
            sg_event_id=f"sg-{n}",
            natural_key=f"nk-{n}",
        )
    )
    db.commit()


@pytest.fixture
def fixture(db: Session) -> dict[str, Any]:
    return build_fixture(db)


def build_fixture(db: Session) -> dict[str, Any]:
    account = make_account(db)
    shop = make_shop(db, account, "stats.myshopify.com", currency="JPY")
    c = [make_customer(db, shop) for _ in range(6)]
    r1, r2, r3 = (run(db, shop, c[i], "completed") for i in range(3))
    run(db, shop, c[3], "exited")
    run(db, shop, c[4], "holdout")
    run(db, shop, c[5], "holdout")
    run(db, shop, c[0], "completed", started=NOW - timedelta(days=120))  # outside the period

    m1 = message(
        db, r1, 1, delivered_at=T0 + timedelta(minutes=1), clicked_at=T0 + timedelta(hours=1)
    )
    event(db, m1, "open")
    event(db, m1, "open")  # twice: still one opened message
    message(db, r1, 2, sent_at=T0 + timedelta(days=1))
    m2 = message(db, r2, 1)
    event(db, m2, "delivered")
    message(db, r3, 1, status="failed")

    order(db, shop, c[0], "1000", T0 + timedelta(days=1))
    order(db, shop, c[0], "500", T0 + timedelta(days=10))
    order(db, shop, c[1], "300", T0 - timedelta(hours=1))
    order(db, shop, c[1], "700", T0 + timedelta(days=4, hours=22))
    order(db, shop, c[1], "900", T0 + timedelta(days=2), cancelled_at=T0 + timedelta(days=3))
    order(db, shop, c[4], "200", S + timedelta(days=2))

    # Another store: its run, send, events and orders never count.
    other = make_shop(db, account, "other.myshopify.com")
    stranger = make_customer(db, other)
    other_run = run(db, other, stranger, "completed")
    other_msg = message(db, other_run, 1, delivered_at=T0, opened_at=T0, clicked_at=T0)
    event(db, other_msg, "delivered")
    order(db, other, stranger, "99999", T0 + timedelta(hours=3))
    run(db, other, stranger, "holdout", started=S + timedelta(minutes=1))
    return {"account": account, "shop": shop}


def test_numbers_match_the_hand_computation(db: Session, fixture: dict[str, Any]) -> None:
    stats = flow_performance(
        db,
        fixture["shop"].id,
        "cart",
        now=NOW,
        min_runs=2,
        min_conversions=1,
        attribution=AttributionSettings("send", 5),
    )
    assert (stats.runs, stats.running) == (6, 0)
    assert (stats.sent, stats.delivered, stats.opened, stats.clicked) == (3, 2, 1, 1)
    assert (stats.orders, stats.revenue) == (2, Decimal("1700"))
    lift = stats.lift
    assert (lift.treated_runs, lift.treated_conversions, lift.treated_revenue) == (
        4,
        2,
        Decimal("2000"),
    )
    assert (lift.holdout_runs, lift.holdout_conversions, lift.holdout_revenue) == (
        2,
        1,
        Decimal("200"),
    )
    assert lift.enough_data
    half_width = 1.959963984540054 * math.sqrt(0.25 / 4 + 0.25 / 2)
    diff = lift.conversion_difference
    assert diff is not None
    assert diff.estimate == pytest.approx(0.0)
    assert (diff.low, diff.high) == pytest.approx((-half_width, half_width))
    revenue = lift.incremental_revenue
    assert revenue is not None
    se = math.sqrt((1_000_000 / 3) / 4 + 20_000 / 2)
    assert revenue.estimate == pytest.approx(1600)
    assert revenue.low == pytest.approx((400 - Z95 * se) * 4)
    assert revenue.high == pytest.approx((400 + Z95 * se) * 4)
    assert revenue.low == pytest.approx(-795.12, abs=0.01)


def test_below_the_minimum_sample_there_is_no_interval(
    db: Session, fixture: dict[str, Any]
) -> None:
    stats = flow_performance(db, fixture["shop"].id, "cart", now=NOW)
    assert not stats.lift.enough_data
    assert stats.lift.conversion_difference is None
    assert stats.lift.incremental_revenue is None


def test_confidence_intervals_by_hand() -> None:
    # 30/100 vs 20/100: 0.1 ± 1.96 · sqrt(.3·.7/100 + .2·.8/100) = 0.1 ± 0.11922
    ci = proportion_difference(30, 100, 20, 100)
    assert ci is not None
    assert ci.estimate == pytest.approx(0.1)
    assert ci.low == pytest.approx(-0.019220, abs=1e-6)
    assert ci.high == pytest.approx(0.219220, abs=1e-6)
    assert proportion_difference(1, 10, 0, 0) is None
    # means 12 vs 10, variances 100 and 64, n 50 and 40: (2 ± 1.96·sqrt(2 + 1.6)) · 50
    total = mean_difference_total(12, 100, 50, 10, 64, 40)
    assert total is not None
    assert total.estimate == pytest.approx(100)
    assert total.low == pytest.approx((2 - Z95 * math.sqrt(3.6)) * 50)
    assert total.low == pytest.approx(-85.94, abs=0.01)
    assert total.high == pytest.approx(285.94, abs=0.01)


def test_the_flows_page_shows_the_numbers(
    client: Any, db: Session, runtime: Any, fixture: dict[str, Any]
) -> None:
    login(client, runtime, fixture["account"])
    page = text_of(client.get("/app/flows", headers={"Accept-Language": "en"}))
    assert 'data-field="sent">3<' in page
    assert 'data-field="delivered">2<' in page
    assert 'data-field="orders">0<' in page  # nobody clicked: last click credits nothing

    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    form = {"csrf_token": token.group(1), "model": "send", "window_days": "5"}
    assert (
        client.post("/app/flows/attribution", data={**form, "window_days": "0"}).status_code == 302
    )
    assert 'data-field="orders">0<' in text_of(client.get("/app/flows?attribution=invalid"))
    assert client.post(
        "/app/flows/attribution", data={k: v for k, v in form.items() if k != "csrf_token"}
    ).status_code in (400, 403)
    saved = client.post("/app/flows/attribution", data=form)
    assert saved.status_code == 302
    assert "attribution=saved" in saved.headers["Location"]
    page = text_of(client.get("/app/flows", headers={"Accept-Language": "en"}))
    assert 'data-field="orders">2<' in page
    assert "Not enough data yet" in page  # the default minimum sample is far above 6 runs
    assert "within 5 days" in page
    ja = text_of(client.get("/app/flows", headers={"Accept-Language": "ja"}))
    assert "データが不足しています" in ja


def test_the_same_numbers_on_sqlite(tmp_path: Path) -> None:
    """The embedded demo's database computes what PostgreSQL does (no interval arithmetic or
    var_samp in SQL)."""
    url = f"sqlite:///{tmp_path / 'flows.sqlite3'}"
    upgrade(url)
    with Session(make_engine(url)) as session:
        shop = build_fixture(session)["shop"]
        stats = flow_performance(
            session,
            shop.id,
            "cart",
            now=NOW,
            min_runs=2,
            min_conversions=1,
            attribution=AttributionSettings("send", 5),
        )
    assert (stats.sent, stats.orders, stats.revenue) == (3, 2, Decimal("1700"))
    lift = stats.lift
    assert (lift.treated_runs, lift.treated_conversions, lift.holdout_conversions) == (4, 2, 1)
    assert lift.incremental_revenue is not None
    assert lift.incremental_revenue.low == pytest.approx(-795.12, abs=0.01)
