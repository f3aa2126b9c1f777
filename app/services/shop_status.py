"""The shop's status for the home page, `/app/status.json` and the API's `/shop`: install, scopes,
sync, webhooks, and the last week's email by state.

Layer: services (reads only; no Flask request state: the caller passes session, Redis and shop).
One function builds one plain dict from the shop row, its `sync_state` JSON, the webhook inbox
counts and Redis' rejected-delivery counter, so the page and the JSON poll always agree (the counts
come from `app.services.webhook_stats`, which reads a Redis outage as zero rejected deliveries
rather than failing the page).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.formatting import parse_timestamp
from app.models import Shop
from app.models.flow import Message
from app.services.shop_errors import shop_error
from app.services.webhook_stats import rejected_count, webhook_counts

ALL_ORDERS_SCOPE = "read_all_orders"
SYNC_STATUSES = ("not_started", "running", "done", "failed")


def parse_scopes(scopes: str | None) -> list[str]:
    return sorted({s.strip() for s in (scopes or "").split(",") if s.strip()})


def missing_scopes(granted: list[str], wanted: list[str]) -> list[str]:
    """Wanted scopes the shop has not granted; Shopify's `write_x` implies `read_x`."""
    have = set(granted)
    have |= {"read_" + s.removeprefix("write_") for s in granted if s.startswith("write_")}
    return [s for s in wanted if s not in have]


def _counts(value: object) -> dict[str, int]:
    """`{"customers": 120, ...}` from JSON state, ignoring anything that is not a count."""
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int | float)}


def sync_report(state: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """Progress of the shop's sync from its `sync_state` JSON (whatever keys it holds)."""
    state = state or {}
    status = state.get("status") if state.get("status") in SYNC_STATUSES else "not_started"
    done = _counts(state.get("done"))
    totals = _counts(state.get("totals"))
    planned = [s for s in state.get("streams") or [] if isinstance(s, str)]
    stream = state.get("stream") if isinstance(state.get("stream"), str) else None

    streams: list[str] = []
    for name in [*planned, *done, *totals, *([stream] if stream else [])]:
        if name not in streams:
            streams.append(name)

    started_at = parse_timestamp(state.get("started_at"))
    # A running sync's `finished_at` (if any) belongs to the previous run.
    finished_at = None if status == "running" else parse_timestamp(state.get("finished_at"))
    elapsed = None
    if started_at is not None:
        end = finished_at or now
        elapsed = max(0.0, (end - started_at).total_seconds())

    # A percentage only when it means something: totals known, or a planned list of streams.
    percent: float | None = None
    if status == "done":
        percent = 100.0
    elif sum(totals.values()) > 0:
        percent = min(100.0, 100.0 * sum(done.values()) / sum(totals.values()))
    elif planned and stream in planned:
        percent = 100.0 * planned.index(stream) / len(planned)
    elif status == "not_started":
        percent = 0.0
    # Rate and ETA while running, from records written so far and the estimated totals.
    done_total = sum(done.values())
    rate = done_total / elapsed if status == "running" and elapsed and done_total else None
    remaining = sum(totals.values()) - done_total if totals else None
    eta = remaining / rate if rate and remaining is not None and remaining > 0 else None
    return {
        "status": status,
        "stream": stream,
        "streams": [
            {"name": name, "done": done.get(name, 0), "total": totals.get(name)} for name in streams
        ],
        "done_total": done_total,
        "percent": None if percent is None else round(percent, 1),
        "started_at": started_at,
        "finished_at": finished_at,
        "elapsed_seconds": None if elapsed is None else round(elapsed),
        "records_per_second": None if rate is None else round(rate, 1),
        "eta_seconds": None if eta is None else round(eta),
        "error": state.get("error"),
        "notice": state.get("notice"),
    }


def shop_status(
    session: Session,
    redis: Redis,
    shop: Shop,
    *,
    wanted_scopes: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything the status page shows about `shop`, as plain values (datetimes aware UTC)."""
    now = now or datetime.now(UTC)
    granted = parse_scopes(shop.scopes)
    is_shopify = shop.platform == "shopify"
    counts = dict(webhook_counts(session, shop.id))
    counts["rejected"] = rejected_count(redis, shop.id)
    return {
        "shop": {
            "id": shop.id,
            "platform": shop.platform,
            "domain": shop.domain,
            "name": shop.name,
            "status": shop.status,
            "install_method": shop.install_method,
            "installed_at": shop.installed_at,
            "uninstalled_at": shop.uninstalled_at,
            "currency": shop.currency,
            "timezone": shop.timezone,
            "locale": shop.locale,
            "scopes": granted,
            "missing_scopes": (
                missing_scopes(granted, parse_scopes(wanted_scopes)) if is_shopify else []
            ),
            "all_orders_access": (ALL_ORDERS_SCOPE in granted) if is_shopify else None,
            "webhooks_subscribed": shop.webhooks_subscribed,
            # Worded in the request's language; the code is the stable key (None: older text).
            "last_error": shop_error(shop),
            "last_error_code": shop.last_error_code if shop.last_error else None,
            "last_error_at": shop.last_error_at,
        },
        "sync": _with_worded_error(sync_report(shop.sync_state, now), shop),
        "webhooks": counts,
        "email": email_counts(session, shop.id, now),
    }


def _with_worded_error(sync: dict[str, Any], shop: Shop) -> dict[str, Any]:
    """A failed sync's error is the shop's last problem, kept in English: worded like it."""
    if sync.get("error") and sync["error"] == shop.last_error:
        sync["error"] = shop_error(shop)
    return sync


EMAIL_WINDOW = timedelta(days=7)
EMAIL_STATES = ("pending", "sending", "sent", "unknown", "failed", "suppressed", "skipped")


def email_counts(session: Session, shop_id: int, now: datetime) -> dict[str, int]:
    """The shop's flow messages of the last seven days by state (`unknown`: SendGrid may or may
    not have accepted it — never resent; `failed`: refused, see the shop's last error)."""
    rows = session.execute(
        select(Message.status, func.count())
        .where(Message.shop_id == shop_id, Message.created_at >= now - EMAIL_WINDOW)
        .group_by(Message.status)
    )
    found = {str(state): int(count) for state, count in rows}
    return {state: found.get(state, 0) for state in EMAIL_STATES}


def jsonable(value: Any) -> Any:
    """The status dict with datetimes as ISO 8601 strings, ready for `jsonify`."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
