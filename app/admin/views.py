"""Admin routes: store status (`/app`, `/app/status.json`) and customers (`/app/customers[/<id>]`).

Layer: web. Each view reads through `app.services.customer_reads` / `app.services.shop_status` with
`g.shop`, so another store's customer id is a 404; an account without a store sees the connect page.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, jsonify, render_template, request

from app.admin import bp
from app.admin.helpers import date_time, duration, label, rate_text
from app.auth.guard import admin_required
from app.kizuna import db_session, kizuna
from app.request_guards import db_integer
from app.services import customer_reads
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
    q = " ".join(request.args.get("q", "").split())[:MAX_QUERY_LENGTH]
    after = request.args.get("after", type=db_integer)
    limit = request.args.get("limit", type=db_integer) or customer_reads.PAGE_SIZE
    page = customer_reads.customer_page(db_session(), g.shop, q=q, after=after, limit=limit)
    return render_template(
        "admin/customers.html",
        page=page,
        q=q,
        after=after,
        limit=None if limit == customer_reads.PAGE_SIZE else limit,
        count_cap=customer_reads.COUNT_CAP,
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
