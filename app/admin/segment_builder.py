"""Admin saved segments: the list with live counts, the rule builder, delete and CSV export.

Layer: web. Every query goes through `services.segments` scoped to `g.shop`; the views commit
(POSTs CSRF-checked). The builder works without JavaScript: form fields are named by node path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from flask import (
    Response,
    abort,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
)
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admin import bp
from app.admin.helpers import admin_url, number
from app.auth.csrf import csrf_protect
from app.auth.guard import admin_required
from app.domain.rfm import GROUP_KEYS
from app.domain.segment_rules import (
    CONSENT_STATES,
    FIELDS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_TEXT,
    ROOT,
    RuleError,
    RuleProblem,
    parse_rule,
)
from app.i18n import current_language, group_label, text_for
from app.kizuna import db_session
from app.models import Customer, Product, ProductCollection, SavedSegment, Shop
from app.services import catalog_search, segments

log = logging.getLogger(__name__)

PICKER_LIMIT = 500
MEMBERS_SHOWN = 10
MAX_FORM_NODES = 4 * MAX_CONDITIONS
_NODE_KEY = re.compile(r"^(r(?:-\d{1,3})*)-(match|field|op|value)$")
_ACTION = re.compile(r"^(add_condition|add_group|remove):(r(?:-\d{1,3})*)$")
NEW_CONDITION = {"field": "total_spent", "op": "gte", "value": ""}


# --- form ↔ rule JSON ------------------------------------------------------------------------


def rule_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The posted builder fields → rule JSON (strings as posted, children in index order)."""
    nodes: dict[str, dict[str, str]] = {}
    for key in form:
        found = _NODE_KEY.match(key)
        if found and len(nodes) <= MAX_FORM_NODES:
            # Longer than any valid value either way; the page echoes what was posted.
            value = form.get(key, "")[: 4 * MAX_TEXT]
            nodes.setdefault(found.group(1), {})[found.group(2)] = value

    def build(path: str, depth: int) -> dict[str, Any]:
        node = nodes.get(path, {})
        if "match" in node or path == ROOT:
            children = sorted(
                (int(child.rsplit("-", 1)[1]), child)
                for child in nodes
                if child.rsplit("-", 1)[0] == path and child != path
            )
            rules = [build(child, depth + 1) for _, child in children] if depth <= MAX_DEPTH else []
            return {"match": node.get("match", "all"), "rules": rules}
        return {key: node.get(key, "") for key in ("field", "op", "value")}

    return build(ROOT, 1)


def _node(rule: dict[str, Any], path: str) -> dict[str, Any] | None:
    node: Any = rule
    for index in path.split("-")[1:]:
        rules = node.get("rules") if isinstance(node, dict) else None
        if not isinstance(rules, list) or int(index) >= len(rules):
            return None
        node = rules[int(index)]
    return node if isinstance(node, dict) else None


def apply_action(rule: dict[str, Any], action: str) -> dict[str, Any]:
    """Add a condition or group to a group, or remove a node (the no-JavaScript buttons)."""
    found = _ACTION.match(action or "")
    if not found:
        return rule
    verb, path = found.groups()
    if verb == "remove":
        if path == ROOT:
            return rule
        parent = _node(rule, path.rsplit("-", 1)[0])
        index = int(path.rsplit("-", 1)[1])
        if parent is not None and index < len(parent.get("rules", [])):
            del parent["rules"][index]
        return rule
    group = _node(rule, path)
    if group is None or "rules" not in group:
        return rule
    if verb == "add_condition":
        group["rules"].append(dict(NEW_CONDITION))
    elif path.count("-") + 1 < MAX_DEPTH:
        group["rules"].append({"match": "all", "rules": [dict(NEW_CONDITION)]})
    return rule


def problems_json(problems: tuple[RuleProblem, ...] | list[RuleProblem]) -> list[dict[str, str]]:
    return [
        {"path": p.path, "key": p.key, "message": text_for(p.key, **p.values)} for p in problems
    ]


# --- pickers ---------------------------------------------------------------------------------


