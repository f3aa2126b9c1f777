"""The segments, analytics and customer pages show the scores of the viewed shop only.

Real PostgreSQL and Redis (see conftest); each test builds two shops of one account with two
years of orders, scores them with `score_shop` and signs in through a real login link.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.formatting import format_money
from app.i18n import group_label
from app.models import Account, Customer, CustomerScore, Order, Shop
from app.services.scoring import score_shop
from tests.conftest import sign_in_with_link
from tests.factories import scoring

pytestmark = pytest.mark.integration

SVG = "{http://www.w3.org/2000/svg}"


def make_shop(db: Session, account: Account, domain: str, **values: Any) -> Shop:
    return scoring.make_shop(db, domain, account=account, **values)


def build_history(
    db: Session, shop: Shop, customers: int, seed: int, now: datetime
) -> list[Customer]:
    """Customers with 1–6 orders over the 650 days before `now` (so within the 24 months the
    revenue chart shows); every fourth has a cancelled one."""
    return scoring.build_history(
        db,
        shop,
        customers,
        seed,
        now,
        first_order_days=(20, 650),
        most_orders=6,
        prices=(1000, 20000),
        cancelled_every=4,
        cancelled_total=777_777,
    )


@pytest.fixture
def shops(db: Session, client: Any, runtime: Any) -> dict[str, Any]:
    """Signed in as an account with a scored Tokyo shop (30 customers) and a second shop; their
    orders are dated back from `now`, the moment the test starts (not the suite's start)."""
    account = Account(name="Merchant")
    db.add(account)
    db.commit()
    tea = make_shop(db, account, "tea.myshopify.com", name="Tea House")
    other = make_shop(db, account, "other.myshopify.com", name="Other", currency="USD")
    now = datetime.now(UTC)
    customers = build_history(db, tea, 30, seed=11, now=now)
    build_history(db, other, 12, seed=12, now=now)
    score_shop(db, tea.id)
    score_shop(db, other.id)
    response = sign_in_with_link(client, runtime, account.id)
    assert response.status_code == 302
    return {"tea": tea, "other": other, "customers": customers, "now": now}


def page(client: Any, path: str, **params: Any) -> str:
    response = client.get(path, query_string=params)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", html, re.S)]  # noqa: S314


def revenue(db: Session, shop: Shop) -> Decimal:
    return db.scalar(
        select(func.sum(Order.total_price)).where(
            Order.shop_id == shop.id, Order.cancelled_at.is_(None)
        )
    )


def test_segments_page_shows_the_grid_groups_and_confidence(
    db: Session, client: Any, shops: dict[str, Any]
) -> None:
    tea = shops["tea"]
    html = page(client, "/app/segments", shop_id=tea.id)
    (grid,) = svgs(html)
    # A cell with customers sits inside the link to them, an empty one directly in the grid.
    cells = grid.findall(f".//{SVG}g")
    assert len(cells) == 25
    links = grid.findall(f"{SVG}a")
    assert len(links) == sum(1 for c in cells if int(c.get("data-value", "0")) > 0)
    assert all(link.find(f"{SVG}g") is not None for link in links)
    # A known cell: rows are FM 5 → 1, columns R 1 → 5.
    rows = db.execute(
        select(CustomerScore.r, CustomerScore.fm, func.count())
        .where(CustomerScore.shop_id == tea.id)
        .group_by(CustomerScore.r, CustomerScore.fm)
    )
    counts = {(r, fm): n for r, fm, n in rows}
    for cell in cells:
        r = int(cell.get("data-column", "0")) + 1
        fm = 5 - int(cell.get("data-row", "0"))
        assert int(cell.get("data-value", "-1")) == counts.get((r, fm), 0)
    assert sum(int(c.get("data-value", "0")) for c in cells) == 30

    assert 'data-field="scored">30<' in html
    assert format_money(revenue(db, tea), "JPY") in html
    groups = dict(
        db.execute(
            select(CustomerScore.rfm_group, func.count())
            .where(CustomerScore.shop_id == tea.id)
            .group_by(CustomerScore.rfm_group)
        ).all()
    )
    for key, n in groups.items():
        row = re.search(rf'<tr data-group="{key}">.*?data-field="customers">([\d,]+)<', html, re.S)
        assert row is not None
        assert int(row.group(1).replace(",", "")) == n
    assert 'data-field="confidence-reason"' in html
    # Nothing of the other shop: its customers' cancelled or not, no USD anywhere.
    assert "$" not in html


def test_segments_page_in_japanese(app: Any, client: Any, shops: dict[str, Any]) -> None:
    html = page(client, "/app/segments", shop_id=shops["tea"].id, locale="ja")
    assert "RFMグリッド" in html
    with app.app_context():
        assert group_label("champions", "ja") in html
    assert "信頼度" in html
    assert svgs(html)  # still valid XML with Japanese text


def test_segments_page_before_scoring(db: Session, client: Any, runtime: Any) -> None:
    account = Account(name="New")
    db.add(account)
    db.commit()
    make_shop(db, account, "new.myshopify.com")
    sign_in_with_link(client, runtime, account.id)
    html = page(client, "/app/segments")
    assert "not been scored yet" in html
    assert len(svgs(html)[0].findall(f"{SVG}g")) == 25


def test_analytics_page_numbers(db: Session, client: Any, shops: dict[str, Any]) -> None:
    tea, other, now = shops["tea"], shops["other"], shops["now"]
    html = page(client, "/app/analytics", shop_id=tea.id)

    total = revenue(db, tea)
    assert f'data-field="total-revenue">{format_money(total, "JPY")}<' in html
    assert 'data-field="customers">30<' in html
    per_customer = db.execute(
        select(Order.customer_id, func.count(), func.max(Order.processed_at))
        .where(Order.shop_id == tea.id, Order.cancelled_at.is_(None))
        .group_by(Order.customer_id)
    ).all()
    repeat = sum(1 for _, n, _ in per_customer if n >= 2) / 30
    assert f'data-field="repeat-rate">{repeat * 100:.1f}%<' in html
    p_alive = dict(
        db.execute(
            select(CustomerScore.customer_id, CustomerScore.probability_alive).where(
                CustomerScore.shop_id == tea.id
            )
        ).all()
    )
    churned = sum(
        1 for cid, _, last in per_customer if last < now - timedelta(days=180) or p_alive[cid] < 0.3
    )
    assert f'data-field="churn-rate">{churned / 30 * 100:.1f}%<' in html
    assert f'data-field="historic-ltv">{format_money(total / 30, "JPY")}<' in html

    bars_svg, cohort_svg = svgs(html)
    bars = bars_svg.findall(f"{SVG}rect")
    assert len(bars) == 24
    # Every order is within the 24 months shown (the oldest is 650 days old).
    assert sum(Decimal(b.get("data-value", "0")) for b in bars) == total
    # The month axis is labelled by CLDR's English month format ("Nov 2026"), no longer by the
    # raw "2026-11" key.
    this_month = now.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%b %Y")
    assert any(t.text == this_month for t in bars_svg.iter(f"{SVG}text"))
    assert cohort_svg.findall(f"{SVG}g")
    # The other shop (USD, ¥777,777 cancelled orders) never shows up.
    assert "$" not in html
    assert "777,777" not in html
    assert format_money(revenue(db, other), "USD") not in html


def test_analytics_page_for_a_shop_without_orders(db: Session, client: Any, runtime: Any) -> None:
    account = Account(name="New")
    db.add(account)
    db.commit()
    make_shop(db, account, "new.myshopify.com")
    sign_in_with_link(client, runtime, account.id)
    html = page(client, "/app/analytics", locale="ja")
    assert "注文はまだありません" in html
    assert len(svgs(html)) == 2


def test_customer_page_shows_rfm_and_predictions(
    app: Any, db: Session, client: Any, shops: dict[str, Any]
) -> None:
    tea = shops["tea"]
    customer = shops["customers"][3]
    score = db.scalar(select(CustomerScore).where(CustomerScore.customer_id == customer.id))
    html = page(client, f"/app/customers/{customer.id}", shop_id=tea.id)
    assert 'id="rfm-card"' in html
    with app.app_context():
        english, japanese = group_label(score.rfm_group, "en"), group_label(score.rfm_group, "ja")
    assert f'data-field="rfm-group">{english}<' in html
    assert f"R{score.r} F{score.f} M{score.m}" in html
    assert f'data-field="p-alive">{score.probability_alive * 100:.0f}%<' in html
    assert f'data-field="expected-orders">{score.expected_orders_365:.1f}<' in html
    assert format_money(score.predicted_clv, "JPY") in html
    assert "confidence" in html
    ja = page(client, f"/app/customers/{customer.id}", shop_id=tea.id, locale="ja")
    assert japanese in ja
    assert "継続確率" in ja


def test_customer_of_another_shop_is_not_found(client: Any, shops: dict[str, Any]) -> None:
    response = client.get(
        f"/app/customers/{shops['customers'][0].id}", query_string={"shop_id": shops["other"].id}
    )
    assert response.status_code == 404
