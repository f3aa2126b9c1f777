"""Admin Outbox: `/app/outbox` (the shop's flow and campaign emails, filtered and paged) and
`/app/outbox/<id>` (one email: its HTML and text, its events, its flow run or campaign).

Layer: web (reads only), through `app.services.outbox_reads`, scoped to `g.shop`. The email's
content is the copy the simulated SendGrid accepted when Kizuna sends there (demo, tests);
SendGrid keeps no copy, so with the real one the email is rendered again (`flows.preview`, or
`campaigns.service.render_sent`) with the coupon code its recipient got, never a new one. It is
shown in a sandboxed frame (no scripts, no same-origin) with its unsubscribe link neutralised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from flask import abort, g, render_template, request

from app.admin import bp
from app.auth.guard import admin_required
from app.campaigns import service as campaigns
from app.config import Config
from app.db import utcnow
from app.flows import preview
from app.flows import settings as flow_settings
from app.flows.runs import message_unsubscribe_link
from app.kizuna import db_session, kizuna
from app.models import Shop
from app.request_guards import db_integer
from app.services import outbox_reads
from app.services.outbox_reads import MessageDetail, OutboxFilters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmailContent:
    subject: str
    html: str
    text: str
    source: str  # "sandbox": the copy SendGrid accepted; "rendered": rendered again now


def _uses_sandbox(config: Config) -> bool:
    return not config.sendgrid_api_key and bool(config.sendgrid_sandbox_url)


def _filters() -> OutboxFilters:
    flow = request.args.get("flow") or None
    status = request.args.get("status") or None
    recipient = (request.args.get("to") or "").strip()[: outbox_reads.MAX_RECIPIENT_LENGTH]
    known = (*flow_settings.FLOW_KEYS, outbox_reads.CAMPAIGNS)
    return OutboxFilters(
        flow=flow if flow in known else None,
        status=status if status in outbox_reads.STATUSES else None,
        recipient=recipient,
    )


@bp.get("/outbox")
@admin_required
def outbox():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    filters = _filters()
    page = outbox_reads.outbox_page(
        db_session(),
        g.shop,
        filters,
        before=request.args.get("before", type=db_integer),
        after=request.args.get("after", type=db_integer),
    )
    return render_template(
        "admin/outbox.html",
        page=page,
        rows=page.rows,
        filters=filters,
        flow_keys=flow_settings.FLOW_KEYS,
        campaigns_filter=outbox_reads.CAMPAIGNS,
        statuses=outbox_reads.STATUSES,
        source="sandbox" if _uses_sandbox(kizuna().config) else "messages",
    )


def _sandbox_copy(config: Config, shop: Shop, detail: MessageDetail) -> EmailContent | None:
    """The email as the simulated SendGrid accepted it, when it holds this shop's message."""
    assert config.sendgrid_sandbox_url is not None  # noqa: S101 - _uses_sandbox checked it
    response = httpx.get(
        f"{config.sendgrid_sandbox_url.rstrip('/')}/_sandbox/outbox",
        params={"kizuna_message_id": str(detail.message.id), "limit": 20},
        timeout=5.0,
    )
    response.raise_for_status()
    for item in response.json().get("messages") or ():
        args = item.get("custom_args") or {}
        if str(args.get("kizuna_shop_id", "")) != str(shop.id):
            continue
        link = message_unsubscribe_link(config, shop, detail.customer, detail.message)
        html, text = preview.without_link(item.get("html") or "", item.get("text") or "", link)
        return EmailContent(str(item.get("subject") or ""), html, text, "sandbox")
    return None


def _content(config: Config, shop: Shop, detail: MessageDetail) -> tuple[EmailContent | None, bool]:
    """The email's content, and whether the simulated SendGrid could not be asked."""
    message = detail.message
    if _uses_sandbox(config) and message.status in ("sent", "unknown"):
        try:
            copy = _sandbox_copy(config, shop, detail)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("sandbox outbox unavailable error=%s", type(error).__name__)
            return None, True
        if copy is not None:
            return copy, False
    if detail.customer.redacted_at is not None or detail.customer.deleted_at is not None:
        return None, False
    try:
        if detail.run is not None:
            rendered = preview.render_sent(
                db_session(), config, shop, detail.run, message, detail.customer, utcnow()
            )
            subject, html, text = rendered.subject, rendered.html, rendered.text
        elif detail.campaign is not None:
            email = campaigns.render_sent(
                config, db_session(), shop, detail.campaign, message, detail.customer
            )
            link = message_unsubscribe_link(config, shop, detail.customer, message)
            html, text = preview.without_link(email.html or "", email.text or "", link)
            subject = email.subject
        else:
            return None, False
    except LookupError:  # what the email showed is gone (an order, viewed products)
        return None, False
    return EmailContent(subject, html, text, "rendered"), False


@bp.get("/outbox/<int:message_id>")
@admin_required
def outbox_message(message_id: int):  # type: ignore[no-untyped-def]
    if g.shop is None:
        abort(404)
    session = db_session()
    detail = outbox_reads.message_detail(session, g.shop, message_id)
    if detail is None:
        abort(404)
    content, unavailable = _content(kizuna().config, g.shop, detail)
    return render_template(
        "admin/outbox_message.html",
        detail=detail,
        message=detail.message,
        run=detail.run,
        campaign=detail.campaign,
        customer=detail.customer,
        events=detail.events,
        run_messages=(outbox_reads.run_messages(session, g.shop, detail.run) if detail.run else []),
        content=content,
        sandbox_unavailable=unavailable,
    )