def _pickers(session: Session, shop: Shop) -> dict[str, list[tuple[str, str]]]:
    """Values offered next to the value input, per field (value, label)."""
    language = current_language()
    products = session.execute(
        select(Product.id, Product.title)
        .where(Product.shop_id == shop.id)
        .order_by(Product.title, Product.id)
        .limit(PICKER_LIMIT)
    ).all()
    collections = session.execute(
        select(ProductCollection.collection_external_id, ProductCollection.title)
        .where(ProductCollection.shop_id == shop.id)
        .group_by(ProductCollection.collection_external_id, ProductCollection.title)
        .order_by(ProductCollection.title)
        .limit(PICKER_LIMIT)
    ).all()
    countries = session.scalars(
        select(Customer.country_code)
        .distinct()
        .where(Customer.shop_id == shop.id, Customer.country_code.is_not(None))
        .order_by(Customer.country_code)
        .limit(PICKER_LIMIT)
    ).all()
    return {
        "product_bought": [(str(pid), title) for pid, title in products],
        "collection_bought": [(cid, title) for cid, title in collections],
        "country": [(code, code) for code in countries if code],
        "consent": [(state, text_for(f"segments.consent.{state}")) for state in CONSENT_STATES],
        "rfm_group": [(key, group_label(key, language)) for key in GROUP_KEYS],
    }


SEARCHED_FIELDS = {
    "product_bought": catalog_search.search_products,
    "collection_bought": catalog_search.search_collections,
}


def _conditions(rule: Any) -> list[dict[str, Any]]:
    """Every condition of a rule tree (as posted or saved), groups flattened."""
    if not isinstance(rule, dict):
        return []
    if isinstance(rule.get("rules"), list):
        return [c for child in rule["rules"] for c in _conditions(child)]
    return [rule]


def _value_labels(session: Session, shop: Shop, rule: Any) -> dict[str, dict[str, str]]:
    """Field → {value: title} for the products and collections a rule names."""
    products: set[int] = set()
    collections: set[str] = set()
    for condition in _conditions(rule):
        value = str(condition.get("value") or "").strip()
        if condition.get("field") == "product_bought" and value.isascii() and value.isdigit():
            if len(value) < 11:
                products.add(int(value))
        elif condition.get("field") == "collection_bought" and value:
            collections.add(value[:64])
    return {
        "product_bought": catalog_search.product_titles(session, shop, products),
        "collection_bought": catalog_search.collection_titles(session, shop, collections),
    }


def builder_spec(shop: Shop, pickers: Mapping[str, list[tuple[str, str]]]) -> dict[str, Any]:
    """Fields, their operators and hints, for the template and the script."""
    fields = {}
    for name, spec in FIELDS.items():
        if name == "collection_bought" and not pickers.get(name):
            continue  # nothing synced yet: the picker is hidden
        fields[name] = {
            "label": text_for(f"segments.field.{name}"),
            "ops": [[op, text_for(f"segments.op.{op}")] for op in spec.ops],
            "list": f"values-{name}" if name in pickers else None,
            "hint": text_for(f"segments.hint.{spec.kind}", currency=shop.currency),
            "search": name in SEARCHED_FIELDS,
            "search_hint": text_for(f"segments.search.{name}") if name in SEARCHED_FIELDS else "",
        }
    return {"fields": fields}


# --- pages -----------------------------------------------------------------------------------


def _segment_or_404(session: Session, segment_id: int) -> SavedSegment:
    segment = segments.get_segment(session, g.shop.id, segment_id) if g.shop else None
    if segment is None:
        abort(404)
    return segment


@bp.get("/segments/saved")
@admin_required
def saved_segments():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    session = db_session()
    rows = []
    for segment in segments.list_segments(session, g.shop.id):
        count: int | None = None
        unavailable = ""
        try:
            count = segments.count_matching(session, g.shop.id, segment.rule)
        except RuleError as error:
            unavailable = _unavailable(error)
        rows.append((segment, count, unavailable))
    return render_template(
        "admin/saved_segments.html", rows=rows, deleted=request.args.get("deleted") == "1"
    )


def _unavailable(error: RuleError) -> str:
    """The line "This segment can't be evaluated: <reason>", in the page's language."""
    reason = segments.unavailable_text(current_language(), error.problems)
    return gettext("This segment can't be evaluated: %(reason)s", reason=reason)


