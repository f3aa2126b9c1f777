"""Embedded-admin authentication with Shopify session tokens, for `guard.admin_required`.

Layer: web auth. Tokens come as `id_token` (document loads) or `Authorization: Bearer` (fetches).
A bad token: 401 + `X-Shopify-Retry-Invalid-Session-Request: 1` for fetches, 302 to the bounce
page for documents. A valid token for a shop without a usable offline token is a managed install.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlencode, urlsplit

from flask import Request, Response, g, url_for
from flask_babel import gettext
from sqlalchemy import select

from app.db import utcnow
from app.kizuna import db_session, kizuna
from app.models import Shop
from app.services.install_shop import InstallError, complete_install
from connectors.base import AuthenticationError, ConnectorError
from connectors.shopify.http import shopify_http_client
from connectors.shopify.session_token import SessionTokenResult, verify_session_token
from connectors.shopify.tokens import exchange_session_token

log = logging.getLogger(__name__)

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"
BOUNCE_ENDPOINT = "auth.session_token_bounce"
RELOAD_PARAM = "shopify-reload"


def frame_ancestors_for(shop_domain: str | None) -> str:
    """Who may frame an embedded page: the shop's admin (and the simulated admin when Kizuna
    talks to the simulated Shopify: the demo opens the app inside it)."""
    allowed = [f"https://{shop_domain}"] if shop_domain else []
    allowed.append("https://admin.shopify.com")
    sandbox = kizuna().config.shopify_sandbox_url
    if sandbox:
        parts = urlsplit(sandbox)
        allowed.append(f"{parts.scheme}://{parts.netloc}")
    return " ".join(allowed)


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None


def has_session_token(request: Request) -> bool:
    return bool(request.args.get("id_token")) or _bearer_token(request) is not None


def _verified(request: Request, token: str) -> SessionTokenResult:
    """The token's verification, once per request (the CSRF hook and the guard both ask)."""
    cached = g.get("_session_token_verified")
    if cached is not None and cached[0] == token:
        return cached[1]  # type: ignore[no-any-return]
    config = kizuna().config
    verified = verify_session_token(token, config.shopify_api_key, config.shopify_secrets)
    g._session_token_verified = (token, verified)
    return verified


def bearer_is_valid(request: Request) -> bool:
    """True when the request carries `Authorization: Bearer` with a session token of this app
    that verifies: such a request has no cookie credentials, the signed token is the proof."""
    token = _bearer_token(request)
    return token is not None and _verified(request, token).ok


def shown_in_shopify_admin(request: Request) -> bool:
    """True when the answer to this request is displayed inside the Shopify admin's frame."""
    return bool(g.get("embedded")) or has_session_token(request) or looks_embedded(request)


def looks_embedded(request: Request) -> bool:
    """A request from inside the Shopify admin that arrived without its session token."""
    from_shopify_admin = bool(request.args.get("shop") and request.args.get("host"))
    return request.args.get("embedded") == "1" or (
        from_shopify_admin and not has_session_token(request)
    )


def _retry_with_fresh_token() -> Response:
    return Response("Unauthorized", status=401, headers={RETRY_HEADER: "1"})


def _refused(request: Request) -> Response:
    """How a request with an unusable token is answered: fetches retry, documents bounce."""
    return _retry_with_fresh_token() if _bearer_token(request) is not None else bounce(request)


def _installed_shop(domain: str) -> Shop | None:
    """The shop when Kizuna holds an offline token for it that can still be used or renewed."""
    shop = (
        db_session()
        .scalars(select(Shop).where(Shop.platform == "shopify", Shop.domain == domain))
        .one_or_none()
    )
    if shop is None or shop.status not in ("active", "installing"):
        return None
    if shop.access_token_encrypted is None:
        return None
    refresh_expires = shop.refresh_token_expires_at
    if shop.refresh_token_encrypted is not None and refresh_expires is not None:
        return shop if refresh_expires > utcnow() else None
    return shop


def _install_failed(status: int, message: str) -> Response:
    from app.error_pages import error_page

    return error_page(status, gettext("Kizuna could not connect this store"), message)


def _managed_install(request: Request, token: str, verified: SessionTokenResult) -> Shop | Response:
    runtime = kizuna()
    config = runtime.config
    domain = verified.shop_domain or ""
    try:
        with shopify_http_client(config.shopify_sandbox_url) as http:
            grant = exchange_session_token(
                http,
                config.shopify_api_key,
                config.shopify_api_secret,
                domain,
                token,
                verified.claims,
            )
        shop_id = complete_install(runtime, domain, grant, "managed")
    except AuthenticationError as error:
        log.warning("token exchange refused shop=%s code=%s", domain, error.code)
        if error.code == "invalid_subject_token":
            return _refused(request)
        return _install_failed(403, gettext("Shopify refused to connect Kizuna to this store."))
    except (ConnectorError, InstallError) as error:
        log.warning("managed install failed shop=%s error=%s", domain, type(error).__name__)
        return _install_failed(
            502, gettext("Kizuna could not reach Shopify. Reload the page to try again.")
        )
    return db_session().get_one(Shop, shop_id, populate_existing=True)


def authenticate(request: Request) -> Shop | Response:
    """The shop a session token speaks for (installing it first if need be), or the answer."""
    token = _bearer_token(request) or request.args.get("id_token") or ""
    verified = _verified(request, token)
    if not verified.ok or verified.shop_domain is None:
        log.info("session token refused reason=%s", verified.reason)
        return _refused(request)
    shop = _installed_shop(verified.shop_domain)
    if shop is not None:
        return shop
    return _managed_install(request, token, verified)


def bounce(request: Request) -> Response:
    """302 to the bounce page, which has App Bridge reload this URL with a fresh `id_token`."""
    kept = [(key, value) for key, value in request.args.items(multi=True) if key != "id_token"]
    reload_target = request.path + (f"?{urlencode(kept)}" if kept else "")
    query = urlencode([*kept, (RELOAD_PARAM, reload_target)], quote_via=quote)
    return Response(status=302, headers={"Location": f"{url_for(BOUNCE_ENDPOINT)}?{query}"})
