"""Admin campaigns (`/app/campaigns`): the list, the block editor with its live preview and
audience count, the test send, review and schedule, pause, resume and cancel, and the report.

Layer: web. Reads and writes go through `app.campaigns` (content, audience, service, report),
every one scoped to `g.shop`; the service commits. The owner and staff alike may edit, test,
schedule and stop campaigns, as they run flows. The editor is a plain form whose fields are
named by language and block (`ja-2-text`), so it saves and edits without JavaScript;
`static/admin/campaign-editor.js` adds blocks in place and posts the same form to the preview
and count endpoints (relative fetches: the session token rides on each when embedded).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort, g, jsonify, redirect, render_template, request
from flask_babel import gettext
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from app import formatting
from app.admin import bp
from app.admin.helpers import admin_url, number
from app.auth.csrf import csrf_protect
from app.auth.guard import admin_required
from app.campaigns import audience as campaign_audience
from app.campaigns import content as campaign_content
from app.campaigns import report as campaign_report
from app.campaigns import service
from app.charts import Bar, bar_chart
from app.domain.campaigns import MAX_HOLDOUT_PERCENT
from app.domain.rfm import GROUP_KEYS
from app.domain.segment_rules import RuleError
from app.flows.preview import without_link
from app.i18n import current_language, group_label
from app.kizuna import db_session, kizuna
from app.models import Customer, Product, Shop
from app.models.campaign import Campaign
from app.models.flow import Message, MessageEvent
from app.services import catalog_search, customer_reads, segments
from app.services.sender_identity import identity_of
from connectors.email_address import is_email_address

log = logging.getLogger(__name__)

LANGUAGES = campaign_content.LANGUAGES
EDITABLE = ("draft", "scheduled")
MAX_FORM_BLOCKS = 2 * campaign_content.MAX_BLOCKS  # parsed per language; more is refused
MAX_PRODUCT_IDS = 4 * campaign_content.MAX_PRODUCTS
MAX_HOURS = campaign_audience.MAX_SMART_SENDING_HOURS
MAX_HOLDOUT = MAX_HOLDOUT_PERCENT
CUSTOMER_RESULTS = 10
MAX_AUDIENCE_CHOICES = 200
REPORTED_ON_LIST = 10  # campaigns whose numbers the list shows (newest first)
HOURLY_CHART_HOURS = 72  # longer than this, the chart shows days
MIN_HOURLY_BARS = 12
_BLOCK_FIELD = re.compile(r"^(en|ja)-(\d{1,3})-(type|text|url|alt|link|label|mode|count|products)$")
_ACTION = re.compile(r"^(add|remove|up|down):(en|ja):([a-z]+|\d{1,3})$")
NEW_BLOCKS: dict[str, dict[str, Any]] = {
    "heading": {"type": "heading", "text": ""},
    "text": {"type": "text", "text": ""},
    "image": {"type": "image", "url": "", "alt": "", "link": ""},
    "button": {"type": "button", "label": "", "url": ""},
    "divider": {"type": "divider"},
    "products": {"type": "products", "mode": "recommended", "product_ids": [], "count": 3},
    "coupon": {"type": "coupon"},
}


class FormProblem(ValueError):
    """A posted value the page cannot take; `field` names the input, `message` says why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


# --- the editor's form ↔ the campaign's fields -------------------------------------------------


def _whole(raw: str, low: int, high: int, field_name: str, message: str) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise FormProblem(field_name, message)
    return int(text)


def _number_or_text(raw: str) -> Any:
    """A number as posted: int or float when it reads as one, else the text (the content's
    validation names the problem)."""
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def content_from_form(form: Mapping[str, str] | MultiDict[str, str]) -> dict[str, Any]:
    """The editor's fields → content JSON, as posted (`validate_content` judges it)."""
    blocks: dict[str, dict[int, dict[str, Any]]] = {lang: {} for lang in LANGUAGES}
    for key in form:
        found = _BLOCK_FIELD.match(key)
        if not found:
            continue
        lang, index, name = found.group(1), int(found.group(2)), found.group(3)
        if index >= MAX_FORM_BLOCKS:
            raise FormProblem("content", gettext("The email has too many blocks."))
        value = str(form.get(key) or "")
        block = blocks[lang].setdefault(index, {})
        if name == "products":
            ids = [part.strip() for part in value.split(",") if part.strip()]
            block["product_ids"] = ids[:MAX_PRODUCT_IDS]
        elif name == "count":
            block["count"] = _number_or_text(value)
        else:
            block[name] = value
    content: dict[str, Any] = {"coupon": None}
    for lang in LANGUAGES:
        content[lang] = {
            "subject": str(form.get(f"{lang}-subject") or ""),
            "preheader": str(form.get(f"{lang}-preheader") or ""),
            "blocks": [_only_its_fields(blocks[lang][i]) for i in sorted(blocks[lang])],
        }
    if form.get("coupon") == "1":
        content["coupon"] = {
            "kind": str(form.get("coupon_kind") or ""),
            "value": _number_or_text(str(form.get("coupon_value") or "")),
            "expires_days": _number_or_text(str(form.get("coupon_expires_days") or "")),
        }
    return content