def _builder_page(segment: SavedSegment | None) -> Any:
    session = db_session()
    shop = g.shop
    problems: list[RuleProblem] = []
    status = 200
    if request.method == "POST":
        rule = rule_from_form(request.form)
        name = request.form.get("name", "")
        action = request.form.get("action", "save")
        if action == "save":
            result = segments.save_segment(
                session, shop.id, name, rule, segment.id if segment else None
            )
            if result.ok and result.segment is not None:
                session.commit()
                log.info("segment saved shop_id=%s segment_id=%s", shop.id, result.segment.id)
                return redirect(
                    admin_url("admin.segment_edit", segment_id=result.segment.id, saved="1")
                )
            session.rollback()
            problems, status = result.problems, 400
        else:
            rule = apply_action(rule, action)
    else:
        rule = dict(segment.rule) if segment else {"match": "all", "rules": [dict(NEW_CONDITION)]}
        name = segment.name if segment else ""
    count: int | None = None
    unavailable = ""
    try:
        count = segments.count_matching(session, shop.id, parse_rule(rule))
    except RuleError as error:
        if request.method == "POST" and not problems:
            problems = list(error.problems)
        elif request.method == "GET" and segment is not None:
            # A rule saved before today's bounds: say why, and mark its fields.
            problems, unavailable = list(error.problems), _unavailable(error)
    pickers = _pickers(session, shop)
    errors = {p.path: text_for(p.key, **p.values) for p in problems}
    members: list[Customer] = []
    if segment is not None and not unavailable:
        try:
            members = segments.matching_customers(
                session, shop.id, segment.rule, after=None, limit=MEMBERS_SHOWN
            )
        except RuleError:
            members = []
    return (
        render_template(
            "admin/segment_builder.html",
            segment=segment,
            name=name,
            rule=rule,
            count=count,
            count_text=gettext("%(count)s customers match", count=number(count))
            if count is not None
            else "",
            errors=errors,
            spec=builder_spec(shop, pickers),
            pickers=pickers,
            used_by=[
                text_for(f"flows.name.{key}")
                for key in (segments.flows_using(session, shop.id, segment.id) if segment else [])
            ],
            saved=request.args.get("saved") == "1" and not problems,
            unavailable=unavailable,
            max_depth=MAX_DEPTH,
            max_conditions=MAX_CONDITIONS,
            members=members,
            value_labels=_value_labels(session, shop, rule),
        ),
        status,
    )


@bp.route("/segments/saved/new", methods=["GET", "POST"])
@admin_required
@csrf_protect
def segment_new():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return render_template("admin/connect_store.html")
    return _builder_page(None)


@bp.route("/segments/saved/<int:segment_id>", methods=["GET", "POST"])
@admin_required
@csrf_protect
def segment_edit(segment_id: int):  # type: ignore[no-untyped-def]
    return _builder_page(_segment_or_404(db_session(), segment_id))


@bp.post("/segments/saved/<int:segment_id>/delete")
@admin_required
@csrf_protect
def segment_delete(segment_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    segment = _segment_or_404(session, segment_id)
    segments.delete_segment(session, g.shop.id, segment.id)
    session.commit()
    log.info("segment deleted shop_id=%s segment_id=%s", g.shop.id, segment_id)
    return redirect(admin_url("admin.saved_segments", deleted="1"))


@bp.get("/segments/saved/<int:segment_id>/export.csv")
@admin_required
def segment_export(segment_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    segment = _segment_or_404(session, segment_id)
    try:
        lines = segments.export_csv(session, g.shop.id, segment.rule)
    except RuleError as error:
        return Response(_unavailable(error), status=409, mimetype="text/plain")

    def body() -> Any:
        try:
            yield "\ufeff"  # lets spreadsheet apps read the UTF-8 (Japanese names) correctly
            yield from lines
        finally:
            session.close()  # the rows are read: end the transaction before the client hangs up

    response = Response(stream_with_context(body()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="segment-{segment.id}.csv"'
    return response


@bp.post("/segments/count")
@admin_required
@csrf_protect
def segment_count():  # type: ignore[no-untyped-def]
    if g.shop is None:
        return jsonify(error="no_shop"), 404
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes: not a rule either
        payload = None
    rule = payload.get("rule") if isinstance(payload, dict) else None
    try:
        count = segments.count_matching(db_session(), g.shop.id, parse_rule(rule))
    except RuleError as error:
        return jsonify(errors=problems_json(error.problems)), 400
    return jsonify(count=count, text=gettext("%(count)s customers match", count=number(count)))


@bp.get("/segments/values")
@admin_required
def segment_values():  # type: ignore[no-untyped-def]
    """Products or collections of this store whose name contains `q`, for the builder's picker:
    `{"results": [{"value": …, "label": …}]}`."""
    if g.shop is None:
        return jsonify(error="no_shop"), 404
    search = SEARCHED_FIELDS.get(request.args.get("field", ""))
    if search is None:
        return jsonify(error="unknown_field"), 400
    found = search(db_session(), g.shop, request.args.get("q", ""))
    return jsonify(results=[{"value": c.value, "label": c.label} for c in found])
