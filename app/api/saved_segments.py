"""API for saved segments: create, read, delete, count a rule, page through members.

Layer: web. Writes go through `services.segments` and are committed here; cookie sessions need
`X-CSRF-Token`. An unevaluable segment still reads, and its members answer 409.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request
from flask_babel import gettext
from sqlalchemy.orm import Session

from app.api import bp
from app.api.errors import ApiError, api_required, bad_parameter, not_found
from app.api.serialize import customer_summary_json, when
from app.auth.csrf import protect_session_posts
from app.domain.segment_rules import RuleError, RuleProblem, parse_rule
from app.i18n import current_language, text_for
from app.kizuna import db_session
from app.models import SavedSegment
from app.services import segments

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_ID = 2**31 - 1


def saved_segment_json(
    segment: SavedSegment, count: int | None = None, unavailable: str | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": segment.id,
        "name": segment.name,
        "rule": segment.rule,
        "created_at": when(segment.created_at),
        "updated_at": when(segment.updated_at),
    }
    if count is not None:
        payload["customers"] = count
    if unavailable is not None:
        payload["customers"] = None
        payload["unavailable"] = unavailable
    return payload


def _counted_json(session: Session, segment: SavedSegment) -> dict[str, Any]:
    """The segment with its member count, or with why it can't be evaluated."""
    try:
        count = segments.count_matching(session, g.shop.id, segment.rule)
    except RuleError as error:
        reason = segments.unavailable_text(current_language(), error.problems)
        return saved_segment_json(segment, unavailable=reason)
    return saved_segment_json(segment, count)


def saved_segments_json(session: Session, shop_id: int) -> list[dict[str, Any]]:
    """The shop's saved segments (without counts: `GET /segments/<id>` counts one)."""
    return [saved_segment_json(s) for s in segments.list_segments(session, shop_id)]


def _invalid(problems: tuple[RuleProblem, ...] | list[RuleProblem]) -> Response:
    response = jsonify(
        error="invalid_rule",
        message="; ".join(f"{p.path}: {text_for(p.key, **p.values)}" for p in problems),
        errors=[
            {"path": p.path, "key": p.key, "message": text_for(p.key, **p.values)} for p in problems
        ],
    )
    response.status_code = 400
    return response


def _check_csrf() -> None:
    if protect_session_posts() is not None:
        raise ApiError(403, "csrf_failed", "Send the session's CSRF token in X-CSRF-Token.")


def _body() -> dict[str, Any]:
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes
        payload = None
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    return payload


def _segment(session: Session, segment_id: int) -> SavedSegment:
    found = segments.get_segment(session, g.shop.id, segment_id) if segment_id <= MAX_ID else None
    if found is None:
        raise not_found("No such segment in this store.")
    return found


@bp.post("/segments")
@api_required
def create_segment():  # type: ignore[no-untyped-def]
    _check_csrf()
    payload = _body()
    name = payload.get("name")
    if not isinstance(name, str):
        return _invalid([RuleProblem("name", "segments.rule.required")])
    session = db_session()
    result = segments.save_segment(session, g.shop.id, name, payload.get("rule"))
    if not result.ok or result.segment is None:
        session.rollback()
        return _invalid(result.problems)
    session.commit()
    return jsonify(_counted_json(session, result.segment)), 201


@bp.post("/segments/count")
@api_required
def count_segment():  # type: ignore[no-untyped-def]
    _check_csrf()
    payload = _body()
    try:
        count = segments.count_matching(db_session(), g.shop.id, parse_rule(payload.get("rule")))
    except RuleError as error:
        return _invalid(error.problems)
    return jsonify(count=count)


@bp.get("/segments/<int:segment_id>")
@api_required
def get_segment(segment_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    return jsonify(_counted_json(session, _segment(session, segment_id)))


@bp.delete("/segments/<int:segment_id>")
@api_required
def delete_segment(segment_id: int):  # type: ignore[no-untyped-def]
    _check_csrf()
    session = db_session()
    segment = _segment(session, segment_id)
    segments.delete_segment(session, g.shop.id, segment.id)
    session.commit()
    return Response(status=204)


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise bad_parameter(name, "must be an integer")
    value = int(raw)
    if not low <= value <= high:
        raise bad_parameter(name, f"must be between {low} and {high}")
    return value


@bp.get("/segments/<int:segment_id>/customers")
@api_required
def segment_customers(segment_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    segment = _segment(session, segment_id)
    after = _int_arg("after", None, 1, MAX_ID)
    limit = _int_arg("limit", None, 1, MAX_PAGE_SIZE) or PAGE_SIZE
    try:
        page = segments.matching_customers(
            session, g.shop.id, segment.rule, after=after, limit=limit + 1
        )
    except RuleError as error:
        reason = segments.unavailable_text(current_language(), error.problems)
        raise ApiError(
            409,
            "segment_unavailable",
            gettext("This segment can't be evaluated: %(reason)s", reason=reason),
        ) from error
    more = len(page) > limit
    page = page[:limit]
    return jsonify(
        customers=[customer_summary_json(c) for c in page],
        next_after=page[-1].id if more and page else None,
        limit=limit,
    )