def _only_its_fields(block: dict[str, Any]) -> dict[str, Any]:
    """A posted block with only the fields of its type (hidden inputs of others dropped)."""
    kind = block.get("type", "")
    template = NEW_BLOCKS.get(kind)
    if template is None:
        return {"type": kind}
    return {name: block.get(name, default) for name, default in template.items()} | {"type": kind}


def audience_from_form(form: Mapping[str, Any] | MultiDict[str, str]) -> dict[str, Any]:
    getlist = getattr(form, "getlist", None)
    segment_values = getlist("segment") if getlist else []
    group_values = getlist("rfm_group") if getlist else []
    segment_ids = []
    if len(segment_values) > MAX_AUDIENCE_CHOICES or len(group_values) > MAX_AUDIENCE_CHOICES:
        raise FormProblem("audience", gettext("Too many audiences are chosen."))
    for value in segment_values:
        if not (value.isascii() and value.isdigit()) or len(value) > 10:
            raise FormProblem("audience", gettext("Choose saved segments of this store."))
        segment_ids.append(int(value))
    groups = []
    for value in group_values:
        if value not in GROUP_KEYS:
            raise FormProblem("audience", gettext("Choose RFM groups from the list."))
        groups.append(value)
    return {"segments": sorted(set(segment_ids)), "rfm_groups": sorted(set(groups))}


def sending_options(form: Mapping[str, Any]) -> tuple[int | None, int]:
    """(smart sending hours or None when off, holdout percent) from the posted form."""
    hours: int | None = None
    if form.get("smart_sending") == "1":
        hours = _whole(
            str(form.get("smart_sending_hours") or ""),
            1,
            MAX_HOURS,
            "smart_sending_hours",
            gettext(
                "Smart sending takes a whole number of hours from 1 to %(max)s.", max=MAX_HOURS
            ),
        )
    holdout = _whole(
        str(form.get("holdout_percent") or "0"),
        0,
        MAX_HOLDOUT,
        "holdout_percent",
        gettext("The holdout is a whole percentage from 0 to %(max)s.", max=MAX_HOLDOUT),
    )
    return hours, holdout


@dataclass
class Draft:
    """The editor's values: a saved campaign's, or what was posted."""

    name: str
    audience: dict[str, Any]
    content: dict[str, Any]
    smart_sending_hours: int | None
    holdout_percent: int
    raw_hours: str = ""
    raw_holdout: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    stored: dict[str, Any] | None = None  # the content as saved (platform product ids)

    @classmethod
    def of(cls, session: Session, shop: Shop, campaign: Campaign | None) -> Draft:
        if campaign is None:
            return cls(
                "", {"segments": [], "rfm_groups": []}, campaign_content.empty_content(), 24, 0
            )
        content = campaign.content or campaign_content.empty_content()
        return cls(
            campaign.name,
            dict(campaign.audience or {}),
            with_product_ids(session, shop, content, to_platform=False),
            campaign.smart_sending_hours,
            campaign.holdout_percent or 0,
        )


def with_product_ids(
    session: Session, shop: Shop, content: Mapping[str, Any], *, to_platform: bool
) -> dict[str, Any]:
    """A copy of `content` whose product grids name their products the other way: the picker's
    Kizuna ids (`/app/segments/values`) → the platform ids the campaign stores (`to_platform`),
    or back. Ids that are not this shop's products are refused going in, dropped coming out."""
    copied = json.loads(json.dumps(content))
    grids = [
        block
        for lang in LANGUAGES
        for block in (copied.get(lang) or {}).get("blocks") or []
        if isinstance(block, dict)
        and block.get("type") == "products"
        and isinstance(block.get("product_ids"), list)
    ]
    wanted = {str(pid) for block in grids for pid in block["product_ids"]}
    if not wanted:
        return copied
    if to_platform:
        ids = {int(pid) for pid in wanted if pid.isascii() and pid.isdigit() and len(pid) < 10}
        if len(ids) != len(wanted):
            raise FormProblem("content", gettext("Choose products of this store."))
        rows = session.execute(
            select(Product.id, Product.external_id).where(
                Product.shop_id == shop.id, Product.id.in_(ids)
            )
        ).all()
        mapping = {str(pid): external for pid, external in rows}
        if len(mapping) != len(wanted):
            raise FormProblem("content", gettext("Choose products of this store."))
    else:
        rows = session.execute(
            select(Product.id, Product.external_id).where(
                Product.shop_id == shop.id, Product.external_id.in_(sorted(wanted))
            )
        ).all()
        mapping = {external: str(pid) for pid, external in rows}
    for block in grids:
        block["product_ids"] = [
            mapping[str(pid)] for pid in block["product_ids"] if str(pid) in mapping
        ]
    return copied


