"""The flow backtest page (`/app/flows/backtest`): pick a flow and a period, see who would have
entered, the emails, the frequency cap and quiet hours at work, and the exits.

Layer: web. The same replay as `kizuna flows simulate` (`app.flows.simulation`, SELECTs only,
scoped to `g.shop`); the view rolls its transaction back and nothing is written, queued or sent.
"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, g, render_template, request
from sqlalchemy import select

from app.admin import bp
from app.auth.guard import admin_required
from app.db import utcnow
from app.flows import settings as flow_settings
from app.flows import simulation
from app.i18n import text_for
from app.kizuna import db_session
from app.models import Customer
from app.request_guards import db_integer

BACKTEST_PERIODS = (1, 7, 30, 90, 365)  # days a merchant can replay
BACKTEST_DEFAULT_DAYS = 30
BACKTEST_ROWS = 200  # entries listed; the totals count them all


def _outcome_text(outcome: str) -> str:
    """`exited:ordered` → "Exited: ordered", in the page's language."""
    kind, _, reason = outcome.partition(":")
    kind_text = text_for(f"backtest.outcome.{kind}", default=kind.replace("_", " "))
    if not reason:
        return kind_text
    return f"{kind_text}: {_reason_text(reason)}"


def _reason_text(reason: str) -> str:
    return text_for(f"run.exit.{reason.split(':')[-1]}", default=reason.replace("_", " "))


def _trigger_text(label: str) -> str:
    """The simulator's trigger label (`checkout 123`, `order #1001`) in the page's language."""
    for prefix, key in (
        ("checkout ", "backtest.trigger.checkout"),
        ("lapse after order ", "backtest.trigger.lapse"),
        ("views ", "backtest.trigger.views"),
        ("restock of product ", "backtest.trigger.restock"),
        ("product ", "backtest.trigger.product"),
    ):
        if label.startswith(prefix):
            rest = label[len(prefix) :]
            if key == "backtest.trigger.product":
                product, _, order = rest.partition(" of order ")
                return text_for(key, product=product, order=order)
            return text_for(key, id=rest)
    if label.startswith("order ") and label.endswith(" fulfilled"):
        return text_for("backtest.trigger.fulfilled", order=label[6:-10])
    if label.startswith("order "):
        return text_for("backtest.trigger.order", order=label[6:])
    return label


@bp.get("/flows/backtest")
@admin_required
def flow_backtest():  # type: ignore[no-untyped-def]
    """Replay a past period of this store through one flow (nothing is written or sent)."""
    if g.shop is None:
        return render_template("admin/connect_store.html")
    keys = [key for key in flow_settings.FLOW_KEYS if key in simulation.SIMULATORS]
    flow_key = request.args.get("flow") or None
    days = request.args.get("days", type=db_integer)
    if days is None and request.args.get("days"):
        abort(400)
    days = days or BACKTEST_DEFAULT_DAYS
    if (flow_key is not None and flow_key not in keys) or days not in BACKTEST_PERIODS:
        abort(400)
    result = None
    customers: dict[int, Customer] = {}
    if flow_key is not None:
        session = db_session()
        now = utcnow()
        result = simulation.simulate(session, g.shop, flow_key, now - timedelta(days=days), now)
        ids = [e.customer_id for e in result.entries[:BACKTEST_ROWS] if e.customer_id is not None]
        if ids:
            customers = {
                c.id: c
                for c in session.scalars(
                    select(Customer).where(Customer.shop_id == g.shop.id, Customer.id.in_(ids))
                )
            }
        session.rollback()  # a backtest only reads
    return render_template(
        "admin/flow_backtest.html",
        keys=keys,
        flow_key=flow_key,
        days=days,
        periods=BACKTEST_PERIODS,
        result=result,
        entries=result.entries[:BACKTEST_ROWS] if result is not None else [],
        shown_limit=BACKTEST_ROWS,
        customers=customers,
        outcome_text=_outcome_text,
        reason_text=_reason_text,
        trigger_text=_trigger_text,
    )
