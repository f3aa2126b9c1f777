"""Admin routes: store status (`/app`, `/app/status.json`) and customers (`/app/customers[/<id>]`).

Layer: web. Each view reads through `app.services.customer_reads` / `app.services.shop_status` with
`g.shop`, so another store's customer id is a 404; an account without a store sees the connect page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort, g, jsonify, render_template, request
from flask_babel import gettext
from sqlalchemy import ColumnElement, false
from sqlalchemy.orm import Session

from app.admin import bp
from app.admin.helpers import date_time, duration, label, rate_text
from app.auth.guard import admin_required
from app.domain.rfm import GROUP_KEYS, SCORES
from app.domain.segment_rules import RuleError
from app.i18n import current_language, group_label
from app.kizuna import db_session, kizuna
from app.request_guards import db_integer
from app.services import customer_reads, segments
from app.services.customer_reads import MAX_QUERY_LENGTH
from app.services.shop_status import jsonable, shop_status


def _status() -> dict[str, Any]:
    runtime = kizuna()
    return shop_status(
        db_session(), runtime.redis, g.shop, wanted_scopes=runtime.config.shopify_scopes
    )


@bp.get("")
@admin_required
def home():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    return render_template("admin/home.html", status=_status())


@bp.get("/status.json")
@admin_required
def status_json():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return jsonify(shop=None, sync=None, webhooks=None)
    status = _status()
    sync = status["sync"]
    payload = jsonable(status)
    # Ready-made labels so the polling script needs no catalogue of its own.
    payload["display"] = {
        "sync_status": label("sync.status", sync["status"]),
        "stream": label("stream", sync["stream"]) if sync["stream"] else "",
        "elapsed": duration(sync["elapsed_seconds"]),
        "rate": rate_text(sync["records_per_second"]),
        "eta": duration(sync["eta_seconds"]),
        "started_at": date_time(sync["started_at"]),
        "finished_at": date_time(sync["finished_at"]),
        "last_received_at": date_time(status["webhooks"].get("last_received_at")),
        "streams": {s["name"]: label("stream", s["name"]) for s in sync["streams"]},
    }
    return jsonify(payload)


@bp.get("/customers")
@admin_required
def customers():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    session = db_session()
    q = " ".join(request.args.get("q", "").split())[:MAX_QUERY_LENGTH]
    after = request.args.get("after", type=db_integer)
    limit = request.args.get("limit", type=db_integer) or customer_reads.PAGE_SIZE
    chosen = _list_filter(session)
    page = customer_reads.customer_page(
        session, g.shop, q=q, after=after, limit=limit, where=chosen.where
    )
    return render_template(
        "admin/customers.html",
        page=page,
        q=q,
        after=after,
        limit=None if limit == customer_reads.PAGE_SIZE else limit,
        count_cap=customer_reads.COUNT_CAP,
        list_filter=chosen,
    )


@dataclass(frozen=True)
class ListFilter:
    """What narrows the customer list besides the search: an RFM group, a grid cell or a saved
    segment; `params` keep it on the list's own links, `text` names it on the page."""

    where: ColumnElement[bool] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    segment_id: int | None = None


def _score(name: str) -> int | None:
    """An R or FM score from the query: 1 to 5; anything else is a 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and int(raw) in SCORES):
        abort(400)
    return int(raw)


def _list_filter(session: Session) -> ListFilter:
    group = request.args.get("rfm_group") or None
    if group is not None and group not in GROUP_KEYS:
        abort(400)
    r, fm = _score("r"), _score("fm")
    segment_id = request.args.get("segment_id", type=db_integer)
    if segment_id is not None:
        segment = segments.get_segment(session, g.shop.id, segment_id)
        if segment is None:
            abort(404)
        try:
            where = segments.customer_filter(g.shop.id, segment.rule, timezone=g.shop.timezone)
        except (RuleError, ArithmeticError, ValueError, TypeError):
            where = false()  # a segment that can't be evaluated has no members to list
        text = gettext("Segment “%(name)s”", name=segment.name)
        return ListFilter(where, {"segment_id": segment_id}, text, segment_id)
    if group is None and r is None and fm is None:
        return ListFilter()
    parts = []
    if group is not None:
        parts.append(gettext("RFM group %(group)s", group=group_label(group, current_language())))
    if r is not None or fm is not None:
        parts.append(
            " · ".join(
                part
                for part in (f"R{r}" if r is not None else "", f"FM{fm}" if fm is not None else "")
                if part
            )
        )
    return ListFilter(
        customer_reads.rfm_filter(g.shop, group=group, r=r, fm=fm),
        {"rfm_group": group, "r": r, "fm": fm},
        " · ".join(parts),
    )


@bp.get("/customers/<int:customer_id>")
@admin_required
def customer(customer_id: int):  # type: ignore[no-untyped-def]
    if g.shop is None:
        abort(404)
    session = db_session()
    found = customer_reads.get_customer(session, g.shop, customer_id)
    if found is None:
        abort(404)
    events = customer_reads.timeline(session, g.shop, found)
    return render_template(
        "admin/customer.html",
        customer=found,
        orders=customer_reads.customer_orders(session, g.shop, found),
        checkouts=customer_reads.open_checkouts(session, g.shop, found),
        timeline=events,
        timeline_limited=len(events) >= customer_reads.TIMELINE_LIMIT,
        timeline_limit=customer_reads.TIMELINE_LIMIT,
    )