def draft_from_form(session: Session, shop: Shop, form: MultiDict[str, str]) -> Draft:
    """The posted editor: its values as typed (to show again) and the problems found."""
    errors: dict[str, str] = {}
    name = " ".join(str(form.get("name") or "").split())
    if not name:
        errors["name"] = gettext("Give the campaign a name (only you see it).")
    elif len(name) > 200:
        errors["name"] = gettext("The name is longer than %(max)s characters.", max=200)
    audience: dict[str, Any] = {"segments": [], "rfm_groups": []}
    try:
        audience = audience_from_form(form)
        if audience["segments"] or audience["rfm_groups"]:  # a draft may have none yet
            audience = campaign_audience.validate_audience(session, shop, audience)
    except FormProblem as problem:
        errors[problem.field] = problem.message
    except campaign_audience.AudienceError as problem:
        errors["audience"] = str(problem.message)
    content: dict[str, Any] = campaign_content.empty_content()
    stored: dict[str, Any] | None = None
    try:
        content = content_from_form(form)
        stored = campaign_content.validate_content(
            with_product_ids(session, shop, content, to_platform=True)
        )
    except FormProblem as problem:
        errors[problem.field] = problem.message
    except campaign_content.ContentError as problem:
        errors["content"] = str(problem.message)
    hours: int | None = None
    holdout = 0
    try:
        hours, holdout = sending_options(form)
    except FormProblem as problem:
        errors[problem.field] = problem.message
    return Draft(
        name,
        audience,
        content,
        hours,
        holdout,
        raw_hours=str(form.get("smart_sending_hours") or ""),
        raw_holdout=str(form.get("holdout_percent") or ""),
        errors=errors,
        stored=stored,
    )


def apply_action(content: dict[str, Any], action: str) -> dict[str, Any]:
    """The no-JavaScript buttons: add a block, remove one, move one up or down."""
    found = _ACTION.match(action or "")
    if not found:
        return content
    verb, lang, what = found.groups()
    blocks: list[Any] = content.setdefault(lang, {}).setdefault("blocks", [])
    if verb == "add":
        if what in NEW_BLOCKS and len(blocks) < campaign_content.MAX_BLOCKS:
            blocks.append(dict(NEW_BLOCKS[what]))
        return content
    if not what.isdigit() or int(what) >= len(blocks):
        return content
    index = int(what)
    if verb == "remove":
        del blocks[index]
    elif verb == "up" and index > 0:
        blocks[index - 1], blocks[index] = blocks[index], blocks[index - 1]
    elif verb == "down" and index + 1 < len(blocks):
        blocks[index + 1], blocks[index] = blocks[index], blocks[index + 1]
    return content


# --- what the pages show -----------------------------------------------------------------------


def _campaign_or_404(session: Session, campaign_id: int) -> Campaign:
    campaign = service.get(session, g.shop, campaign_id) if g.shop is not None else None
    if campaign is None:
        abort(404)
    return campaign


def audience_choices(session: Session, shop: Shop) -> dict[str, list[tuple[str, str]]]:
    """The saved segments and RFM groups one may send to, (value, name)."""
    language = current_language()
    return {
        "segments": [(str(s.id), s.name) for s in segments.list_segments(session, shop.id)],
        "rfm_groups": [(key, group_label(key, language)) for key in GROUP_KEYS],
    }


def audience_text(audience: Mapping[str, Any], choices: Mapping[str, list[tuple[str, str]]]) -> str:
    """ "VIP · Champions": the audience's names, in the page's language."""
    segment_names = dict(choices["segments"])
    group_names = dict(choices["rfm_groups"])
    names = [
        segment_names.get(str(sid), gettext("(deleted segment)"))
        for sid in audience.get("segments") or []
    ]
    names += [group_names.get(key, key) for key in audience.get("rfm_groups") or []]
    return " · ".join(names) if names else gettext("No audience yet")


# AudienceCount's fields in the rules' order: the audience, who each rule leaves out, who remains.
COUNT_ROWS = (
    "total",
    "no_consent",
    "suppressed",
    "complaint_open",
    "smart_sending",
    "frequency_cap",
    "holdout",
    "will_receive",
)


def count_rows(counted: Any) -> list[dict[str, Any]]:
    """The audience count's lines: key, label, number and its text."""
    labels = {
        "total": gettext("In the audience"),
        "no_consent": gettext("No email marketing consent"),
        "suppressed": gettext("Suppressed (bounced, complained, unsubscribed)"),
        "complaint_open": gettext("Has an open complaint"),
        "frequency_cap": gettext("Emailed too often lately (frequency cap)"),
        "smart_sending": gettext("Emailed within the smart sending window"),
        "holdout": gettext("Held out to measure lift"),
        "will_receive": gettext("Will receive the email"),
    }
    rows = []
    for key in COUNT_ROWS:
        value = int(getattr(counted, key, 0) or 0) if counted is not None else None
        rows.append(
            {
                "key": key,
                "label": labels[key],
                "count": value,
                "text": number(value) if value is not None else "—",
                "excluded": key not in ("total", "will_receive"),
            }
        )
    return rows


