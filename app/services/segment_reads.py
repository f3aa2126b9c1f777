"""The RFM segment reads shared by the admin segments page and the JSON API: latest snapshots, the
R × FM grid, the groups, movement between groups, and one customer's current scores.

Layer: services (reads only; no Flask request state: the caller passes the session, the `Shop` and
the display language). Everything comes from `customer_scores` and `rfm_snapshots`, written nightly
by `services.scoring`, scoped to the shop: the totals each scoring stored in its snapshot (one row
to read, however many customers), else aggregated in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.rfm import GROUP_KEYS
from app.i18n import group_label
from app.models import Customer, CustomerScore, RfmSnapshot, Shop

MOVES_SHOWN = 15


@dataclass(frozen=True)
class GroupRow:
    key: str
    name: str
    customers: int
    revenue: Decimal
    predicted_clv: Decimal
    share: float  # of scored customers
    before: int | None  # customers in the group at the previous snapshot


@dataclass(frozen=True)
class Move:
    from_group: str
    to_group: str
    customers: int


def latest_snapshots(session: Session, shop: Shop, limit: int = 2) -> list[RfmSnapshot]:
    """The shop's most recent snapshots, newest first."""
    return list(
        session.scalars(
            select(RfmSnapshot)
            .where(RfmSnapshot.shop_id == shop.id)
            .order_by(RfmSnapshot.as_of.desc())
            .limit(limit)
        )
    )


def stored_totals(session: Session, shop: Shop) -> dict[str, Any] | None:
    """The totals the latest scoring stored (`services.scoring.score_totals`), None if none."""
    latest = latest_snapshots(session, shop, limit=1)
    totals = (latest[0].detail or {}).get("totals") if latest else None
    return totals if isinstance(totals, dict) else None


def grid_totals(session: Session, shop: Shop) -> dict[tuple[int, int], tuple[int, Decimal]]:
    """(R, FM) → (customers, revenue) over the shop's current scores."""
    totals = stored_totals(session, shop)
    if totals is not None:
        return {(r, fm): (n, Decimal(revenue)) for r, fm, n, revenue in totals["cells"]}
    rows = session.execute(
        select(
            CustomerScore.r,
            CustomerScore.fm,
            func.count(),
            func.coalesce(func.sum(CustomerScore.monetary), 0),
        )
        .where(CustomerScore.shop_id == shop.id)
        .group_by(CustomerScore.r, CustomerScore.fm)
    )
    return {(r, fm): (count, Decimal(revenue)) for r, fm, count, revenue in rows}


def group_rows(
    session: Session, shop: Shop, previous: RfmSnapshot | None, language: str
) -> list[GroupRow]:
    """Every group in `GROUP_KEYS` order with customers, revenue and predicted value, named in
    `language`."""
    totals = stored_totals(session, shop)
    if totals is not None:
        rows: Any = totals["groups"]
    else:
        rows = session.execute(
            select(
                CustomerScore.rfm_group,
                func.count(),
                func.coalesce(func.sum(CustomerScore.monetary), 0),
                func.coalesce(func.sum(CustomerScore.predicted_clv), 0),
            )
            .where(CustomerScore.shop_id == shop.id)
            .group_by(CustomerScore.rfm_group)
        )
    found = {group: (n, Decimal(rev), Decimal(clv)) for group, n, rev, clv in rows}
    total = sum(n for n, _, _ in found.values()) or 1
    before = (previous.group_counts or {}) if previous is not None else None
    return [
        GroupRow(
            key=key,
            name=group_label(key, language),
            customers=found.get(key, (0, Decimal(0), Decimal(0)))[0],
            revenue=found.get(key, (0, Decimal(0), Decimal(0)))[1],
            predicted_clv=found.get(key, (0, Decimal(0), Decimal(0)))[2],
            share=found.get(key, (0, Decimal(0), Decimal(0)))[0] / total,
            before=int(before.get(key, 0)) if before is not None else None,
        )
        for key in GROUP_KEYS
    ]


def group_moves(session: Session, shop: Shop, limit: int = MOVES_SHOWN) -> list[Move]:
    """Customers who changed group since the last scoring on an earlier day, largest first."""
    totals = stored_totals(session, shop)
    if totals is not None:
        return [Move(a, b, n) for a, b, n in totals["moves"][:limit]]
    rows = session.execute(
        select(CustomerScore.previous_group, CustomerScore.rfm_group, func.count())
        .where(
            CustomerScore.shop_id == shop.id,
            CustomerScore.previous_group.is_not(None),
            CustomerScore.previous_group != CustomerScore.rfm_group,
        )
        .group_by(CustomerScore.previous_group, CustomerScore.rfm_group)
        .order_by(func.count().desc(), CustomerScore.previous_group, CustomerScore.rfm_group)
        .limit(limit)
    )
    return [Move(a or "", b, n) for a, b, n in rows]  # previous_group is not null here


def customer_score(session: Session, shop: Shop, customer: Customer) -> CustomerScore | None:
    """The current scores of `customer` in `shop` (None before the first run, or another shop's)."""
    if customer.shop_id != shop.id:
        return None
    return session.scalar(
        select(CustomerScore).where(
            CustomerScore.shop_id == shop.id, CustomerScore.customer_id == customer.id
        )
    )
