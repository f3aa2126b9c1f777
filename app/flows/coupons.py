"""The coupon step any flow may turn on: its terms from the flow's settings, the single-use code
created on the platform by the send step, and the block that shows it in the email.

Layer: flows, beside `runs` (above `content` and `reads`). Creating a code is the send step's
explicit side effect (`create_step_coupon`, before rendering; the send keeps the code on its
message); rendering, the preview and the Outbox create nothing (the preview shows `SAMPLE_CODE`,
the Outbox the message's stored code). A code is derived from its message, so a retried send
asks for the same code and the platform's "code taken" counts as created: one code per message,
one use, for that customer only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session

from app.db import utcnow
from app.flows.content import SENDER_FOOTER_MARKER
from app.flows.form import COUPON_KINDS, MAX_COUPON_FIXED, MAX_DISCOUNT
from app.flows.reads import flow_setting
from app.formatting import format_date, format_money
from app.models import Customer, Shop
from app.models.flow import FlowRun, Message
from connectors.base import ConnectorError
from connectors.sendgrid.mail import OutgoingEmail

log = logging.getLogger(__name__)

SAMPLE_CODE = "KZ-SAMPLE00"
# Where `email/_layout.html` wants the coupon block (before the unsubscribe footer).
COUPON_MARKER = "<!--kizuna:coupon-->"


@dataclass(frozen=True)
class CouponTerms:
    """The coupon of step `step`: `value` percent (kind `percentage`) or `value` in the shop's
    currency (`fixed`) off the whole order, valid `days` from the send."""

    step: int
    kind: str
    value: Decimal
    days: float


def coupon_terms(config: Mapping[str, Any] | None) -> CouponTerms | None:
    """The coupon step of a flow's config, or None (`coupon_step` 0, or terms that make no code)."""
    settings = config or {}
    try:
        step = int(settings.get("coupon_step") or 0)
        value = Decimal(str(settings.get("coupon_value", 0)))
        days = float(settings.get("coupon_days", 7))
    except (InvalidOperation, TypeError, ValueError):
        return None
    kind = str(settings.get("coupon_kind") or COUPON_KINDS[0])
    if step <= 0 or kind not in COUPON_KINDS or value <= 0 or days <= 0:
        return None
    if value > (MAX_DISCOUNT if kind == "percentage" else MAX_COUPON_FIXED):
        return None
    return CouponTerms(step, kind, value, days)


def step_has_coupon(config: Mapping[str, Any] | None, step: int) -> bool:
    """Whether `step`'s emails carry a code (then they never share content)."""
    terms = coupon_terms(config)
    return terms is not None and terms.step == step


def step_terms(
    session: Session,
    shop_id: int,
    flow_key: str,
    step: int,
    defaults: Mapping[str, Any] | None = None,
) -> CouponTerms | None:
    """The coupon of this step of the shop's flow: its saved settings over the form's
    `defaults` (what a flow that never saved its form runs on), or None."""
    setting = flow_setting(session, shop_id, flow_key)
    saved = (setting.config if setting is not None else None) or {}
    terms = coupon_terms({**(defaults or {}), **saved})
    return terms if terms is not None and terms.step == step else None


def message_coupon_code(secret_key: str, shop_id: int, message_id: int) -> str:
    """The code of a message's coupon: the same for every attempt of that message."""
    from connectors.shopify.discounts import message_code

    return message_code(secret_key, "coupon", shop_id, message_id)


def create_step_coupon(
    session: Session,
    shop: Shop,
    run: FlowRun,
    msg: Message,
    defaults: Mapping[str, Any] | None = None,
) -> str | None:
    """The send step's side effect, before rendering: when the flow's settings put a coupon on
    this step, create this message's single-use code on the platform (Shopify discount or
    WooCommerce coupon) for this customer; → the code, or None (no coupon on the step). A
    refusal goes on the shop's last_error (committed with the send) and the email goes out
    without a code rather than not at all."""
    from app.kizuna import kizuna
    from app.services.shop_errors import record_coupon_refusal
    from app.services.shop_tokens import shopify_client
    from app.services.woocommerce_install import woocommerce_client
    from connectors.shopify.consent import customer_gid
    from connectors.shopify.discounts import create_single_use_discount
    from connectors.woocommerce.coupons import create_coupon

    terms = step_terms(session, shop.id, run.flow_key, msg.step, defaults)
    if terms is None:
        return None
    customer = session.get(Customer, run.customer_id)
    if customer is None or not customer.email:
        return None
    runtime = kizuna()
    code = message_coupon_code(runtime.config.secret_key, shop.id, msg.id)
    ends_at = utcnow() + timedelta(days=terms.days)
    percent = terms.value if terms.kind == "percentage" else None
    amount = terms.value if terms.kind == "fixed" else None
    try:
        if shop.platform == "woocommerce":
            with woocommerce_client(runtime, shop) as wc:
                create_coupon(
                    wc,
                    email=customer.email,
                    percent=percent,
                    amount_off=amount,
                    expires_at=ends_at,
                    code=code,
                )
        else:
            with shopify_client(runtime, shop) as client:
                create_single_use_discount(
                    client,
                    customer_gid=customer_gid(customer.external_id),
                    percent=percent,
                    amount_off=amount,
                    ends_at=ends_at,
                    code=code,
                    title=f"Kizuna {run.flow_key} {code}",
                )
    except (ConnectorError, ValueError) as error:
        log.warning("coupon not created message_id=%s error=%s", msg.id, error)
        record_coupon_refusal(shop, run.flow_key, msg.id, error)
        return None
    return code


def _offer(terms: CouponTerms, shop: Shop, lang: str) -> str:
    if terms.kind == "percentage":
        return f"{terms.value.normalize():f}%"
    return format_money(terms.value, shop.currency or "USD", lang)


def with_coupon(
    email: OutgoingEmail,
    shop: Shop,
    terms: CouponTerms,
    code: str,
    lang: str,
    issued_at: datetime | None = None,
) -> OutgoingEmail:
    """`email` with the coupon block (the code, what it takes off, until when: `terms.days`
    from `issued_at`, by default now) in `lang`: in the HTML at the layout's marker (else before
    the sender's footer), in the text before its closing lines."""
    values = {
        "code": code,
        "offer": _offer(terms, shop, lang),
        "until": format_date(
            (issued_at or utcnow()) + timedelta(days=terms.days), shop.timezone, lang
        ),
    }
    with force_locale(lang):
        block_html = render_template("email/_coupon.html", **values)
        block_text = render_template("email/_coupon.txt", **values).strip("\n")
    html = email.html or ""
    if COUPON_MARKER in html:
        html = html.replace(COUPON_MARKER, block_html, 1)
    elif SENDER_FOOTER_MARKER in html:
        html = html.replace(SENDER_FOOTER_MARKER, block_html + SENDER_FOOTER_MARKER, 1)
    else:
        html = html.replace("</body>", block_html + "</body>", 1) if "</body>" in html else html
    text = email.text or ""
    head, separator, tail = text.rpartition("\n--\n")
    text = f"{head}\n\n{block_text}\n{separator}{tail}" if separator else f"{text}\n{block_text}\n"
    return replace(email, html=html, text=text)
