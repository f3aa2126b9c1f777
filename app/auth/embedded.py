"""Embedded-admin authentication with Shopify session tokens."""

from __future__ import annotations

from flask import Request, Response

from app.models import Shop


def has_session_token(request: Request) -> bool:
    return bool(request.args.get("id_token")) or request.headers.get(
        "Authorization", ""
    ).startswith("Bearer ")


def looks_embedded(request: Request) -> bool:
    return request.args.get("embedded") == "1"


def authenticate(request: Request) -> Shop | Response:
    return Response("session tokens are not accepted yet", status=401)


def bounce(request: Request) -> Response:
    return Response("session token required", status=401)
