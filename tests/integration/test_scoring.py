"""Scoring a shop: customer_scores and rfm_snapshots rows match the domain code, per shop.

Real PostgreSQL and Redis (see conftest). Each test builds its own shops with two years of
orders; the nightly job is drained with a burst worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.domain import rfm
from app.i18n import confidence_reason
from app.models import CustomerScore, Order, RfmSnapshot, Shop
from app.queueing import SYNC
from app.services.scoring import (
    activities,
    enqueue_scoring,
    load_transactions,
    rescore_rfm,
    score_shop,
)
from jobs.scoring import score_active_shops
from tests.factories.scoring import AS_OF, build_history, make_shop

pytestmark = pytest.mark.integration


def scores(db: Session, shop: Shop) -> dict[int, CustomerScore]:
    rows = db.scalars(select(CustomerScore).where(CustomerScore.shop_id == shop.id))
    return {row.customer_id: row for row in rows}


def test_score_shop_matches_the_domain_and_stays_in_its_shop(db: Session, app: Flask) -> None:
    shop = make_shop(db, "tea.myshopify.com")
    other = make_shop(db, "other.myshopify.com", currency="USD")
    build_history(db, shop, 40, seed=1)
    build_history(db, other, 10, seed=2)

    result = score_shop(db, shop.id, AS_OF)
    assert result.customers == 40

    expected = rfm.score_customers(activities(load_transactions(db, shop.id, AS_OF)), AS_OF)
    saved = scores(db, shop)
    assert len(saved) == 40
    for c in expected.customers:
        row = saved[c.customer_id]
        assert (row.r, row.f, row.m, row.fm, row.rfm_group) == (c.r, c.f, c.m, c.fm, c.group)
        assert row.orders == c.orders
        assert row.monetary == c.monetary
        assert 0.0 <= row.probability_alive <= 1.0
        assert row.expected_orders_365 >= 0.0
        assert row.predicted_clv >= 0
        assert row.currency == "JPY"
        assert row.previous_group is None
        assert row.confidence == result.confidence
    # The cancelled ¥999,999 orders never count.
    assert max(row.monetary for row in saved.values()) < Decimal(999_999)
    total = db.scalar(
        select(func.sum(Order.total_price)).where(
            Order.shop_id == shop.id, Order.cancelled_at.is_(None)
        )
    )
    assert sum(row.monetary for row in saved.values()) == total

    snapshot = db.scalar(select(RfmSnapshot).where(RfmSnapshot.shop_id == shop.id))
    assert snapshot is not None
    assert snapshot.as_of == AS_OF.date()
    assert snapshot.customers == 40
    assert snapshot.group_counts == rfm.group_counts(expected)
    assert sum(snapshot.grid_counts.values()) == 40
    assert snapshot.confidence in ("high", "medium", "low")
    # The explanation is stored without a language and reads in each (`confidence_reason`).
    for language in ("en", "ja"):
        with app.app_context(), force_locale(language):
            assert confidence_reason(snapshot.reason)
    # Nothing was written for the other shop.
    assert scores(db, other) == {}
    assert db.scalar(select(func.count()).where(RfmSnapshot.shop_id == other.id)) == 0


def test_rescoring_is_idempotent_the_same_day_and_tracks_movement_across_days(
    db: Session,
) -> None:
    shop = make_shop(db, "tea.myshopify.com")
    build_history(db, shop, 25, seed=3)
    score_shop(db, shop.id, AS_OF)
    first = {cid: row.rfm_group for cid, row in scores(db, shop).items()}
    score_shop(db, shop.id, AS_OF + timedelta(hours=1))
    db.expire_all()
    again = scores(db, shop)
    assert {cid: row.rfm_group for cid, row in again.items()} == first
    assert all(row.previous_group is None for row in again.values())
    assert db.scalar(select(func.count()).where(RfmSnapshot.shop_id == shop.id)) == 1

    # The next day the least recent customer comes back with a burst of big orders.
    later = AS_OF + timedelta(days=1)
    sleeper = min(again.values(), key=lambda row: (row.r, row.fm, row.customer_id))
    sleeper_id, sleeper_group = sleeper.customer_id, sleeper.rfm_group
    for k in range(6):
        db.add(
            Order(
                shop_id=shop.id,
                external_id=f"back-{k}",
                customer_id=sleeper_id,
                currency="JPY",
                total_price=Decimal(50_000),
                processed_at=later - timedelta(hours=k + 1),
            )
        )
    db.commit()
    score_shop(db, shop.id, later)
    db.expire_all()
    moved = scores(db, shop)
    assert {cid: row.previous_group for cid, row in moved.items()} == first
    back = moved[sleeper_id]
    assert back.r == 5
    assert back.previous_group == sleeper_group
    assert back.rfm_group != sleeper_group
    snapshots = db.scalars(
        select(RfmSnapshot).where(RfmSnapshot.shop_id == shop.id).order_by(RfmSnapshot.as_of)
    ).all()
    assert [s.as_of for s in snapshots] == [AS_OF.date(), later.date()]


def test_customers_no_longer_scored_lose_their_row(db: Session) -> None:
    shop = make_shop(db, "tea.myshopify.com")
    customers = build_history(db, shop, 5, seed=4)
    score_shop(db, shop.id, AS_OF)
    gone = customers[1]
    for order in db.scalars(select(Order).where(Order.customer_id == gone.id)):
        order.cancelled_at = AS_OF
    db.commit()
    score_shop(db, shop.id, AS_OF)
    db.expire_all()
    assert gone.id not in scores(db, shop)
    assert len(scores(db, shop)) == 4


def test_shop_without_orders_gets_an_empty_snapshot(db: Session) -> None:
    shop = make_shop(db, "empty.myshopify.com")
    result = score_shop(db, shop.id, AS_OF)
    assert result.customers == 0
    assert result.confidence == "low"
    snapshot = db.scalar(select(RfmSnapshot).where(RfmSnapshot.shop_id == shop.id))
    assert snapshot is not None
    assert snapshot.customers == 0


def test_nightly_job_scores_every_active_shop(db: Session, runtime: Any, drain_jobs: Any) -> None:
    active = make_shop(db, "tea.myshopify.com")
    gone = make_shop(db, "gone.myshopify.com", status="uninstalled")
    build_history(db, active, 6, seed=5, as_of=datetime.now(UTC))
    build_history(db, gone, 6, seed=6, as_of=datetime.now(UTC))

    assert score_active_shops() == 1
    enqueue_scoring(runtime.redis, active.id)  # e.g. the first sync finished: same job id
    assert drain_jobs(SYNC) == 1
    assert len(scores(db, active)) == 6
    assert scores(db, gone) == {}


def test_enqueue_after_commit_waits_for_the_commit(
    db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop = make_shop(db, "tea.myshopify.com")
    build_history(db, shop, 3, seed=7, as_of=datetime.now(UTC))
    enqueue_scoring(runtime.redis, shop.id, after_commit_of=db)
    assert drain_jobs(SYNC) == 0
    db.commit()
    assert drain_jobs(SYNC) == 1
    assert len(scores(db, shop)) == 3


def row_versions(db: Session, shop: Shop) -> dict[int, str]:
    """Each score row's PostgreSQL row version (`xmin`): it changes only when the row is written."""
    db.commit()
    rows = db.execute(
        text("SELECT customer_id, xmin::text FROM customer_scores WHERE shop_id = :shop"),
        {"shop": shop.id},
    )
    return dict(rows.all())


