"""Admin flows: `/app/flows` (list + performance), `/app/flows/<key>` (settings + preview) and
`/app/outbox` (the latest emails sent for this store). The settings include the flow's audience:
everyone or one of the shop's saved segments (a deleted one is flagged on the page).

Layer: web. Reads are scoped to `g.shop`; the one write — a flow's settings — goes through
`app.services.flow_settings` and is committed here (POST, CSRF-checked). The preview renders each
step with the sender's own `jobs.send_email.render` for one real customer's latest checkout,
on unsaved run/message objects (id 0): no discount code is created and nothing is stored; the
preview's unsubscribe link is neutralised and the HTML is shown in a sandboxed iframe.
The outbox reads the simulated SendGrid's `/_sandbox/outbox` when the app sends there (only the
messages whose `custom_args.kizuna_shop_id` is this store), else Kizuna's `messages` table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import httpx
from flask import abort, g, redirect, render_template, request
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import db_session
from app.admin import bp
from app.admin.helpers import admin_url
from app.auth.csrf import csrf_protect
from app.auth.guard import admin_required
from app.domain.attribution import MODELS
from app.domain.orchestration import CART
from app.kizuna import kizuna
from app.models import Checkout, Customer, Shop
from app.models.flow import FlowRun, Message
from app.services import attribution, flow_settings, flow_stats, segments
from app.services.unsubscribe import make_token, unsubscribe_url

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 50
SANDBOX_FETCH = 500  # the sandbox cannot filter by shop: fetch this many, keep this shop's
PREVIEW_CANDIDATES = 20


@dataclass(frozen=True)
class OutboxRow:
    to: str
    subject: str
    categories: tuple[str, ...]
    at: datetime | None
    status: str | None = None


@dataclass(frozen=True)
class StepPreview:
    step: int
    subject: str
    html: str
    text: str


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
                "values": flow_settings.form_values(setting),
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
    )


# --- preview ---------------------------------------------------------------------------------


def preview_candidates(session: Session, shop: Shop) -> list[tuple[Customer, Checkout]]:
    """Customers of the shop with an open (abandoned) checkout, latest first."""
    rows = session.execute(
        select(Customer, Checkout)
        .join(Checkout, (Checkout.customer_id == Customer.id) & (Checkout.shop_id == shop.id))
        .where(
            Customer.shop_id == shop.id,
            Customer.deleted_at.is_(None),
            Customer.redacted_at.is_(None),
            Checkout.completed_at.is_(None),
        )
        .order_by(Checkout.id.desc())
        .limit(PREVIEW_CANDIDATES * 3)
    ).all()
    seen: set[int] = set()
    found: list[tuple[Customer, Checkout]] = []
    for customer, checkout in rows:
        if customer.id not in seen:
            seen.add(customer.id)
            found.append((customer, checkout))
    return found[:PREVIEW_CANDIDATES]


def _checkout_of(
    session: Session, shop: Shop, customer_id: int
) -> tuple[Customer, Checkout] | None:
    customer = session.scalars(
        select(Customer).where(
            Customer.shop_id == shop.id,
            Customer.id == customer_id,
            Customer.redacted_at.is_(None),
        )
    ).one_or_none()
    if customer is None:
        return None
    checkout = session.scalars(
        select(Checkout)
        .where(Checkout.shop_id == shop.id, Checkout.customer_id == customer.id)
        .order_by(Checkout.completed_at.is_not(None), Checkout.id.desc())
        .limit(1)
    ).first()
    return (customer, checkout) if checkout is not None else None


def render_previews(
    session: Session, shop: Shop, customer: Customer, checkout: Checkout
) -> list[StepPreview]:
    """Every step as the sender would render it for this customer's checkout (nothing stored)."""
    from jobs.send_email import language, render

    config = kizuna().config
    setting = flow_settings.load(session, shop.id, CART)
    lang = language(customer, shop)
    previews = []
    with session.no_autoflush:
        for step in range(1, flow_settings.STEPS + 1):
            run = FlowRun(
                id=0, shop_id=shop.id, flow_key=CART, customer_id=customer.id,
                trigger_key=checkout.external_id, status="running",
            )  # fmt: skip
            msg = Message(id=0, shop_id=shop.id, flow_run_id=0, step=step, customer_id=customer.id)
            email = render(config, shop, customer, checkout, run, msg)
            link = unsubscribe_url(
                config.app_url, make_token(config.secret_key, shop.id, customer.id, 0)
            )
            html = (email.html or "").replace(str(escape(link)), "#").replace(link, "#")
            text = (email.text or "").replace(link, "#")
            subject = flow_settings.subject_override(setting, lang, step) or email.subject
            previews.append(StepPreview(step, subject, html, text))
    return previews


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
        values = {name: request.form.get(name, "") for name in flow_settings.form_values(None)}
    else:
        values = flow_settings.form_values(flow_settings.load(session, shop.id, key))

    saved_setting = flow_settings.load(session, shop.id, key)
    audience_missing = segments.missing_audience(
        session, shop.id, saved_setting.config if saved_setting is not None else None
    )
    candidates = preview_candidates(session, shop)
    wanted = request.args.get("customer_id", type=int)
    chosen: tuple[Customer, Checkout] | None = None
    preview_error = None
    if wanted is not None:
        chosen = _checkout_of(session, shop, wanted)
        if chosen is None:
            preview_error = "flows.preview.no_checkout"
    elif candidates:
        chosen = candidates[0]
    previews: list[StepPreview] = []
    if chosen is not None:
        previews = render_previews(session, shop, *chosen)
    return (
        render_template(
            "admin/flow_edit.html",
            key=key,
            values=values,
            errors=errors,
            saved=request.args.get("saved") == "1" and not errors,
            candidates=candidates,
            chosen=chosen,
            previews=previews,
            preview_error=preview_error,
            steps=range(1, flow_settings.STEPS + 1),
            languages=flow_settings.LANGUAGES,
            limits=flow_settings,
            audiences=segments.list_segments(session, shop.id),
            audience_missing=audience_missing,
        ),
        status,
    )


