"""Admin segments page (`/app/segments`): the RFM heat map, the groups, movement, model confidence.

Layer: web (reads only). Everything comes from `customer_scores` and `rfm_snapshots`, written
nightly by `services.scoring`, aggregated in SQL and scoped to `g.shop`. Movement is the
per-customer change since the last scoring on an earlier day (`previous_group` → `rfm_group`),
plus the change of each group's size between the two most recent snapshots. Also registers the
`customer_score(customer)` template global used by the customer page's RFM card.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import g, render_template
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import db_session
from app.admin import bp
from app.admin.helpers import money, number
from app.auth.guard import admin_required
from app.charts import HeatCell, heat_map
from app.domain.rfm import DEFAULT_SEGMENT_MAP, GROUP_KEYS, SCORES, group_label
from app.i18n import current_language, t
from app.models import Customer, CustomerScore, RfmSnapshot, Shop

MOVES_SHOWN = 15
CONFIDENCE_TONES = {"high": "success", "medium": "attention", "low": "warning"}


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


def grid_totals(session: Session, shop: Shop) -> dict[tuple[int, int], tuple[int, Decimal]]:
    """(R, FM) → (customers, revenue) over the shop's current scores."""
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


def group_rows(session: Session, shop: Shop, previous: RfmSnapshot | None) -> list[GroupRow]:
    """Every group in `GROUP_KEYS` order with customers, revenue and predicted value."""
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
    language = current_language()
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


def rfm_heat_map(cells: dict[tuple[int, int], tuple[int, Decimal]], currency: str) -> Markup:
    """The 5×5 grid: FM rows 5 (top) → 1, recency columns 1 → 5, coloured by customers."""
    language = current_language()
    rows = []
    for fm in reversed(SCORES):
        row = []
        for r in SCORES:
            customers, revenue = cells.get((r, fm), (0, Decimal(0)))
            name = group_label(DEFAULT_SEGMENT_MAP[(r, fm)], language)
            shown_revenue = money(revenue, currency)
            row.append(
                HeatCell(
                    value=customers,
                    lines=(
                        name,
                        t("segments.cell_customers", count=number(customers)),
                        shown_revenue,
                    ),
                    title=t(
                        "segments.cell_title",
                        r=r,
                        fm=fm,
                        group=name,
                        count=number(customers),
                        revenue=shown_revenue,
                    ),
                )
            )
        rows.append(row)
    return heat_map(
        rows,
        row_labels=[f"FM {fm}" for fm in reversed(SCORES)],
        column_labels=[f"R {r}" for r in SCORES],
        title=t("segments.grid_title"),
        x_title=t("segments.grid_x"),
        y_title=t("segments.grid_y"),
    )


@bp.get("/segments")
@admin_required
def segments():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    session = db_session()
    snapshots = latest_snapshots(session, g.shop)
    latest = snapshots[0] if snapshots else None
    previous = snapshots[1] if len(snapshots) > 1 else None
    cells = grid_totals(session, g.shop)
    groups = group_rows(session, g.shop, previous)
    return render_template(
        "admin/segments.html",
        latest=latest,
        previous=previous,
        grid_svg=rfm_heat_map(cells, g.shop.currency),
        groups=groups,
        scored=sum(row.customers for row in groups),
        revenue=sum((row.revenue for row in groups), Decimal(0)),
        moves=group_moves(session, g.shop),
        group_name=lambda key: group_label(key, current_language()),
    )


def customer_score(customer: Customer) -> CustomerScore | None:
    """The current scores of `customer` in the shop being viewed (None before the first run)."""
    shop = g.get("shop")
    if shop is None or customer.shop_id != shop.id:
        return None
    return db_session().scalar(
        select(CustomerScore).where(
            CustomerScore.shop_id == shop.id, CustomerScore.customer_id == customer.id
        )
    )


def _customer_group_name(key: str | None) -> str:
    return group_label(key, current_language()) if key else t("common.none")


bp.add_app_template_global(customer_score, "customer_score")
bp.add_app_template_global(_customer_group_name, "rfm_group_name")
bp.add_app_template_global(lambda c: CONFIDENCE_TONES.get(c, "neutral"), "confidence_tone")