def audience_count(session: Session, shop: Shop, draft: Draft) -> tuple[list[dict[str, Any]], str]:
    """The editor's count lines, and why there are none when the audience cannot be counted."""
    if draft.errors.get("audience"):
        return count_rows(None), ""
    if not draft.audience.get("segments") and not draft.audience.get("rfm_groups"):
        return count_rows(campaign_audience.AudienceCount()), ""
    try:
        counted = campaign_audience.count(
            session,
            shop,
            draft.audience,
            datetime.now(UTC),
            smart_sending_hours=draft.smart_sending_hours,
            holdout_percent=draft.holdout_percent,
        )
    except RuleError as error:  # a segment saved under older bounds: it cannot be counted
        session.rollback()
        return count_rows(None), unavailable_text(error)
    return count_rows(counted), ""


def unavailable_text(error: RuleError) -> str:
    """ "A chosen segment can't be evaluated: <reason>" in the page's language."""
    reason = segments.unavailable_text(current_language(), error.problems)
    return gettext("A chosen segment can't be evaluated: %(reason)s", reason=reason)


def product_labels(session: Session, shop: Shop, content: Mapping[str, Any]) -> dict[str, str]:
    """Kizuna product id → title, for the chosen products the content names."""
    ids = {
        int(pid)
        for lang in LANGUAGES
        for block in (content.get(lang) or {}).get("blocks") or []
        if isinstance(block, Mapping) and block.get("type") == "products"
        for pid in block.get("product_ids") or []
        if str(pid).isascii() and str(pid).isdigit() and len(str(pid)) < 10
    }
    return catalog_search.product_titles(session, shop, ids)


def sample_customer(session: Session, shop: Shop) -> Customer:
    """Who the preview shows the email to until another customer is picked: the one a test send
    addresses (the newest named customer, else an unsaved stand-in)."""
    return service.sample_customer(session, shop, current_language())


def local_input_value(value: datetime | None, shop: Shop) -> str:
    """An aware time as the `datetime-local` input's value in the shop's zone."""
    if value is None:
        return ""
    return formatting.to_local(value, shop.timezone).strftime("%Y-%m-%dT%H:%M")


def editor_text() -> dict[str, str]:
    """The strings the editor's script shows, in the page's language."""
    return {
        "heading": gettext("Heading"),
        "text": gettext("Text"),
        "image": gettext("Image"),
        "button": gettext("Button"),
        "divider": gettext("Divider"),
        "products": gettext("Product grid"),
        "coupon": gettext("Coupon"),
        "no_results": gettext("Nothing found"),
        "preview_failed": gettext("The preview could not be updated."),
        "count_failed": gettext("The count could not be updated."),
        "remove": gettext("Remove"),
    }


def _editor_page(
    campaign: Campaign | None, draft: Draft, status: int = 200, *, saved_anyway: bool = False
) -> Any:
    session = db_session()
    shop = g.shop
    choices = audience_choices(session, shop)
    customer = sample_customer(session, shop)
    identity = identity_of(shop)
    ready = campaign_content.ready_problem(draft.content) if campaign is not None else None
    counts, count_problem = audience_count(session, shop, draft)
    page = render_template(
        "admin/campaigns/edit.html",
        campaign=campaign,
        draft=draft,
        errors=draft.errors,
        choices=choices,
        counts=counts,
        count_problem=count_problem,
        product_labels=product_labels(session, shop, draft.content),
        preview_customer=customer,
        test_address=request.form.get("test_email") or (identity.reply_to if identity else ""),
        languages=sorted(LANGUAGES, key=lambda lang: lang != current_language()),
        block_types=list(NEW_BLOCKS),
        coupon_kinds=campaign_content.COUPON_KINDS,
        max_blocks=campaign_content.MAX_BLOCKS,
        max_products=campaign_content.MAX_PRODUCTS,
        max_hours=MAX_HOURS,
        max_holdout=MAX_HOLDOUT,
        editor_text=editor_text(),
        saved=request.args.get("saved") == "1" and not draft.errors,
        saved_anyway=saved_anyway,
        tested=request.args.get("tested") if not draft.errors else None,
        ready_problem=str(ready) if ready is not None else "",
        currency_sign=formatting.currency_symbol(shop.currency, current_language()),
        scheduled_local=(
            _when_text(campaign.scheduled_at, shop) if campaign and campaign.scheduled_at else ""
        ),
    )
    session.rollback()  # the page only read
    return page, status


def _when_text(value: datetime | None, shop: Shop) -> str:
    return formatting.format_datetime(value, shop.timezone, current_language())


STATUS_TONES = {
    "draft": "neutral",
    "scheduled": "info",
    "sending": "attention",
    "paused": "warning",
    "cancelled": "critical",
    "sent": "success",
}


def campaign_status(status: str) -> str:
    """A campaign's status in the page's language."""
    return {
        "draft": gettext("Draft"),
        "scheduled": gettext("Scheduled"),
        "sending": gettext("Sending"),
        "paused": gettext("Paused"),
        "cancelled": gettext("Cancelled"),
        "sent": gettext("Sent"),
    }.get(status, status)


def skip_reason(reason: str) -> str:
    """Why recipients were not emailed, in the page's language."""
    return {
        "no_consent": gettext("No email marketing consent"),
        "suppressed": gettext("Suppressed (bounced, complained, unsubscribed)"),
        "complaint_open": gettext("Has an open complaint"),
        "frequency_cap": gettext("Emailed too often lately (frequency cap)"),
        "smart_sending": gettext("Emailed within the smart sending window"),
        "customer_gone": gettext("Customer deleted or erased"),
        "no_email": gettext("No email address"),
    }.get(reason, reason.replace("_", " "))


