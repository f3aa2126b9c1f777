"""Admin segments page (`/app/segments`): the RFM heat map, the groups, movement, model confidence,
the score boundaries (editable) and which R × FM cells make each group.

Layer: web. Everything shown comes from `customer_scores` and `rfm_snapshots`, written nightly by
`services.scoring`, scoped to `g.shop`, read through `services.segment_reads` (shared with the JSON
API). The one write — the shop's RFM boundaries — goes through `services.rfm_thresholds` and is
committed here (POST, CSRF-checked); the shop is then rescored inline when small, else by a job
enqueued after the commit. Movement is the per-customer change since the last scoring on an earlier
day (`previous_group` → `rfm_group`), plus the change of each group's size between the two most
recent snapshots. Also registers the `customer_score(customer)` template global used by the customer
page's RFM card.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import g, redirect, render_template, request
from flask_babel import gettext, ngettext, pgettext
from markupsafe import Markup

from app.admin import bp
from app.admin.helpers import admin_url, currency_symbol, money, number
from app.auth.csrf import csrf_protect
from app.auth.guard import admin_required
from app.charts import HeatCell, heat_map
from app.domain.rfm import (
    DEFAULT_SEGMENT_MAP,
    GROUP_KEYS,
    SCORES,
    THRESHOLD_DIMENSIONS,
)
from app.i18n import current_language, group_label
from app.kizuna import db_session, kizuna
from app.models import Customer, CustomerScore, RfmSnapshot, Shop
from app.services import rfm_thresholds, segment_reads
from app.services.scoring import enqueue_rescoring, rescore_rfm
from app.services.segment_reads import grid_totals, group_moves, group_rows, latest_snapshots

log = logging.getLogger(__name__)

CONFIDENCE_TONES = {"high": "success", "medium": "attention", "low": "warning"}


@dataclass(frozen=True)
class GroupCells:
    key: str
    name: str
    cells: tuple[tuple[int, int], ...]  # (R, FM), best first


@dataclass(frozen=True)
class ThresholdRow:
    dimension: str  # one of THRESHOLD_DIMENSIONS
    prefix: str  # the form's field prefix
    source: str | None  # custom | quintiles | standard, as last applied; None before scoring
    applied: tuple[str, ...]  # the four boundaries last applied


def group_cells() -> list[GroupCells]:
    """Which (R, FM) cells make each group under the default map, in `GROUP_KEYS` order."""
    language = current_language()
    return [
        GroupCells(
            key=key,
            name=group_label(key, language),
            cells=tuple(
                (r, fm)
                for r in reversed(SCORES)
                for fm in reversed(SCORES)
                if DEFAULT_SEGMENT_MAP[(r, fm)] == key
            ),
        )
        for key in GROUP_KEYS
    ]


def _boundary_text(dimension: str, value: Any, currency: str) -> str:
    """One applied boundary as the merchant reads it: ¥3,354 · 2 · 30 days."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return gettext("—")
    if dimension == "monetary":
        return money(amount, currency)
    if dimension == "recency_days":
        days = int(amount)
        return ngettext("%(num)s day", "%(num)s days", days)
    return number(int(amount))


def threshold_rows(latest: RfmSnapshot | None, currency: str) -> list[ThresholdRow]:
    """The boundaries and their source per dimension, as the latest scoring applied them."""
    applied: dict[str, Any] = ((latest.detail or {}).get("thresholds") or {}) if latest else {}
    sources = applied.get("sources") or [None, None, None]
    return [
        ThresholdRow(
            dimension=name,
            prefix=rfm_thresholds.PREFIXES[name],
            source=sources[i] if i < len(sources) else None,
            applied=tuple(_boundary_text(name, v, currency) for v in applied.get(name) or ()),
        )
        for i, name in enumerate(THRESHOLD_DIMENSIONS)
    ]


