"""Admin flows: `/app/flows` (every flow with its performance), `/app/flows/<key>` (settings +
preview, for the cart, win-back, thank-you, review-request and replenishment flows) and
`/app/outbox` (the latest emails sent for this store). The settings include the flow's audience:
everyone or one of the shop's saved segments (a deleted one is flagged on the page).

Layer: web. Reads are scoped to `g.shop`; the one write — a flow's settings — goes through
`app.flows.settings` and is committed here (POST, CSRF-checked). The preview renders each step
with the flow's own renderer (its registry definition's `render`) for one real customer — their
latest checkout (cart), latest order (win-back), latest paid or fulfilled order (thank-you,
review request) or a product they bought twice (replenishment) — on unsaved run/message objects
(id 0): no discount code is created and nothing is stored (rendering has no side effects: the
discount code is the send step's); the preview's unsubscribe link is neutralised and the HTML is
shown in a sandboxed iframe. The outbox reads the simulated SendGrid's `/_sandbox/outbox` when
the app sends there (only the messages whose `custom_args.kizuna_shop_id` is this store), else
Kizuna's `messages` table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from flask import abort, g, redirect, render_template, request
from flask_babel import gettext
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.admin import bp
from app.admin.helpers import admin_url
from app.auth.csrf import csrf_protect
from app.auth.guard import admin_required
from app.db import utcnow
from app.domain.attribution import MODELS
from app.domain.orchestration import CART, REPLENISHMENT, REVIEW_REQUEST, THANK_YOU, WINBACK
from app.flows import post_purchase, registry
from app.flows import settings as flow_settings
from app.flows import stats as flow_stats
from app.flows.facts import FactSet
from app.flows.rules import Exit, Postpone, Skip, decide
from app.formatting import format_datetime
from app.i18n import KEYED_MESSAGES, current_language, text_for
from app.kizuna import db_session, kizuna
from app.models import Checkout, Customer, Order, OrderLine, Product, Shop
from app.models.flow import FlowRun, Message
from app.request_guards import db_integer
from app.services import attribution, segments
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
                "values": flow_settings.form_values(setting, key),
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


@dataclass(frozen=True)
class PreviewTarget:
    """What a run of the flow would be started for: the customer, the run's trigger key, and
    a line naming it (i18n key + values); the cart flow's checkout."""

    customer: Customer
    trigger_key: str
    detail: str
    values: dict[str, Any]
    checkout: Checkout | None = None


def _live_customers() -> Any:
    return (Customer.deleted_at.is_(None)) & (Customer.redacted_at.is_(None))


def _order_label(order: Order) -> str:
    return order.name or order.external_id


def _paid_orders(shop_id: int) -> Any:
    return (
        (Order.shop_id == shop_id)
        & Order.cancelled_at.is_(None)
        & func.lower(Order.financial_status).in_(sorted(post_purchase.PAID_STATUSES))
    )


def _repeat_products(shop_id: int) -> Any:
    """(customer id, product, newest order id) for products a customer bought in 2+ orders."""
    return (
        select(
            Order.customer_id,
            OrderLine.product_external_id,
            func.max(Order.id).label("order_id"),
        )
        .join(OrderLine, (OrderLine.order_id == Order.id) & (OrderLine.shop_id == Order.shop_id))
        .where(
            _paid_orders(shop_id),
            Order.customer_id.is_not(None),
            OrderLine.product_external_id.is_not(None),
        )
        .group_by(Order.customer_id, OrderLine.product_external_id)
        .having(func.count(func.distinct(Order.id)) >= 2)
    )


def _candidate_query(shop: Shop, key: str) -> Any:
    """Customers of the shop the flow could reach, newest trigger first (with repeats)."""
    if key == CART:
        joined = (Checkout.customer_id == Customer.id) & (Checkout.shop_id == shop.id)
        return (
            select(Customer)
            .join(Checkout, joined)
            .where(Checkout.completed_at.is_(None))
            .order_by(Checkout.id.desc())
        )
    if key == REPLENISHMENT:
        repeat = _repeat_products(shop.id).subquery()
        return (
            select(Customer)
            .join(repeat, repeat.c.customer_id == Customer.id)
            .order_by(repeat.c.order_id.desc())
        )
    joined = (Order.customer_id == Customer.id) & (Order.shop_id == shop.id)
    if key == WINBACK:
        condition = Order.cancelled_at.is_(None)
    else:
        condition = _paid_orders(shop.id)
        if key == REVIEW_REQUEST:
            condition = condition & Order.fulfilled_at.is_not(None)
    return select(Customer).join(Order, joined).where(condition).order_by(Order.id.desc())


def preview_candidates(session: Session, shop: Shop, key: str = CART) -> list[Customer]:
    """Customers the flow's preview can be shown for (an open checkout for the cart flow, an
    order for win-back, a paid / fulfilled order / a product bought twice for the
    post-purchase flows), latest first."""
    statement = (
        _candidate_query(shop, key)
        .where(Customer.shop_id == shop.id, _live_customers())
        .limit(PREVIEW_CANDIDATES * 3)
    )
    seen: set[int] = set()
    found: list[Customer] = []
    for customer in session.scalars(statement):
        if customer.id not in seen:
            seen.add(customer.id)
            found.append(customer)
    return found[:PREVIEW_CANDIDATES]