def score_values(db: Session, shop: Shop) -> dict[int, tuple[Any, ...]]:
    """Every stored value of each score but the time it was computed."""
    db.expire_all()
    skip = {"id", "computed_at", "_sa_instance_state"}
    return {
        cid: tuple(v for k, v in sorted(vars(row).items()) if k not in skip)
        for cid, row in scores(db, shop).items()
    }


def test_rescoring_writes_only_the_scores_that_changed(db: Session) -> None:
    shop = make_shop(db, "tea.myshopify.com")
    build_history(db, shop, 30, seed=5)
    score_shop(db, shop.id, AS_OF)
    first = row_versions(db, shop)

    # Again at the same time: nothing changed, nothing written.
    score_shop(db, shop.id, AS_OF)
    assert row_versions(db, shop) == first

    # One customer orders again: the rows written are exactly the scores that changed.
    stored = score_values(db, shop)
    buyer = min(first)
    db.add(
        Order(
            shop_id=shop.id,
            external_id="again-1",
            customer_id=buyer,
            currency="JPY",
            total_price=Decimal(70_000),
            processed_at=AS_OF - timedelta(hours=1),
        )
    )
    db.commit()
    score_shop(db, shop.id, AS_OF)
    after_order = row_versions(db, shop)
    rescored = score_values(db, shop)
    rewritten = {cid for cid, version in after_order.items() if version != first[cid]}
    assert buyer in rewritten
    # (a refit may move everyone's predictions a little: each row written did change)
    assert rewritten == {cid for cid in stored if rescored[cid] != stored[cid]}

    # New boundaries: exactly the customers whose cell or group changes are written.
    before = {
        cid: (row.r, row.f, row.m, row.fm, row.rfm_group) for cid, row in scores(db, shop).items()
    }
    shop.rfm_thresholds = {
        "recency_days": None,
        "frequency_orders": ["2", "3", "4", "100"],
        "monetary": None,
    }
    db.commit()
    rescore_rfm(db, shop.id)
    db.expire_all()
    after = {
        cid: (row.r, row.f, row.m, row.fm, row.rfm_group) for cid, row in scores(db, shop).items()
    }
    changed_cells = {cid for cid in before if before[cid] != after[cid]}
    versions = row_versions(db, shop)
    assert changed_cells
    assert {cid for cid in versions if versions[cid] != after_order[cid]} == changed_cells
