"""The cart-abandonment flow: its definition, settings form, subjects, discount code, rendering.

Layer: flows, a flow module (above `runs`, `replay`, `form`, `content`, `reads`, `definition`; the
registry lists it). Rendering has no side effects (the send step creates the discount code first).
Personal data goes only into the email or its per-recipient substitutions, never into shared
content, logs or `custom_args`; a step with a discount code never shares content.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app, render_template
from flask_babel import LazyString, force_locale, lazy_pgettext
from markupsafe import Markup, escape
from sqlalchemy import Select, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, object_session

from app.config import Config
from app.db import utcnow
from app.domain.orchestration import CART
from app.flows.content import (
    GREETING_HTML_TAG,
    GREETING_TEXT_TAG,
    UNSUBSCRIBE_TAG,
    SharedContent,
    flow_email,
    greeting,
    language,
    message_unsubscribe_link,
    shared_content_email,
)
from app.flows.definition import (
    CHECKOUTS_CHANGED,
    CUSTOMERS_ORDERED,
    EXIT_ORDER,
    ORDERS_CHANGED,
    FlowDefinition,
    PreviewTarget,
    Trigger,
)
from app.flows.form import (
    DEFAULT_DISCOUNT_DAYS,
    DEFAULT_DISCOUNT_PERCENT,
    MAX_DISCOUNT,
    MAX_DISCOUNT_DAYS,
    MAX_DISCOUNT_MIN_TOTAL,
    STEPS,
    FlowForm,
    Number,
    subject_override,
)
from app.flows.reads import cart_checkout, flow_setting
from app.flows.replay import cart_triggers
from app.flows.runs import (
    cart_run_start,
    exit_on_customer_orders,
    exit_runs,
    load_customers,
    load_order_exits,
    start_runs,
)
from app.formatting import format_money
from app.links import safe_url, shop_home_url
from app.models import Checkout, Customer, Shop
from app.models.flow import FlowRun, Message
from connectors.base import ConnectorError, OrderRecord
from connectors.sendgrid.mail import OutgoingEmail

log = logging.getLogger(__name__)

DISCOUNT_STEP = 2

# The built-in subject of each step, translated when the email is rendered.
SUBJECTS: dict[int, LazyString] = {
    1: lazy_pgettext("email subject", "You left something in your cart"),
    2: lazy_pgettext("email subject", "Your cart is still waiting for you"),
    3: lazy_pgettext("email subject", "Last chance: your cart is about to expire"),
}

# Substitution tags of shared cart content (`render_shared`), besides the greeting and the
# unsubscribe link every shared flow email has (`content`).
ITEMS_HTML_TAG, ITEMS_TEXT_TAG = "-cart_items_html-", "-cart_items_text-"
RECOVERY_HTML_TAG, RECOVERY_TEXT_TAG = "-cart_recovery_html-", "-cart_recovery_text-"


@dataclass(frozen=True)
class DiscountTerms:
    """The cart flow's step-2 code: `percent` off, valid `days`, for carts of at least
    `min_total` in the checkout's currency (the split: smaller carts get the email without a
    code)."""

    percent: Decimal
    days: float
    min_total: Decimal = Decimal(0)


def discount_terms(config: dict[str, Any] | None) -> DiscountTerms | None:
    """The step-2 code's terms from the flow's config, or None when turned off
    (`discount_percent` 0). Defaults: 10 % for 7 days, every cart."""
    settings = config or {}
    try:
        percent = Decimal(str(settings.get("discount_percent", 10)))
        days = float(settings.get("discount_days", 7))
        min_total = Decimal(str(settings.get("discount_min_total", 0)))
    except (InvalidOperation, TypeError, ValueError):
        percent, days, min_total = Decimal(10), 7.0, Decimal(0)
    return None if percent <= 0 else DiscountTerms(percent, days, min_total)


def step_has_discount(config: dict[str, Any] | None, step: int) -> bool:
    return step == DISCOUNT_STEP and discount_terms(config) is not None


def create_discount_code(session: Session, shop: Shop, run: FlowRun, msg: Message) -> str | None:
    """The send step's explicit side effect, before rendering: the cart flow's step 2 carries
    a unique single-use code for this customer, created on the platform here (None: no
    discount block, also for a checkout below the terms' minimum total). The code is derived
    from the message id, so a retried send reuses it (the platform's "code taken" counts as
    created). A refusal is put on the shop's last_error (committed with the send) and the email
    goes out without a code rather than not at all."""
    from app.kizuna import kizuna
    from app.services.shop_errors import record_coupon_refusal
    from app.services.shop_tokens import shopify_client
    from app.services.woocommerce_install import woocommerce_client
    from connectors.shopify.consent import customer_gid
    from connectors.shopify.discounts import create_single_use_discount, message_code
    from connectors.woocommerce.coupons import create_coupon

    step, message_id = msg.step, msg.id
    if step != DISCOUNT_STEP or run.flow_key != "cart":
        return None
    setting = flow_setting(session, shop.id, run.flow_key)
    terms = discount_terms(setting.config if setting is not None else None)
    if terms is None:
        return None
    checkout = cart_checkout(session, shop.id, run.trigger_key)
    if checkout is not None and checkout.total_price < terms.min_total:
        return None  # the split: a small cart is reminded without a code
    percent, days = terms.percent, terms.days
    customer = session.get(Customer, run.customer_id)
    if customer is None or not customer.email:
        return None
    runtime = kizuna()
    code = message_code(runtime.config.secret_key, "discount", shop.id, message_id)
    ends_at = utcnow() + timedelta(days=days)
    try:
        if shop.platform == "woocommerce":
            with woocommerce_client(runtime, shop) as wc:
                create_coupon(
                    wc, email=customer.email, percent=percent, expires_at=ends_at, code=code
                )
        else:
            with shopify_client(runtime, shop) as client:
                create_single_use_discount(
                    client,
                    customer_gid=customer_gid(customer.external_id),
                    percent=percent,
                    ends_at=ends_at,
                    code=code,
                    title=f"Kizuna cart reminder {code}",
                )
    except (ConnectorError, ValueError) as error:
        log.warning("discount not created message_id=%s error=%s", message_id, error)
        record_coupon_refusal(shop, run.flow_key, message_id, error)
        return None
    return code


def _money(value: Any, currency: str, lang: str) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "—"
    return format_money(amount, currency, lang)


def _cart_lines(checkout: Checkout, lang: str) -> dict[str, Any]:
    items = [
        {
            "title": item.get("title") or "",
            "variant_title": item.get("variant_title"),
            "quantity": item.get("quantity") or 1,
            "price": _money(item.get("price"), checkout.currency, lang),
            "image_url": safe_url(item.get("image_url")),
        }
        for item in checkout.line_items or ()
    ]
    total = _money(checkout.total_price, checkout.currency, lang)
    return {"lang": lang, "items": items, "total": total}


def recovery_link(shop: Shop, checkout: Checkout) -> str | None:
    """The checkout's recovery URL for the email's button; the shop's home page when the
    platform sent something other than an http(s) URL; None (no button) when it sent none."""
    if not checkout.recovery_url:
        return None
    return safe_url(checkout.recovery_url, shop_home_url(shop))


def _render_items(checkout: Checkout, lang: str) -> tuple[Markup, str]:
    """The cart's rows and total, as HTML (escaped) and text."""
    env = current_app.jinja_env
    lines = _cart_lines(checkout, lang)
    with force_locale(lang):
        html = env.get_template("email/cart/_items.html").render(**lines)
        text = env.get_template("email/cart/_items.txt").render(**lines)
    return Markup(html), text  # noqa: S704 - autoescaped template output


def _subject(session: Session | None, shop: Shop, lang: str, step: int) -> str:
    setting = flow_setting(session, shop.id, "cart") if session is not None else None
    with force_locale(lang):
        return subject_override(setting, lang, step) or str(SUBJECTS[step])


def _templates(step: int, **context: Any) -> tuple[str, str]:
    with force_locale(context["lang"]):
        return (
            render_template(f"email/cart/step{step}.html", **context),
            render_template(f"email/cart/step{step}.txt", **context),
        )


def render(
    config: Config,
    shop: Shop,
    customer: Customer,
    checkout: Checkout,
    run: FlowRun,
    msg: Message,
    *,
    discount_code: str | None = None,
) -> OutgoingEmail:
    """The step's email for one recipient, in the customer's (else the shop's) language; no
    side effects (the send step creates `discount_code` first, `create_discount_code`)."""
    lang = language(customer, shop)
    items_html, items_text = _render_items(checkout, lang)
    link = message_unsubscribe_link(config, shop, customer, msg)
    html, text = _templates(
        msg.step,
        lang=lang,
        shop_name=shop.name or shop.domain,
        greeting=greeting(customer, lang),
        greeting_text=greeting(customer, lang),
        items_html=items_html,
        items_text=items_text,
        recovery_url=recovery_link(shop, checkout),
        recovery_text=recovery_link(shop, checkout),
        unsubscribe_url=link,
        discount_code=discount_code,
    )
    return flow_email(
        config,
        shop,
        customer,
        msg,
        run.flow_key,
        subject=_subject(object_session(shop), shop, lang, msg.step),
        html=html,
        text=text,
        link=link,
    )


def render_shared(session: Session, shop: Shop, step: int, lang: str) -> SharedContent:
    """The content every recipient of this shop, step and language shares (no discount block:
    a discount step is sent per message)."""
    html, text = _templates(
        step,
        lang=lang,
        shop_name=shop.name or shop.domain,
        greeting=GREETING_HTML_TAG,
        greeting_text=GREETING_TEXT_TAG,
        items_html=ITEMS_HTML_TAG,
        items_text=ITEMS_TEXT_TAG,
        recovery_url=RECOVERY_HTML_TAG,
        recovery_text=RECOVERY_TEXT_TAG,
        unsubscribe_url=UNSUBSCRIBE_TAG,
        discount_code=None,
    )
    return SharedContent(lang, _subject(session, shop, lang, step), html, text)


def shared_email(
    config: Config,
    shop: Shop,
    customer: Customer,
    checkout: Checkout,
    msg: Message,
    content: SharedContent,
) -> OutgoingEmail | None:
    """This recipient's email on shared content, or None when it cannot share it (no recovery
    link, or substitutions over SendGrid's per-personalization limit): send it on its own."""
    recovery = recovery_link(shop, checkout)
    if recovery is None:
        return None
    items_html, items_text = _render_items(checkout, content.lang)
    return shared_content_email(
        config,
        shop,
        customer,
        msg,
        "cart",
        content,
        text_greeting_own_line=False,  # the text part greets at the start of a sentence too
        substitutions={
            ITEMS_HTML_TAG: str(items_html),
            ITEMS_TEXT_TAG: items_text,
            RECOVERY_HTML_TAG: str(escape(recovery)),
            RECOVERY_TEXT_TAG: recovery,
        },
    )


def render_message(
    config: Config,
    session: Session,
    shop: Shop,
    customer: Customer,
    run: FlowRun,
    msg: Message,
    lang: str,
    now: datetime,
    *,
    discount_code: str | None,
) -> OutgoingEmail:
    """`render` for the send step: the run's checkout, read in the send's transaction."""
    checkout = cart_checkout(session, msg.shop_id, run.trigger_key)
    if checkout is None:
        raise NoResultFound(f"no checkout for run {run.id}")
    return render(config, shop, customer, checkout, run, msg, discount_code=discount_code)


def load_checkouts(session: Session, shop_id: int, runs: Sequence[FlowRun]) -> dict[str, Any]:
    """The batch's checkouts by token, in one query."""
    tokens = {run.trigger_key for run in runs}
    return {
        checkout.external_id: checkout
        for checkout in session.scalars(
            select(Checkout).where(Checkout.shop_id == shop_id, Checkout.external_id.in_(tokens))
        )
    }


def shared_message(
    config: Config,
    shop: Shop,
    customer: Customer,
    run: FlowRun,
    msg: Message,
    content: SharedContent,
    context: Mapping[str, Any],
) -> OutgoingEmail | None:
    checkout = context.get(run.trigger_key)
    if checkout is None:
        return None
    return shared_email(config, shop, customer, checkout, msg, content)


def _shares_content(config: Mapping[str, Any] | None, step: int) -> bool:
    return not step_has_discount(dict(config) if config is not None else None, step)


FORM = FlowForm(
    "cart",
    steps=STEPS,
    delays=STEPS,
    coupon=False,  # its own discount step (`create_discount_code`)
    numbers=(
        Number(
            "discount_percent",
            0,
            MAX_DISCOUNT,
            DEFAULT_DISCOUNT_PERCENT,
            unit="%",
            section="discount",
        ),
        Number("discount_days", 1, MAX_DISCOUNT_DAYS, DEFAULT_DISCOUNT_DAYS, section="discount"),
        # The split: carts below this total get email 2 without a code.
        Number(
            "discount_min_total",
            0,
            MAX_DISCOUNT_MIN_TOTAL,
            0,
            integer=False,
            unit="currency",
            section="discount",
        ),
    ),
)


def preview_query(shop: Shop) -> Select[Any]:
    """Customers with an open checkout, newest first."""
    joined = (Checkout.customer_id == Customer.id) & (Checkout.shop_id == shop.id)
    return (
        select(Customer)
        .join(Checkout, joined)
        .where(Checkout.completed_at.is_(None))
        .order_by(Checkout.id.desc())
    )


def preview_target(session: Session, shop: Shop, customer: Customer) -> PreviewTarget | None:
    """The customer's latest open (else latest) checkout."""
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


# --- triggers --------------------------------------------------------------------------------


def on_checkouts(session: Session, shop_id: int, checkouts: Sequence[Checkout]) -> None:
    """A completed checkout exits its run; any other starts one (once per checkout token)."""
    now = utcnow()
    completed = {c.external_id for c in checkouts if c.completed_at is not None}
    if completed:
        exit_runs(session, shop_id, "checkout_completed", trigger_keys=completed)
    customers = load_customers(session, shop_id, [c for c in checkouts if c.completed_at is None])
    found = [
        cart_run_start(session, checkout, now)
        for checkout in checkouts
        if checkout.completed_at is None
    ]
    starts = [start for start in found if start is not None]
    if starts:
        start_runs(session, shop_id, CART, starts[0][0], [start for _config, start in starts], now)
    del customers  # held until every start has found its customer


def exit_ordered_checkouts(session: Session, shop_id: int, orders: Sequence[OrderRecord]) -> None:
    """An order carrying a checkout token exits that checkout's run."""
    tokens = {record.checkout_token for record in orders if record.checkout_token}
    if tokens:
        exit_runs(session, shop_id, "ordered", trigger_keys=tokens)


DEFINITION = FlowDefinition(
    key="cart",
    form=FORM,
    priority=0,
    ends_on_order=True,
    load_exits=load_order_exits,
    render=render_message,
    simulate=cart_triggers,
    preview_missing="flows.preview.no_checkout",
    preview_query=preview_query,
    preview_target=preview_target,
    shares_content=_shares_content,
    render_shared=render_shared,
    load_context=load_checkouts,
    shared_email=shared_message,
    create_code=create_discount_code,
    triggers=(
        Trigger(CHECKOUTS_CHANGED, on_checkouts),
        Trigger(ORDERS_CHANGED, exit_ordered_checkouts, order=EXIT_ORDER),
        Trigger(CUSTOMERS_ORDERED, exit_on_customer_orders("cart"), order=EXIT_ORDER),
    ),
)