# --- outbox ----------------------------------------------------------------------------------


def sandbox_outbox(base_url: str, shop_id: int, limit: int = OUTBOX_LIMIT) -> list[OutboxRow]:
    """The simulated SendGrid's latest messages for this shop only (newest first)."""
    response = httpx.get(
        f"{base_url.rstrip('/')}/_sandbox/outbox", params={"limit": SANDBOX_FETCH}, timeout=5.0
    )
    response.raise_for_status()
    rows: list[OutboxRow] = []
    for item in response.json().get("messages") or ():
        args = item.get("custom_args") or {}
        if str(args.get("kizuna_shop_id", "")) != str(shop_id):
            continue
        to = ", ".join(str(entry.get("email", "")) for entry in item.get("to") or ())
        try:
            at: datetime | None = datetime.fromisoformat(item.get("accepted_at") or "")
        except ValueError:
            at = None
        rows.append(
            OutboxRow(
                to=to,
                subject=str(item.get("subject") or ""),
                categories=tuple(str(c) for c in item.get("categories") or ()),
                at=at,
            )
        )
        if len(rows) >= limit:
            break
    return rows


def sent_messages(session: Session, shop_id: int, limit: int = OUTBOX_LIMIT) -> list[OutboxRow]:
    """Kizuna's own record of the shop's flow messages, latest first."""
    rows = session.execute(
        select(Message, Customer.email, FlowRun.flow_key)
        .join(Customer, (Customer.id == Message.customer_id) & (Customer.shop_id == shop_id))
        .join(FlowRun, FlowRun.id == Message.flow_run_id)
        .where(Message.shop_id == shop_id)
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()
    return [
        OutboxRow(
            to=email or "",
            subject=msg.subject or "",
            categories=("kizuna", f"flow-{flow_key}", f"{flow_key}-step-{msg.step}"),
            at=msg.sent_at or msg.created_at,
            status=msg.status,
        )
        for msg, email, flow_key in rows
    ]


@bp.get("/outbox")
@admin_required
def outbox():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    config = kizuna().config
    source = "messages"
    error = False
    rows: list[OutboxRow] = []
    if not config.sendgrid_api_key and config.sendgrid_sandbox_url:
        source = "sandbox"
        try:
            rows = sandbox_outbox(config.sendgrid_sandbox_url, g.shop.id)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("sandbox outbox unavailable error=%s", type(exc).__name__)
            error = True
    else:
        rows = sent_messages(db_session(), g.shop.id)
    return render_template("admin/outbox.html", rows=rows, source=source, error=error)
