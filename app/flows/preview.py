"""The admin preview of a flow: every step rendered for one real customer, and what
`rules.decide` would answer were it due now; and a sent message rendered again for the Outbox.

Layer: services, reads only: runs and messages are unsaved objects, nothing is stored and no
discount code is created (a coupon step shows `coupons.SAMPLE_CODE`, a sent message the code
stored on it at send); the unsubscribe link is neutralised here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import escape
from sqlalchemy.orm import Session

from app.config import Config
from app.flows import registry
from app.flows.content import language
from app.flows.coupons import SAMPLE_CODE, step_terms, with_coupon
from app.flows.definition import PreviewTarget
from app.flows.facts import FactSet
from app.flows.rules import Decision, decide
from app.flows.runs import message_unsubscribe_link
from app.models import Customer, Shop
from app.models.flow import FlowRun, Message
from app.services.unsubscribe import make_token, unsubscribe_url

CANDIDATES = 20


@dataclass(frozen=True)
class StepPreview:
    step: int
    subject: str
    html: str
    text: str


def live_customers() -> Any:
    return (Customer.deleted_at.is_(None)) & (Customer.redacted_at.is_(None))


def preview_candidates(
    session: Session, shop: Shop, key: str, limit: int = CANDIDATES
) -> list[Customer]:
    """Customers the flow's preview can be shown for (its definition's `preview_query`: an
    open checkout for the cart flow, an order for win-back, …), latest first."""
    statement = (
        registry.get(key)
        .preview_query(shop)
        .where(Customer.shop_id == shop.id, live_customers())
        .limit(limit * 3)
    )
    seen: set[int] = set()
    found: list[Customer] = []
    for customer in session.scalars(statement):
        if customer.id not in seen:
            seen.add(customer.id)
            found.append(customer)
    return found[:limit]


def preview_target(
    session: Session, shop: Shop, key: str, customer: Customer
) -> PreviewTarget | None:
    """What the flow's run would be for this customer (None: nothing to start one from)."""
    return registry.get(key).preview_target(session, shop, customer)


def _unsaved_run(shop: Shop, key: str, target: PreviewTarget, now: datetime) -> FlowRun:
    return FlowRun(
        id=0, shop_id=shop.id, flow_key=key, customer_id=target.customer.id,
        trigger_key=target.trigger_key, status="running", started_at=now,
    )  # fmt: skip


def render_previews(
    session: Session, config: Config, shop: Shop, key: str, target: PreviewTarget, now: datetime
) -> list[StepPreview]:
    """Every step as the sender renders it for this target, the unsubscribe link replaced by
    `#`; nothing is stored."""
    definition = registry.get(key)
    customer = target.customer
    lang = language(customer, shop)
    link = unsubscribe_url(config.app_url, make_token(config.secret_key, shop.id, customer.id, 0))
    previews = []
    with session.no_autoflush:
        for step in range(1, definition.form.steps + 1):
            run = _unsaved_run(shop, key, target, now)
            msg = Message(id=0, shop_id=shop.id, flow_run_id=0, step=step, customer_id=customer.id)
            email = definition.render(
                config, session, shop, customer, run, msg, lang, now, discount_code=None
            )
            coupon = (
                None
                if definition.create_code
                else step_terms(session, shop.id, key, step, definition.form.defaults)
            )
            if coupon is not None:  # a sample: the preview creates no code
                email = with_coupon(email, shop, coupon, SAMPLE_CODE, lang)
            html, text = without_link(email.html or "", email.text or "", link)
            previews.append(StepPreview(step, email.subject, html, text))
    return previews


def without_link(html: str, text: str, link: str) -> tuple[str, str]:
    """The email's HTML and text with `link` (its unsubscribe link) replaced by `#`."""
    return html.replace(str(escape(link)), "#").replace(link, "#"), text.replace(link, "#")


def render_sent(
    session: Session,
    config: Config,
    shop: Shop,
    run: FlowRun,
    msg: Message,
    customer: Customer,
    now: datetime,
) -> StepPreview:
    """A message's email rendered again as the sender renders it, for the Outbox when no copy
    of the sent email exists (SendGrid keeps none): today's content with the code the send
    stored on the message (the cart's discount, or the coupon step's block while the flow
    still has that step), none created; the unsubscribe link is neutralised; nothing is
    stored."""
    definition = registry.get(run.flow_key)
    lang = language(customer, shop)
    code = msg.coupon_code
    with session.no_autoflush:
        email = definition.render(
            config, session, shop, customer, run, msg, lang, now,
            discount_code=code if definition.create_code is not None else None,
        )  # fmt: skip
        coupon = (
            step_terms(session, shop.id, run.flow_key, msg.step, definition.form.defaults)
            if code and definition.create_code is None
            else None
        )
    if coupon is not None and code:
        email = with_coupon(email, shop, coupon, code, lang, issued_at=msg.sent_at)
    link = message_unsubscribe_link(config, shop, customer, msg)
    html, text = without_link(email.html or "", email.text or "", link)
    return StepPreview(msg.step, email.subject, html, text)


def preview_decision(
    session: Session, shop: Shop, key: str, target: PreviewTarget, now: datetime
) -> Decision:
    """`rules.decide` for this target were its email due `now`: the send's facts and function."""
    run = _unsaved_run(shop, key, target, now)
    with session.no_autoflush:
        return decide(FactSet(session, shop.id, key, [run], now).facts(run), now)
