"""Admin flows: `/app/flows` and `/app/flows/<key>` (settings and preview), and the preview's
customer search (`/app/flows/<key>/preview-customers`, JSON).

Layer: web. Reads are scoped to `g.shop`; the one write, a flow's settings, goes through
`flows.settings` and is committed here. The preview stores nothing and is shown sandboxed; its
customer is picked by name or email among those the flow's preview can be shown for.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, g, jsonify, redirect, render_template, request
from flask_babel import gettext
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from app.admin import bp
from app.admin.helpers import admin_url, customer_name
from app.auth.csrf import csrf_protect
from app.auth.guard import admin_required
from app.db import utcnow
from app.domain.attribution import MODELS
from app.domain.orchestration import CART
from app.flows import preview, registry
from app.flows import settings as flow_settings
from app.flows import stats as flow_stats
from app.flows.rules import Decision, Exit, Postpone, Skip
from app.formatting import format_datetime
from app.i18n import KEYED_MESSAGES, current_language, text_for
from app.kizuna import db_session, kizuna
from app.models import Customer, Shop
from app.request_guards import db_integer
from app.services import attribution, customer_reads, segments

log = logging.getLogger(__name__)

PREVIEW_CANDIDATES = 20
PREVIEW_SEARCH_LIMIT = 10


def _flow_or_404(key: str) -> None:
    if g.shop is None or key not in flow_settings.FLOW_KEYS:
        abort(404)


@bp.get("/flows")
@admin_required
def flows():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    session = db_session()
    credit = attribution.settings_of(g.shop)
    rows = []
    for key in flow_settings.FLOW_KEYS:
        setting = flow_settings.load(session, g.shop.id, key)
        rows.append(
            {
                "key": key,
                "enabled": setting is None or setting.enabled,
                "values": flow_settings.form_values(setting, key),
                "delays": flow_settings.delay_texts(flow_settings.form_values(setting, key)),
                "stats": flow_stats.flow_performance(session, g.shop.id, key, attribution=credit),
            }
        )
    return render_template(
        "admin/flows.html",
        flows=rows,
        window_days=credit.window_days,
        attribution=credit,
        attribution_models=MODELS,
        attribution_notice=request.args.get("attribution"),
        min_runs=flow_stats.MIN_RUNS,
        min_conversions=flow_stats.MIN_CONVERSIONS,
        flow_text=_flow_text,
    )


# --- preview ---------------------------------------------------------------------------------


def _decision_text(decision: Decision, shop: Shop) -> str:
    """What the send rules would answer were the email due now, as one line for the page."""
    if isinstance(decision, Exit | Skip):
        return gettext(
            "Were it due now, it would not be sent (%(reason)s).", reason=decision.reason
        )
    if isinstance(decision, Postpone):
        until = format_datetime(decision.until, shop.timezone, current_language())
        return gettext("Were it due now, it would wait until %(until)s.", until=until)
    return gettext("Were it due now, it would be sent now.")


def _customer_of(session: Session, shop: Shop, customer_id: int) -> Customer | None:
    return session.scalars(
        select(Customer).where(
            Customer.shop_id == shop.id,
            Customer.id == customer_id,
            Customer.redacted_at.is_(None),
        )
    ).one_or_none()


def _previewable(shop: Shop, key: str) -> ColumnElement[bool]:
    """Customers the flow's preview can be shown for (its definition's `preview_query`)."""
    ids = registry.get(key).preview_query(shop).with_only_columns(Customer.id).order_by(None)
    return Customer.id.in_(ids) & Customer.redacted_at.is_(None)


def _preview_choices(session: Session, shop: Shop, key: str, q: str) -> list[Customer]:
    """Previewable customers whose name or email contains `q` (the shop's customer search),
    newest first; the latest previewable ones when `q` is empty."""
    if not q.split():
        return preview.preview_candidates(session, shop, key, limit=PREVIEW_SEARCH_LIMIT)
    return customer_reads.customer_page(
        session,
        shop,
        q=q[: customer_reads.MAX_QUERY_LENGTH],
        limit=PREVIEW_SEARCH_LIMIT,
        where=_previewable(shop, key),
    ).customers


def _choice_label(customer: Customer) -> str:
    name = customer_name(customer)
    if customer.email and name != customer.email:
        return f"{name} · {customer.email}"
    return name


@bp.get("/flows/<key>/preview-customers")
@admin_required
def flow_preview_customers(key: str):  # type: ignore[no-untyped-def]
    """`{"results": [{"value": customer id, "label": name · email}]}` for the preview's picker."""
    _flow_or_404(key)
    found = _preview_choices(db_session(), g.shop, key, request.args.get("q", ""))
    return jsonify(results=[{"value": str(c.id), "label": _choice_label(c)} for c in found])


def _flow_text(name: str, flow_key: str, **values: Any) -> str:
    """`name.<flow key>` when the flow has its own wording, else `name.generic` for the flows
    other than the cart flow, else `name`."""
    for candidate in (f"{name}.{flow_key}", f"{name}.generic" if flow_key != CART else None):
        if candidate is not None and candidate in KEYED_MESSAGES:
            return text_for(candidate, **values)
    return text_for(name, **values)


@bp.route("/flows/<key>", methods=["GET", "POST"])
@admin_required
@csrf_protect
def flow_edit(key: str):  # type: ignore[no-untyped-def]
    _flow_or_404(key)
    session = db_session()
    shop = g.shop
    errors: dict[str, flow_settings.FieldError] = {}
    status = 200
    if request.method == "POST":
        result = flow_settings.save(session, shop.id, key, request.form)
        if result.ok:
            session.commit()
            log.info("flow settings saved shop_id=%s flow=%s", shop.id, key)
            return redirect(admin_url("admin.flow_edit", key=key, saved="1"))
        session.rollback()
        errors, status = result.errors, 400
        blank = flow_settings.form_values(None, key)
        values = {name: request.form.get(name, "") for name in blank}
    else:
        values = flow_settings.form_values(flow_settings.load(session, shop.id, key), key)

    saved_setting = flow_settings.load(session, shop.id, key)
    audience_missing = segments.missing_audience(
        session, shop.id, saved_setting.config if saved_setting is not None else None
    )
    broken_audience, audience_problems = segments.audience_problems(
        session, shop.id, saved_setting.config if saved_setting is not None else None
    )
    audience_unavailable = (
        gettext(
            "The audience segment “%(segment)s” can't be evaluated: %(reason)s Nobody enters "
            "this flow until you fix the segment or choose another.",
            segment=broken_audience.name,
            reason=segments.unavailable_text(current_language(), audience_problems),
        )
        if broken_audience is not None and audience_problems
        else ""
    )
    candidates = preview.preview_candidates(session, shop, key)
    wanted = request.args.get("customer_id", type=db_integer)
    searched = " ".join(request.args.get("customer", "").split())
    chosen: preview.PreviewTarget | None = None
    preview_error = None
    preview_search_error = ""
    if searched:
        picked = _customer_of(session, shop, wanted) if wanted is not None else None
        if picked is None or " ".join(_choice_label(picked).split()) != searched:
            # Typed and sent without picking a suggestion (or with no script): the best match.
            matches = _preview_choices(session, shop, key, searched)
            wanted = matches[0].id if matches else None
            if not matches:
                preview_search_error = gettext(
                    "No customer matching “%(query)s” can be previewed for this flow.",
                    query=searched[:80],
                )
    if wanted is not None:
        customer = _customer_of(session, shop, wanted)
        chosen = (
            preview.preview_target(session, shop, key, customer) if customer is not None else None
        )
        if chosen is None:
            preview_error = registry.get(key).preview_missing
    elif not preview_search_error:  # a recent customer the preview can be shown for
        for candidate in candidates[:3]:
            chosen = preview.preview_target(session, shop, key, candidate)
            if chosen is not None:
                break
    previews: list[preview.StepPreview] = []
    decision = ""
    if chosen is not None:
        now, config = utcnow(), kizuna().config
        previews = preview.render_previews(session, config, shop, key, chosen, now)
        decision = _decision_text(preview.preview_decision(session, shop, key, chosen, now), shop)
    spec = flow_settings.FORMS[key]
    return (
        render_template(
            "admin/flow_edit.html",
            key=key,
            spec=spec,
            values=values,
            errors=errors,
            saved=request.args.get("saved") == "1" and not errors,
            candidates=candidates,
            chosen=chosen,
            previews=previews,
            preview_error=preview_error,
            preview_search_error=preview_search_error,
            preview_search=searched,
            preview_label=_choice_label(chosen.customer) if chosen is not None else "",
            preview_decision=decision,
            steps=range(1, spec.steps + 1),
            delays=range(1, spec.delays + 1),
            languages=flow_settings.LANGUAGES,
            limits=flow_settings,
            audiences=segments.list_segments(session, shop.id),
            audience_missing=audience_missing,
            audience_unavailable=audience_unavailable,
            flow_text=_flow_text,
            shop_currency=shop.currency,
        ),
        status,
    )
