"""API for campaigns: list, read, create, edit, schedule (or send now), pause, resume, cancel,
the live audience count and the report.

Layer: web. Each write calls one `app.campaigns.service` function, which validates and commits;
cookie sessions need `X-CSRF-Token`. Refusals are 400 (invalid input, with the reason), 404 (no
such campaign in this store) or 409 (the campaign's status does not allow it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, jsonify, request
from sqlalchemy.orm import Session

from app.api import bp
from app.api.errors import ApiError, api_required, not_found
from app.api.serialize import money, when
from app.auth.csrf import protect_session_posts
from app.campaigns import audience, service
from app.campaigns.report import CampaignReport, campaign_report
from app.db import utcnow
from app.kizuna import db_session
from app.models.campaign import Campaign
from app.services.shop_errors import stored_problem

MAX_ID = 2**31 - 1
FIELDS = service.FIELDS


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "audience": campaign.audience or {"segments": [], "rfm_groups": []},
        "content": campaign.content or {},
        "smart_sending_hours": campaign.smart_sending_hours,
        "holdout_percent": campaign.holdout_percent,
        "scheduled_at": when(campaign.scheduled_at),
        "started_at": when(campaign.started_at),
        "finished_at": when(campaign.finished_at),
        # Worded in the request's language; the code is the stable key (None: older text).
        "last_error": stored_problem(campaign),
        "last_error_code": campaign.last_error_code if campaign.last_error else None,
        "created_at": when(campaign.created_at),
        "updated_at": when(campaign.updated_at),
    }


def report_json(report: CampaignReport) -> dict[str, Any]:
    values = {
        name: getattr(report, name)
        for name in (
            "campaign_id",
            "status",
            "recipients",
            "queued",
            "emailed",
            "sent",
            "unknown",
            "failed",
            "delivered",
            "opened",
            "clicked",
            "unsubscribed",
            "bounced",
            "skipped",
            "cancelled",
            "holdout",
            "orders",
            "treated_conversions",
            "holdout_conversions",
            "conversion",
            "holdout_conversion",
        )
    }
    values["revenue"] = money(report.revenue, report.currency)
    values["lift"] = (
        {"estimate": report.lift, "low": report.lift_low, "high": report.lift_high}
        if report.lift is not None
        else None
    )
    return values


def _check_csrf() -> None:
    if protect_session_posts() is not None:
        raise ApiError(403, "csrf_failed", "Send the session's CSRF token in X-CSRF-Token.")


def _body(*, required: bool = True) -> dict[str, Any]:
    try:
        payload = request.get_json(silent=True)
    except RecursionError:
        payload = None
    if payload is None and not required and not request.get_data():
        return {}
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    return payload


def _refused(error: service.CampaignError) -> ApiError:
    if isinstance(error, service.NotFound):
        return not_found("No such campaign in this store.")
    if isinstance(error, service.StateError):
        return ApiError(409, "invalid_state", str(error.message))
    return ApiError(400, "invalid_campaign", str(error.message))


def _campaign(session: Session, campaign_id: int) -> Campaign:
    found = service.get(session, g.shop, campaign_id) if campaign_id <= MAX_ID else None
    if found is None:
        raise not_found("No such campaign in this store.")
    return found


@bp.get("/campaigns")
@api_required
def list_campaigns():  # type: ignore[no-untyped-def]
    campaigns = service.list_campaigns(db_session(), g.shop)
    return jsonify(campaigns=[campaign_json(c) for c in campaigns])


@bp.post("/campaigns")
@api_required
def create_campaign():  # type: ignore[no-untyped-def]
    _check_csrf()
    payload = _body()
    unknown = set(payload) - {*FIELDS}
    if unknown:
        raise ApiError(400, "invalid_campaign", f"Unknown field: {sorted(unknown)[0]}")
    session = db_session()
    try:
        campaign = service.create(
            session,
            g.shop,
            name=payload.get("name"),
            audience=payload.get("audience"),
            content=payload.get("content"),
            smart_sending_hours=payload.get("smart_sending_hours"),
            holdout_percent=payload.get("holdout_percent", 0),
        )
    except service.CampaignError as error:
        session.rollback()
        raise _refused(error) from error
    return jsonify(campaign_json(campaign)), 201


@bp.get("/campaigns/<int:campaign_id>")
@api_required
def get_campaign(campaign_id: int):  # type: ignore[no-untyped-def]
    return jsonify(campaign_json(_campaign(db_session(), campaign_id)))


@bp.patch("/campaigns/<int:campaign_id>")
@api_required
def update_campaign(campaign_id: int):  # type: ignore[no-untyped-def]
    _check_csrf()
    payload = _body()
    session = db_session()
    _campaign(session, campaign_id)
    try:
        campaign = service.update_campaign(session, g.shop, campaign_id, **payload)
    except service.CampaignError as error:
        session.rollback()
        raise _refused(error) from error
    except TypeError as error:
        session.rollback()
        raise ApiError(400, "invalid_campaign", "The body's fields are not valid.") from error
    return jsonify(campaign_json(campaign))


def _send_at(payload: dict[str, Any]) -> datetime | None:
    raw = payload.get("send_at")
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise ApiError(400, "invalid_parameter", "send_at: an ISO 8601 date and time, or null")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise ApiError(
            400, "invalid_parameter", "send_at: an ISO 8601 date and time, or null"
        ) from error


@bp.post("/campaigns/<int:campaign_id>/schedule")
@api_required
def schedule_campaign(campaign_id: int):  # type: ignore[no-untyped-def]
    _check_csrf()
    payload = _body(required=False)
    send_at = _send_at(payload)
    session = db_session()
    _campaign(session, campaign_id)
    try:
        campaign = service.schedule(session, g.shop, campaign_id, send_at)
    except service.CampaignError as error:
        session.rollback()
        raise _refused(error) from error
    return jsonify(campaign_json(campaign))


def _action(campaign_id: int, action: Any) -> Any:
    _check_csrf()
    session = db_session()
    _campaign(session, campaign_id)
    try:
        campaign = action(session, g.shop, campaign_id)
    except service.CampaignError as error:
        session.rollback()
        raise _refused(error) from error
    return jsonify(campaign_json(campaign))


@bp.post("/campaigns/<int:campaign_id>/pause")
@api_required
def pause_campaign(campaign_id: int):  # type: ignore[no-untyped-def]
    return _action(campaign_id, service.pause)


@bp.post("/campaigns/<int:campaign_id>/resume")
@api_required
def resume_campaign(campaign_id: int):  # type: ignore[no-untyped-def]
    return _action(campaign_id, service.resume)


@bp.post("/campaigns/<int:campaign_id>/cancel")
@api_required
def cancel_campaign(campaign_id: int):  # type: ignore[no-untyped-def]
    return _action(campaign_id, service.cancel)


@bp.get("/campaigns/<int:campaign_id>/audience")
@api_required
def campaign_audience(campaign_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    campaign = _campaign(session, campaign_id)
    return jsonify(audience.count(session, g.shop, campaign, utcnow()).to_json())


@bp.get("/campaigns/<int:campaign_id>/report")
@api_required
def get_campaign_report(campaign_id: int):  # type: ignore[no-untyped-def]
    session = db_session()
    campaign = _campaign(session, campaign_id)
    report = campaign_report(session, g.shop, campaign.id)
    if report is None:
        raise not_found("No such campaign in this store.")
    return jsonify(report_json(report))
