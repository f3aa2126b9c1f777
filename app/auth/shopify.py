"""Shopify install routes: authorization-code grant, session-token bounce, custom-app connect.

Layer: web auth. Each route checks domain, the single-use `state` cookie, HMAC, timestamp or CSRF
token before calling one service; a refusal stores nothing.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Request, Response, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from itsdangerous import BadSignature, URLSafeTimedSerializer
from shopify_app import ShopifyApp
from werkzeug.wrappers import Response as BaseResponse

from app.auth import bp
from app.auth.csrf import csrf_token, csrf_valid
from app.auth.embedded import frame_ancestors_for
from app.auth.guard import account_owner_session, refuse_non_owner
from app.auth.sessions import start_session
from app.config import Config
from app.i18n import text_for
from app.kizuna import db_session, kizuna
from app.models import Shop
from app.services.install_shop import InstallError, complete_install, connect_custom_app
from connectors.base import ConnectorError
from connectors.shopify.domains import normalize_shop_domain
from connectors.shopify.http import shopify_http_client
from connectors.shopify.oauth import (
    authorize_url,
    check_timestamp,
    exchange_code,
    verify_query_hmac,
)

log = logging.getLogger(__name__)

APP_BRIDGE_CDN = Config.app_bridge_url
STATE_COOKIE = "kizuna_shopify_state"
STATE_COOKIE_PATH = "/auth/shopify"
STATE_SALT = "kizuna-shopify-oauth-state"
STATE_MAX_AGE = 600


def _state_serializer(config: Config) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config.secret_key, salt=STATE_SALT)


def _refuse(message: str, status: int) -> tuple[str, int]:
    from app.error_pages import prepare_for_shopify_admin

    in_frame = prepare_for_shopify_admin()
    page = render_template("auth/shopify_error.html", message=message, in_shopify_admin=in_frame)
    return page, status


def _query_params(req: Request) -> dict[str, str | list[str]]:
    """The query as `verify_query_hmac` wants it: `[]` keys and repeated keys as lists."""
    params: dict[str, str | list[str]] = {}
    for key in req.args:
        values = req.args.getlist(key)
        params[key] = values if key.endswith("[]") or len(values) > 1 else values[0]
    return params


@bp.get("/auth/shopify")
def shopify_install():  # type: ignore[no-untyped-def]
    config = kizuna().config
    shop = normalize_shop_domain(request.args.get("shop"))
    if shop is None:
        return _refuse(
            gettext(
                "That is not a Shopify store address. Use the store's myshopify.com domain, "
                "for example my-store.myshopify.com."
            ),
            400,
        )
    state = secrets.token_hex(32)
    target = authorize_url(
        shop,
        config.shopify_api_key,
        config.shopify_scopes,
        f"{config.app_url}/auth/shopify/callback",
        state,
    )
    response = redirect(target)
    response.set_cookie(
        STATE_COOKIE,
        _state_serializer(config).dumps({"state": state, "shop": shop}),
        max_age=STATE_MAX_AGE,
        path=STATE_COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=config.app_url.startswith("https://"),
    )
    return response


def _expected_state(config: Config) -> dict[str, Any] | None:
    raw = request.cookies.get(STATE_COOKIE)
    if not raw:
        return None
    try:
        data = _state_serializer(config).loads(raw, max_age=STATE_MAX_AGE)
    except BadSignature:  # includes SignatureExpired
        return None
    return data if isinstance(data, dict) else None


def _callback_refusal(config: Config, shop: str) -> tuple[str, int] | None:
    """Why this callback cannot be trusted, as a page; None when every check passes."""
    if not verify_query_hmac(_query_params(request), config.shopify_secrets).ok:
        return _refuse(
            gettext("This request did not come from Shopify: its signature is not valid."), 403
        )
    if not check_timestamp(request.args.get("timestamp"), time.time()).ok:
        return _refuse(
            gettext("This install link is too old. Start the install again from Shopify."), 403
        )
    expected = _expected_state(config)
    given = request.args.get("state", "")
    if (
        expected is None
        or not hmac.compare_digest(str(expected.get("state", "")).encode(), given.encode())
        or expected.get("shop") != shop
    ):
        return _refuse(
            gettext(
                "This install was not started from this browser, or took too long. "
                "Start the install again."
            ),
            403,
        )
    if not request.args.get("code"):
        return _refuse(gettext("Shopify sent no authorization code. Start the install again."), 400)
    return None


@bp.get("/auth/shopify/callback")
def shopify_callback():  # type: ignore[no-untyped-def]
    runtime = kizuna()
    config = runtime.config
    shop = normalize_shop_domain(request.args.get("shop"))
    if shop is None:
        outcome: Any = _refuse(gettext("That is not a Shopify store address."), 400)
    else:
        outcome = _callback_refusal(config, shop) or _finish_install(shop)
    response = outcome if isinstance(outcome, BaseResponse) else Response(*outcome)
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)  # a state is used only once
    return response


def _finish_install(shop: str) -> BaseResponse | tuple[str, int]:
    runtime = kizuna()
    config = runtime.config
    try:
        with shopify_http_client(config.shopify_sandbox_url) as http:
            grant = exchange_code(
                http,
                shop,
                config.shopify_api_key,
                config.shopify_api_secret,
                request.args["code"],
            )
        shop_id = complete_install(runtime, shop, grant, "code_grant")
    except InstallError as error:
        return _refuse(text_for(error.key, **error.values), 400)
    except ConnectorError as error:
        log.warning("shopify code exchange failed shop=%s code=%s", shop, error.code)
        return _refuse(
            gettext("Shopify did not accept the authorization code. Start the install again."),
            400,
        )
    account_id = db_session().get_one(Shop, shop_id).account_id
    # Like a session token, the grant speaks for this one shop, not for the account's others.
    start_session(account_id, shop_id=shop_id)
    log.info("shopify code-grant install shop_id=%s", shop_id)
    return redirect(url_for("admin.home"))


def _is_local_path(target: str) -> bool:
    parts = urlsplit(target)
    return (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not parts.scheme
        and not parts.netloc
    )


@bp.get("/auth/session-token-bounce")
def session_token_bounce():  # type: ignore[no-untyped-def]
    config = kizuna().config
    shop = normalize_shop_domain(request.args.get("shop"))
    if shop is None or not _is_local_path(request.args.get("shopify-reload", "")):
        return Response("Bad Request", status=400)
    result = ShopifyApp(config.shopify_api_key, config.shopify_api_secret).app_home_patch_id_token(
        {"method": request.method, "headers": dict(request.headers), "url": request.url, "body": ""}
    )
    g.frame_ancestors = frame_ancestors_for(shop)
    body = result.response.body
    if config.app_bridge_url != APP_BRIDGE_CDN:  # the demo's simulated admin
        body = body.replace(APP_BRIDGE_CDN, config.app_bridge_url)
    return Response(body, status=result.response.status, headers=result.response.headers)


def _connect_form(error: str | None = None, domain: str = "", status: int = 200) -> Any:
    page = render_template(
        "auth/connect_shopify.html", error=error, domain=domain, csrf_token=csrf_token()
    )
    return page, status


@bp.route("/connect/shopify", methods=["GET", "POST"])
def connect_shopify():  # type: ignore[no-untyped-def]
    account_id = account_owner_session()
    if account_id is None:  # connecting a store is for the account's owner, not its staff
        return refuse_non_owner()
    if request.method == "GET":
        return _connect_form()
    domain = request.form.get("domain", "").strip()
    if not csrf_valid():
        return _connect_form(gettext("This form has expired. Please submit it again."), domain, 400)
    try:
        shop_id = connect_custom_app(
            kizuna(), domain, request.form.get("token", ""), account_id=account_id
        )
    except InstallError as error:
        return _connect_form(text_for(error.key, **error.values), domain, 400)
    session["shop_id"] = shop_id
    return redirect(url_for("admin.home"))