def _save_and_rescore(shop: Shop) -> str:
    """Commit the saved boundaries and rescore: inline when small (→ "1"), else a job enqueued
    by that same commit (→ "queued")."""
    session = db_session()
    inline = rfm_thresholds.small_enough_to_rescore_inline(session, shop)
    if not inline:
        stored = json.dumps(shop.rfm_thresholds, sort_keys=True)
        version = hashlib.sha256(stored.encode()).hexdigest()[:16]
        enqueue_rescoring(kizuna().redis, shop.id, version, after_commit_of=session)
    session.commit()
    log.info("rfm thresholds saved shop_id=%s inline=%s", shop.id, inline)
    if inline:
        rescore_rfm(session, shop.id)
        return "1"
    return "queued"


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
                        pgettext(
                            "segments.cell_customers",
                            "%(count)s customers",
                            count=number(customers),
                        ),
                        shown_revenue,
                    ),
                    title=gettext(
                        "R%(r)s · FM%(fm)s · %(group)s: %(count)s customers, %(revenue)s",
                        r=r,
                        fm=fm,
                        group=name,
                        count=number(customers),
                        revenue=shown_revenue,
                    ),
                    href=admin_url("admin.customers", r=r, fm=fm) if customers else "",
                )
            )
        rows.append(row)
    return heat_map(
        rows,
        row_labels=[f"FM {fm}" for fm in reversed(SCORES)],
        column_labels=[f"R {r}" for r in SCORES],
        title=gettext("RFM grid"),
        x_title=gettext("Recency (R5 = ordered most recently)"),
        y_title=gettext("Frequency + monetary"),
    )


@bp.route("/segments", methods=["GET", "POST"])
@admin_required
@csrf_protect
def segments():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    session = db_session()
    errors: Any = {}
    status = 200
    posted: dict[str, str] | None = None
    if request.method == "POST":
        if request.form.get("action") == "automatic":
            rfm_thresholds.reset(session, g.shop)
            ok = True
        else:
            result = rfm_thresholds.save(session, g.shop, request.form)
            ok, errors = result.ok, result.errors
        if ok:
            rescored = _save_and_rescore(g.shop)
            return redirect(admin_url("admin.segments", thresholds=rescored) + "#thresholds")
        session.rollback()
        status = 400
        posted = {name: request.form.get(name, "") for name in rfm_thresholds.field_names()}
    snapshots = latest_snapshots(session, g.shop)
    latest = snapshots[0] if snapshots else None
    previous = snapshots[1] if len(snapshots) > 1 else None
    cells = grid_totals(session, g.shop)
    groups = group_rows(session, g.shop, previous, current_language())
    applied = ((latest.detail or {}).get("thresholds") or None) if latest else None
    return render_template(
        "admin/segments.html",
        threshold_rows=threshold_rows(latest, g.shop.currency),
        threshold_values=posted or rfm_thresholds.form_values(g.shop, applied),
        currency_sign=currency_symbol(g.shop.currency),
        threshold_errors=errors,
        thresholds_saved=request.args.get("thresholds") if not errors else None,
        group_cells=group_cells(),
        latest=latest,
        previous=previous,
        grid_svg=rfm_heat_map(cells, g.shop.currency),
        groups=groups,
        scored=sum(row.customers for row in groups),
        revenue=sum((row.revenue for row in groups), Decimal(0)),
        moves=group_moves(session, g.shop),
        group_name=lambda key: group_label(key, current_language()),
    ), status


def customer_score(customer: Customer) -> CustomerScore | None:
    """The current scores of `customer` in the shop being viewed (None before the first run)."""
    shop = g.get("shop")
    return None if shop is None else segment_reads.customer_score(db_session(), shop, customer)


def _customer_group_name(key: str | None) -> str:
    return group_label(key, current_language()) if key else gettext("—")


bp.add_app_template_global(customer_score, "customer_score")
bp.add_app_template_global(_customer_group_name, "rfm_group_name")
bp.add_app_template_global(lambda c: CONFIDENCE_TONES.get(c, "neutral"), "confidence_tone")
