"""Template globals of the admin: `t`, links that keep the embedded context, formatters.

Layer: web presentation. Embedded links never carry `id_token` (it lives a minute); dates are
shown in the viewed shop's timezone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Response, g, request, session, url_for
from flask_babel import gettext
from redis import RedisError

from app import formatting
from app.admin import bp
from app.heartbeats import automations_liveness
from app.i18n import confidence_reason, current_language, message_problem, text_for
from app.kizuna import kizuna
from app.services.shop_errors import shop_error, stored_problem

EMBEDDED_PARAMS = ("embedded", "shop", "host", "locale")


def carried_params() -> dict[str, str]:
    """Query parameters every admin link keeps, for this request's way in."""
    if g.get("embedded"):
        params = {k: v for k in EMBEDDED_PARAMS if (v := request.args.get(k))}
        params["embedded"] = "1"
        shop = g.get("shop")
        if shop is not None:
            params.setdefault("shop", shop.domain)
        return params
    shop = g.get("shop")
    if shop is not None and len(g.get("shops") or ()) > 1:
        return {"shop_id": str(shop.id)}
    return {}


def admin_url(endpoint: str, **values: Any) -> str:
    """`url_for` for an admin page, keeping the embedded/shop context; None values are dropped."""
    params: dict[str, Any] = dict(carried_params())
    params.update({k: v for k, v in values.items() if v is not None and v != ""})
    return url_for(endpoint, **params)


def customer_name(customer: Any) -> str:
    """A customer's name in the page's language (family name first in Japanese)."""
    return str(customer.name_in(current_language()))


def _timezone() -> str:
    shop = g.get("shop")
    return shop.timezone if shop is not None else "UTC"


def money(amount: Decimal | str | None, currency: str | None = None) -> str:
    shop = g.get("shop")
    code = currency or (shop.currency if shop is not None else "USD")
    return formatting.format_money(amount, code, current_language())


def currency_symbol(currency: str | None = None) -> str:
    """The sign of `currency` (default: the viewed shop's): ¥, $."""
    shop = g.get("shop")
    code = currency or (shop.currency if shop is not None else "USD")
    return formatting.currency_symbol(code, current_language())


def date(value: datetime | None) -> str:
    return formatting.format_date(value, _timezone(), current_language())


def date_time(value: datetime | None) -> str:
    return formatting.format_datetime(value, _timezone(), current_language())


def number(value: int | None) -> str:
    return formatting.format_number(value, current_language())


def duration(seconds: float | None) -> str:
    return formatting.format_duration(seconds, current_language())


def rate_text(records_per_second: float | None) -> str:
    """ "120 records/s" (or "—" when there is no rate yet)."""
    if records_per_second is None:
        return "—"
    return gettext("%(rate)s records/s", rate=number(round(records_per_second)))


# Badge tones (Polaris names) for the states the pages show.
TONES = {
    "consent": {
        "subscribed": "success",
        "pending": "attention",
        "unsubscribed": "critical",
        "redacted": "critical",
        "invalid": "critical",
    },
    "shop_status": {"active": "success", "installing": "info", "error": "critical"},
    "sync": {"running": "info", "done": "success", "failed": "critical"},
    "financial": {"paid": "success", "pending": "attention", "refunded": "critical"},
}


def tone(kind: str, state: str | None) -> str:
    return TONES.get(kind, {}).get((state or "").lower(), "neutral")


def label(prefix: str, state: str | None) -> str:
    """`label("consent", "SUBSCRIBED")` → the translated state, or the raw value if unknown."""
    if not state:
        return gettext("—")
    key = state.lower()
    return text_for(f"{prefix}.{key}", default=state.replace("_", " ").lower())


def consent_state(value: str | None) -> str:
    return (value or "unknown").lower()


def timeline_summary(detail: dict[str, Any] | None) -> str:
    """One line from a timeline event's detail: its name, its amount, then other plain values."""
    detail = detail or {}
    parts: list[str] = []
    if isinstance(detail.get("name"), str):
        parts.append(detail["name"])
    if detail.get("total_price") is not None and isinstance(detail.get("currency"), str):
        parts.append(money(str(detail["total_price"]), detail["currency"]))
    skip = {"name", "total_price", "currency"}
    for key, value in detail.items():
        if key in skip or key.endswith("_id") or isinstance(value, dict | list) or value is None:
            continue
        parts.append(f"{key}: {value}")
    return " · ".join(parts)


TEMPLATE_GLOBALS: dict[str, Callable[..., Any]] = {
    "text_for": text_for,
    "shop_error": shop_error,
    "stored_problem": stored_problem,
    "message_problem": message_problem,
    "confidence_reason": confidence_reason,
    "lang": current_language,
    "admin_url": admin_url,
    "carried_params": carried_params,
    "customer_name": customer_name,
    "money": money,
    "currency_symbol": currency_symbol,
    "date": date,
    "date_time": date_time,
    "number": number,
    "duration": duration,
    "rate_text": rate_text,
    "tone": tone,
    "label": label,
    "consent_state": consent_state,
    "timeline_summary": timeline_summary,
}
for _name, _helper in TEMPLATE_GLOBALS.items():
    bp.add_app_template_global(_helper, _name)


@bp.app_context_processor
def _shopify_api_key() -> dict[str, Any]:
    config = kizuna().config
    return {"shopify_api_key": config.shopify_api_key, "app_bridge_url": config.app_bridge_url}


def automations_stalled() -> bool:
    """True when no worker or scheduler beat lately (or Redis is unreachable): nothing is sent."""
    try:
        return automations_liveness(kizuna()).stalled
    except (RedisError, OSError):
        return True


bp.add_app_template_global(automations_stalled, "automations_stalled")


@bp.after_request
def _admin_response(response: Response) -> Response:
    # Pages hold personal data: never cached by the browser or a proxy.
    response.headers["Cache-Control"] = "private, no-store"
    # Standalone: remember the store picked in the switcher for the next pages.
    shop = g.get("shop")
    if not g.get("embedded") and shop is not None and "shop_id" in request.args:
        session["shop_id"] = shop.id
    return response