bp.add_app_template_global(campaign_status, "campaign_status")
bp.add_app_template_global(skip_reason, "campaign_skip_reason")
bp.add_app_template_global(lambda status: STATUS_TONES.get(status, "neutral"), "campaign_tone")


# --- pages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListRow:
    campaign: Campaign
    audience: str
    when: str
    report: Any


@bp.get("/campaigns")
@admin_required
def campaigns():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    session = db_session()
    choices = audience_choices(session, g.shop)
    rows = []
    reported = 0
    for campaign in service.list_campaigns(session, g.shop):
        report = None
        # A report reads every email of its campaign: the list shows the latest few.
        if campaign.status not in ("draft", "scheduled") and reported < REPORTED_ON_LIST:
            report = campaign_report.campaign_report(session, g.shop, campaign.id)
            reported += 1
        when = campaign.finished_at or campaign.started_at or campaign.scheduled_at
        rows.append(
            ListRow(
                campaign,
                audience_text(campaign.audience or {}, choices),
                _when_text(when, g.shop) if when else "",
                report,
            )
        )
    session.rollback()
    return render_template("admin/campaigns/list.html", rows=rows)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@admin_required
@csrf_protect
def campaign_new():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    if request.method == "GET":
        return _editor_page(None, Draft.of(db_session(), g.shop, None))
    return _save_editor(None)


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
@admin_required
@csrf_protect
def campaign_edit(campaign_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    campaign = _campaign_or_404(session, campaign_id)
    if request.method == "GET" and campaign.status not in EDITABLE:
        return _report_page(campaign, "", 200)  # once it has started, its page is its report
    if request.method == "GET":
        return _editor_page(campaign, Draft.of(session, g.shop, campaign))
    return _save_editor(campaign)


def _save_editor(campaign: Campaign | None) -> Any:
    session = db_session()
    shop = g.shop
    draft = draft_from_form(session, shop, request.form)
    action = request.form.get("action", "save")
    if _ACTION.match(action):
        # A no-JavaScript edit of the blocks: shown again, nothing saved.
        content = apply_action(content_from_form_safe(request.form), action)
        draft.content = content
        draft.errors.pop("content", None)
        return _editor_page(campaign, draft)
    test_to = ""
    if action == "test":
        test_to = " ".join(str(request.form.get("test_email") or "").split())
        if not is_email_address(test_to) or len(test_to) > 254:
            draft.errors["test_email"] = gettext("Enter the email address to send the test to.")
    if draft.errors:
        session.rollback()
        return _editor_page(campaign, draft, 400)
    fields = {
        "name": draft.name,
        "audience": draft.audience,
        "content": draft.stored,
        "smart_sending_hours": draft.smart_sending_hours,
        "holdout_percent": draft.holdout_percent,
    }
    try:
        if campaign is None:
            campaign = service.create(session, shop, **fields)
        else:
            campaign = service.update(session, shop, campaign.id, **fields)
    except service.CampaignError as problem:
        session.rollback()
        draft.errors["campaign"] = str(problem.message)
        return _editor_page(campaign, draft, 409 if campaign is not None else 400)
    log.info("campaign saved shop_id=%s campaign_id=%s", shop.id, campaign.id)
    if action == "test":
        lang = request.form.get("test_lang")
        lang = lang if lang in LANGUAGES else current_language()
        try:
            outcome = service.send_test(kizuna().config, session, shop, campaign.id, lang, test_to)
        except service.CampaignError as problem:
            session.rollback()
            draft.errors["test_email"] = str(problem.message)
            return _editor_page(campaign, draft, 400, saved_anyway=True)
        log.info(
            "campaign test sent shop_id=%s campaign_id=%s outcome=%s", shop.id, campaign.id, outcome
        )
        return redirect(
            admin_url("admin.campaign_edit", campaign_id=campaign.id, tested=_outcome_code(outcome))
            + "#test-send"
        )
    if action == "review":
        return redirect(admin_url("admin.campaign_review", campaign_id=campaign.id))
    return redirect(admin_url("admin.campaign_edit", campaign_id=campaign.id, saved="1"))


def _outcome_code(outcome: str) -> str:
    return outcome if re.fullmatch(r"[a-z_]{1,40}", outcome or "") else "failed"


def content_from_form_safe(form: MultiDict[str, str]) -> dict[str, Any]:
    try:
        return content_from_form(form)
    except FormProblem:
        return campaign_content.empty_content()


@bp.route("/campaigns/<int:campaign_id>/review", methods=["GET"])
@admin_required
def campaign_review(campaign_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    campaign = _campaign_or_404(session, campaign_id)
    return _review_page(campaign, {}, "now", local_input_value(campaign.scheduled_at, g.shop))


def _review_page(campaign: Campaign, errors: dict[str, str], when: str, send_at: str) -> Any:
    session = db_session()
    shop = g.shop
    choices = audience_choices(session, shop)
    try:
        counted = campaign_audience.count(session, shop, campaign, datetime.now(UTC))
        problem = campaign_content.ready_problem(campaign.content or {})
    except RuleError as error:
        session.rollback()
        counted = campaign_audience.AudienceCount()
        problem = unavailable_text(error)
    if campaign.status not in EDITABLE:
        problem = gettext("This campaign has already started sending or was cancelled.")
    if not (campaign.audience or {}).get("segments") and not (campaign.audience or {}).get(
        "rfm_groups"
    ):
        problem = problem or gettext("Choose who receives the campaign.")
    soon = formatting.to_local(datetime.now(UTC) + timedelta(hours=1), shop.timezone)
    page = render_template(
        "admin/campaigns/review.html",
        campaign=campaign,
        audience=audience_text(campaign.audience or {}, choices),
        counts=count_rows(counted),
        will_receive=int(counted.will_receive),
        problem=str(problem) if problem else "",
        errors=errors,
        when=when,
        send_at=send_at or soon.strftime("%Y-%m-%dT%H:00"),
        min_send_at=formatting.to_local(datetime.now(UTC), shop.timezone).strftime(
            "%Y-%m-%dT%H:%M"
        ),
        timezone=shop.timezone,
        languages=campaign_content.sendable_languages(campaign.content or {}),
        coupon_text=campaign_content.coupon_terms_text(
            (campaign.content or {}).get("coupon"), shop.currency, current_language()
        ),
        scheduled_local=_when_text(campaign.scheduled_at, shop) if campaign.scheduled_at else "",
    )
    session.rollback()
    return page, 400 if errors else 200


def parse_local_time(raw: str, shop: Shop) -> datetime | None:
    """`2026-12-24T10:00` (the shop's local time) → aware UTC; None when not a time."""
    try:
        naive = datetime.strptime(raw.strip(), "%Y-%m-%dT%H:%M")  # noqa: DTZ007 - local, zoned below
    except ValueError:
        return None
    return naive.replace(tzinfo=formatting.zone(shop.timezone)).astimezone(UTC)


@bp.post("/campaigns/<int:campaign_id>/schedule")
@admin_required
@csrf_protect
def campaign_schedule(campaign_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    shop = g.shop
    campaign = _campaign_or_404(session, campaign_id)
    when = request.form.get("when", "")
    raw_time = str(request.form.get("send_at") or "")[:40]
    if when not in ("now", "later"):
        return _review_page(
            campaign, {"when": gettext("Choose to send now or at a set time.")}, "now", raw_time
        )
    send_at: datetime | None = None
    if when == "later":
        send_at = parse_local_time(raw_time, shop)
        if send_at is None:
            return _review_page(
                campaign,
                {"send_at": gettext("Enter the date and time to send at.")},
                when,
                raw_time,
            )
        if send_at <= datetime.now(UTC) + timedelta(minutes=1):
            return _review_page(
                campaign, {"send_at": gettext("Choose a time in the future.")}, when, raw_time
            )
    try:
        campaign = service.schedule(session, shop, campaign.id, send_at)
    except service.CampaignError as problem:
        session.rollback()
        return _review_page(campaign, {"when": str(problem.message)}, when, raw_time)
    log.info(
        "campaign scheduled shop_id=%s campaign_id=%s now=%s", shop.id, campaign.id, send_at is None
    )
    return redirect(admin_url("admin.campaign_report", campaign_id=campaign.id, scheduled="1"))


def _control(campaign_id: int, action: str) -> Any:
    session = db_session()
    shop = g.shop
    campaign = _campaign_or_404(session, campaign_id)
    act = {
        "pause": service.pause,
        "resume": service.resume,
        "cancel": service.cancel,
        "unschedule": service.unschedule,
    }[action]
    try:
        act(session, shop, campaign.id)
    except service.CampaignError as problem:
        session.rollback()
        return _report_page(campaign, str(problem.message), 409)
    log.info("campaign %s shop_id=%s campaign_id=%s", action, shop.id, campaign.id)
    if action == "unschedule":
        return redirect(admin_url("admin.campaign_edit", campaign_id=campaign.id))
    return redirect(admin_url("admin.campaign_report", campaign_id=campaign.id, done=action))


@bp.post("/campaigns/<int:campaign_id>/pause")
@admin_required
@csrf_protect
def campaign_pause(campaign_id: int):  # type: ignore[no-untyped-def]
    return _control(campaign_id, "pause")


@bp.post("/campaigns/<int:campaign_id>/resume")
@admin_required
@csrf_protect
def campaign_resume(campaign_id: int):  # type: ignore[no-untyped-def]
    return _control(campaign_id, "resume")


@bp.post("/campaigns/<int:campaign_id>/unschedule")
@admin_required
@csrf_protect
def campaign_unschedule(campaign_id: int):  # type: ignore[no-untyped-def]
    return _control(campaign_id, "unschedule")


@bp.post("/campaigns/<int:campaign_id>/cancel")
@admin_required
@csrf_protect
def campaign_cancel(campaign_id: int):  # type: ignore[no-untyped-def]
    return _control(campaign_id, "cancel")


@bp.get("/campaigns/<int:campaign_id>/report", endpoint="campaign_report")
@admin_required
def campaign_report_page(campaign_id: int):  # type: ignore[no-untyped-def]
    campaign = _campaign_or_404(db_session(), campaign_id)
    return _report_page(campaign, "", 200)


def percent(part: int | None, whole: int | None) -> str:
    """`part` of `whole` as "12.5%" ("—" of nothing)."""
    if not whole or part is None:
        return "—"
    return f"{100 * part / whole:.1f}%"


def signed_points(share: float) -> str:
    """A difference of two shares in percentage points: "+1.2"."""
    return f"{share * 100:+.1f}"


def lift_text(report: Any) -> str:
    if report.lift is None:
        return ""
    if report.lift_low is None or report.lift_high is None:
        return gettext("%(lift)s points", lift=signed_points(report.lift))
    return gettext(
        "%(lift)s points (95%% interval %(low)s to %(high)s)",
        lift=signed_points(report.lift),
        low=signed_points(report.lift_low),
        high=signed_points(report.lift_high),
    )


@dataclass(frozen=True)
class Engagement:
    """Opens and clicks in one bar of the chart: an hour, or a day in the shop's zone."""

    label: str
    opens: int
    clicks: int


def hourly_engagement(
    session: Session, shop: Shop, campaign: Campaign
) -> dict[datetime, tuple[int, int]]:
    """UTC hour → (emails opened, emails clicked) in that hour, for the campaign's emails."""
    if session.get_bind().dialect.name == "postgresql":
        hour: Any = func.date_trunc("hour", MessageEvent.occurred_at)
    else:
        hour = func.strftime("%Y-%m-%d %H:00:00", MessageEvent.occurred_at)
    rows = session.execute(
        select(hour, MessageEvent.event, func.count(distinct(MessageEvent.message_id)))
        .join(Message, Message.id == MessageEvent.message_id)
        .where(
            MessageEvent.shop_id == shop.id,
            Message.shop_id == shop.id,
            Message.campaign_id == campaign.id,
            MessageEvent.event.in_(("open", "click")),
        )
        .group_by(hour, MessageEvent.event)
    ).all()
    found: dict[datetime, tuple[int, int]] = {}
    for raw, event, count in rows:
        when = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        opens, clicks = found.get(when, (0, 0))
        found[when] = (
            (opens + int(count), clicks) if event == "open" else (opens, clicks + int(count))
        )
    return found


def engagement_series(
    hourly: Mapping[datetime, tuple[int, int]], timezone: str, now: datetime | None = None
) -> list[Engagement]:
    """The chart's bars: every hour from the first event to the last (gaps as zero; at least
    `MIN_HOURLY_BARS` hours when `now` allows), or every day in the shop's zone when that is
    more than three days."""
    if not hourly:
        return []
    first, last = min(hourly), max(hourly)
    if now is not None:
        current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        last = max(last, min(first + timedelta(hours=MIN_HOURLY_BARS - 1), current))
    hours = int((last - first).total_seconds() // 3600) + 1
    if hours <= HOURLY_CHART_HOURS:
        series = []
        for n in range(hours):
            at = first + timedelta(hours=n)
            opens, clicks = hourly.get(at, (0, 0))
            local = formatting.to_local(at, timezone)
            series.append(Engagement(local.strftime("%m/%d %H:00"), opens, clicks))
        return series
    days: dict[Any, list[int]] = {}
    start = formatting.to_local(first, timezone).date()
    end = formatting.to_local(last, timezone).date()
    for n in range((end - start).days + 1):
        days[start + timedelta(days=n)] = [0, 0]
    for at, (opens, clicks) in hourly.items():
        day = days[formatting.to_local(at, timezone).date()]
        day[0] += opens
        day[1] += clicks
    return [Engagement(day.strftime("%m/%d"), o, c) for day, (o, c) in days.items()]


def engagement_charts(session: Session, shop: Shop, campaign: Campaign) -> list[Any]:
    """Opens and clicks over time as two bar charts (none before the first open)."""
    hourly = hourly_engagement(session, shop, campaign)
    series = engagement_series(hourly, shop.timezone, datetime.now(UTC))
    if not series:
        return []
    return [
        bar_chart(
            [Bar(e.label, getattr(e, name), number(getattr(e, name))) for e in series],
            title=title,
            y_format=lambda v: number(int(v)) if float(v).is_integer() else "",
            empty_text=gettext("No data yet"),
        )
        for name, title in (
            ("opens", gettext("Emails opened")),
            ("clicks", gettext("Emails clicked")),
        )
    ]


def _report_page(campaign: Campaign, error: str, status: int) -> Any:
    session = db_session()
    shop = g.shop
    choices = audience_choices(session, shop)
    report = campaign_report.campaign_report(session, shop, campaign.id)
    page = render_template(
        "admin/campaigns/report.html",
        campaign=campaign,
        report=report,
        audience=audience_text(campaign.audience or {}, choices),
        error=error,
        done=request.args.get("done") if not error else None,
        scheduled=request.args.get("scheduled") == "1",
        scheduled_local=_when_text(campaign.scheduled_at, shop) if campaign.scheduled_at else "",
        started_local=_when_text(campaign.started_at, shop) if campaign.started_at else "",
        finished_local=_when_text(campaign.finished_at, shop) if campaign.finished_at else "",
        rate=percent,
        lift=lift_text(report),
        charts=engagement_charts(session, shop, campaign),
        live=campaign.status in ("scheduled", "sending", "paused")
        or (
            campaign.finished_at is not None
            and campaign.finished_at > datetime.now(UTC) - timedelta(days=2)
        ),
    )
    session.rollback()
    return page, status


# --- the editor's JSON endpoints ----------------------------------------------------------------


@bp.post("/campaigns/preview")
@admin_required
@csrf_protect
def campaign_preview():  # type: ignore[no-untyped-def]
    """The editor's form (as posted) rendered for one customer: `{subject, html, text}`."""
    if g.shop is None:
        return jsonify(error=gettext("Connect a store first.")), 404
    session = db_session()
    shop = g.shop
    lang = request.form.get("preview_lang", "")
    if lang not in LANGUAGES:
        return jsonify(error=gettext("Choose a language to preview.")), 400
    try:
        content = campaign_content.validate_content(
            with_product_ids(session, shop, content_from_form(request.form), to_platform=True)
        )
    except FormProblem as problem:
        return jsonify(error=problem.message), 400
    except campaign_content.ContentError as problem:
        # A draft mid-edit (a link half typed) is an answer, not a failed request.
        return jsonify(problem=str(problem.message))
    raw_customer = str(request.form.get("preview_customer") or "")
    if raw_customer:
        if not (raw_customer.isascii() and raw_customer.isdigit()) or len(raw_customer) > 10:
            return jsonify(error=gettext("Choose a customer of this store.")), 400
        customer = customer_reads.get_customer(session, shop, int(raw_customer))
        if customer is None:
            return jsonify(error=gettext("Choose a customer of this store.")), 404
    else:
        customer = sample_customer(session, shop)
    config = kizuna().config
    unsaved = Campaign(id=0, shop_id=shop.id, name="", status="draft", audience={}, content=content)
    with session.no_autoflush:
        email = campaign_content.render_email(
            config,
            session,
            shop,
            unsaved,
            customer,
            lang,
            coupon_code=campaign_content.SAMPLE_COUPON_CODE,
        )
    link = campaign_content.unsubscribe_link(config, shop, customer, 0)
    html, text = without_link(email.html or "", email.text or "", link)
    session.rollback()
    return jsonify(
        subject=email.subject,
        preheader=(content.get(lang) or {}).get("preheader") or "",
        html=html,
        text=text,
        customer=customer.name_in(current_language()) or customer.email or "",
    )


@bp.post("/campaigns/audience")
@admin_required
@csrf_protect
def campaign_audience_count():  # type: ignore[no-untyped-def]
    """The live count for the posted audience, smart sending and holdout."""
    if g.shop is None:
        return jsonify(error=gettext("Connect a store first.")), 404
    session = db_session()
    try:
        audience = audience_from_form(request.form)
        if audience["segments"] or audience["rfm_groups"]:
            audience = campaign_audience.validate_audience(session, g.shop, audience)
    except FormProblem as problem:
        return jsonify(error=problem.message, field=problem.field), 400
    except campaign_audience.AudienceError as problem:
        return jsonify(error=str(problem.message), field="audience"), 400
    try:
        hours, holdout = sending_options(request.form)
    except FormProblem as problem:  # a number half typed: an answer, not a failed request
        return jsonify(problem=problem.message, field=problem.field)
    if not audience["segments"] and not audience["rfm_groups"]:
        nobody = campaign_audience.AudienceCount()
        return jsonify(rows=count_rows(nobody), will_receive=0)
    try:
        counted = campaign_audience.count(
            session,
            g.shop,
            audience,
            datetime.now(UTC),
            smart_sending_hours=hours,
            holdout_percent=holdout,
        )
    except RuleError as error:
        return jsonify(problem=unavailable_text(error), field="audience")
    finally:
        session.rollback()
    return jsonify(rows=count_rows(counted), will_receive=int(counted.will_receive))


@bp.get("/campaigns/customers")
@admin_required
def campaign_customers():  # type: ignore[no-untyped-def]
    """Customers of this store whose name or email contains `q`, for the preview's picker."""
    if g.shop is None:
        return jsonify(error=gettext("Connect a store first.")), 404
    q = " ".join(request.args.get("q", "").split())[: catalog_search.MAX_QUERY]
    page = customer_reads.customer_page(db_session(), g.shop, q=q, limit=CUSTOMER_RESULTS)
    language = current_language()
    results = []
    for customer in page.customers:
        name = customer.name_in(language)
        label = (
            f"{name} · {customer.email}"
            if name and customer.email
            else (name or customer.email or f"#{customer.id}")
        )
        results.append({"value": str(customer.id), "label": label})
    return jsonify(results=results)


def content_json(content: Mapping[str, Any]) -> str:
    return json.dumps(content, ensure_ascii=False)