def _latest_order(session: Session, shop: Shop, customer: Customer, condition: Any) -> Order | None:
    return session.scalars(
        select(Order)
        .where(Order.shop_id == shop.id, Order.customer_id == customer.id, condition)
        .order_by(Order.id.desc())
        .limit(1)
    ).first()


def preview_target(
    session: Session, shop: Shop, key: str, customer: Customer
) -> PreviewTarget | None:
    """What the flow's run would be for this customer (None: nothing to start one from)."""
    if key == CART:
        checkout = session.scalars(
            select(Checkout)
            .where(Checkout.shop_id == shop.id, Checkout.customer_id == customer.id)
            .order_by(Checkout.completed_at.is_not(None), Checkout.id.desc())
            .limit(1)
        ).first()
        if checkout is None:
            return None
        return PreviewTarget(
            customer,
            checkout.external_id,
            "flows.preview.for",
            {"checkout": checkout.external_id},
            checkout,
        )
    if key == REPLENISHMENT:
        repeat = _repeat_products(shop.id).subquery()
        found = session.execute(
            select(repeat.c.product_external_id, repeat.c.order_id)
            .where(repeat.c.customer_id == customer.id)
            .order_by(repeat.c.order_id.desc())
            .limit(1)
        ).first()
        if found is None:
            return None
        product, order_id = str(found[0]), int(found[1])
        title = session.scalar(
            select(Product.title).where(Product.shop_id == shop.id, Product.external_id == product)
        )
        return PreviewTarget(
            customer,
            f"replenish:{product}:{order_id}",
            "flows.preview.for_product",
            {"product": title or product},
        )
    if key == WINBACK:
        order = _latest_order(session, shop, customer, Order.cancelled_at.is_(None))
        trigger = f"lapse:{order.id}" if order is not None else ""
    elif key == THANK_YOU:
        order = _latest_order(session, shop, customer, _paid_orders(shop.id))
        trigger = f"order:{order.id}" if order is not None else ""
    else:
        fulfilled = _paid_orders(shop.id) & Order.fulfilled_at.is_not(None)
        order = _latest_order(session, shop, customer, fulfilled)
        trigger = f"fulfilled:{order.id}" if order is not None else ""
    if order is None:
        return None
    return PreviewTarget(
        customer, trigger, "flows.preview.for_order", {"order": _order_label(order)}
    )


def render_previews(
    session: Session, shop: Shop, key: str, target: PreviewTarget
) -> list[StepPreview]:
    """Every step as the sender would render it for this target (nothing stored): the flow's
    own renderer on an unsaved run and message (id 0), so no discount code is created."""
    from app.flows.cart import language

    config = kizuna().config
    customer = target.customer
    lang = language(customer, shop)
    link = unsubscribe_url(config.app_url, make_token(config.secret_key, shop.id, customer.id, 0))
    previews = []
    with session.no_autoflush:
        for step in range(1, flow_settings.FORMS[key].steps + 1):
            run = FlowRun(
                id=0, shop_id=shop.id, flow_key=key, customer_id=customer.id,
                trigger_key=target.trigger_key, status="running",
            )  # fmt: skip
            msg = Message(id=0, shop_id=shop.id, flow_run_id=0, step=step, customer_id=customer.id)
            email = registry.get(key).render(
                config, session, shop, customer, run, msg, lang, utcnow(), discount_code=None
            )
            html = (email.html or "").replace(str(escape(link)), "#").replace(link, "#")
            text = (email.text or "").replace(link, "#")
            previews.append(StepPreview(step, email.subject, html, text))
    return previews


def preview_decision(session: Session, shop: Shop, key: str, target: PreviewTarget) -> str:
    """What the send rules (`rules.decide`) would answer for this target were its email due
    now — the same facts and the same function as the send — as one line for the page."""
    now = utcnow()
    run = FlowRun(
        id=0, shop_id=shop.id, flow_key=key, customer_id=target.customer.id,
        trigger_key=target.trigger_key, status="running", started_at=now,
    )  # fmt: skip
    with session.no_autoflush:
        decision = decide(FactSet(session, shop.id, key, [run], now).facts(run), now)
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
    candidates = preview_candidates(session, shop, key)
    wanted = request.args.get("customer_id", type=db_integer)
    chosen: PreviewTarget | None = None
    preview_error = None
    if wanted is not None:
        customer = _customer_of(session, shop, wanted)
        chosen = preview_target(session, shop, key, customer) if customer is not None else None
        if chosen is None:
            preview_error = registry.get(key).preview_missing
    else:
        for candidate in candidates[:3]:
            chosen = preview_target(session, shop, key, candidate)
            if chosen is not None:
                break
    previews: list[StepPreview] = []
    decision = ""
    if chosen is not None:
        previews = render_previews(session, shop, key, chosen)
        decision = preview_decision(session, shop, key, chosen)
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
