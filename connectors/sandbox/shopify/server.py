"""HTTP routes of the simulated Shopify, each under `/{shop_domain}` as Kizuna's client sends them.

Layer: connectors/sandbox (plain werkzeug). Shopify's real paths with the host as first segment;
`/_sandbox/...` routes are demo and test controls real Shopify lacks.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlparse

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from connectors.sandbox.images import CACHE_CONTROL as IMAGE_CACHE
from connectors.sandbox.images import CONTENT_TYPE as IMAGE_TYPE
from connectors.sandbox.images import product_png
from connectors.sandbox.shopify.admin import admin_page, app_bridge_script, frame_url
from connectors.sandbox.shopify.graphql_api import API_VERSION, admin_schema, execute_admin_request
from connectors.sandbox.shopify.oauth import OAuthError
from connectors.sandbox.shopify.records import money

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from connectors.sandbox.shopify.sandbox import SandboxShopify
    from connectors.sandbox.shopify.store import SandboxStore

log = logging.getLogger(__name__)

UNAUTHORIZED_MESSAGE = (
    "[API] Invalid API key or access token (unrecognized login or wrong password)"
)


def _json(body: Any, status: int = 200, **headers: str) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def embedded_admin_url(base_url: str, domain: str, api_key: str, locale: str = "") -> str:
    """The simulated admin's page with the app open, as admin.shopify.com/store/{handle}/apps/…"""
    handle = domain.split(".", 1)[0]
    query = f"?{urlencode({'locale': locale})}" if locale else ""
    return f"{base_url.rstrip('/')}/store/{handle}/apps/{api_key}{query}"


def admin_host(domain: str) -> str:
    """The `host` parameter: base64 of admin.shopify.com/store/{handle}, without padding."""
    handle = domain.split(".", 1)[0]
    return base64.b64encode(f"admin.shopify.com/store/{handle}".encode()).decode().rstrip("=")


class SandboxApp:
    """The WSGI application of one `SandboxShopify`."""

    def __init__(self, sandbox: SandboxShopify) -> None:
        self.sandbox = sandbox
        self.url_map = Map(
            [
                Rule("/_sandbox/shops", endpoint="control_shops", methods=["GET"]),
                Rule("/_sandbox/images/<name>.png", endpoint="image", methods=["GET"]),
                Rule("/_sandbox/deliveries", endpoint="control_deliveries", methods=["GET"]),
                Rule("/_sandbox/<shop>/orders", endpoint="control_order", methods=["POST"]),
                Rule("/_sandbox/<shop>/checkouts", endpoint="control_checkout", methods=["POST"]),
                Rule(
                    "/_sandbox/<shop>/checkouts/<token>/complete",
                    endpoint="control_complete",
                    methods=["POST"],
                ),
                Rule("/_sandbox/<shop>/customers", endpoint="control_customer", methods=["POST"]),
                Rule("/_sandbox/<shop>/session-token", endpoint="control_session", methods=["GET"]),
                Rule("/_sandbox/bulk/<int:number>.jsonl", endpoint="bulk_result", methods=["GET"]),
                Rule(
                    "/<shop>/_sandbox/bulk/<int:number>.jsonl",
                    endpoint="bulk_result",
                    methods=["GET"],
                ),
                Rule(
                    "/_sandbox/<shop>/customers/<int:number>/silent",
                    endpoint="control_silent_customer",
                    methods=["POST"],
                ),
                Rule("/_sandbox/<shop>/uninstall", endpoint="control_uninstall", methods=["POST"]),
                Rule("/<shop>/admin/oauth/authorize", endpoint="authorize", methods=["GET"]),
                Rule("/<shop>/admin/oauth/access_token", endpoint="access_token", methods=["POST"]),
                Rule(
                    "/<shop>/admin/api/<version>/graphql.json", endpoint="graphql", methods=["POST"]
                ),
                Rule("/<shop>/admin/apps/<api_key>", endpoint="open_app", methods=["GET"]),
                Rule("/store/<handle>/apps/<api_key>", endpoint="admin_page", methods=["GET"]),
                Rule(
                    "/store/<handle>/apps/<api_key>/<path:rest>",
                    endpoint="admin_page",
                    methods=["GET"],
                ),
                Rule("/_sandbox/app-bridge.js", endpoint="app_bridge", methods=["GET"]),
                Rule(
                    "/<shop>/admin/apps/<api_key>/<path:rest>", endpoint="open_app", methods=["GET"]
                ),
                Rule(
                    "/<shop>/<int:shop_id>/checkouts/ac/<token>/recover",
                    endpoint="recover",
                    methods=["GET", "POST"],
                ),
            ]
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, values = self.url_map.bind_to_environ(environ).match()
            handler: Callable[..., Response] = getattr(self, f"on_{endpoint}")
            response = handler(request, **values)
        except NotFound:
            response = _json({"errors": "Not Found"}, 404)
        except HTTPException as error:
            response = _json({"errors": error.description or error.name}, error.code or 500)
        return response(environ, start_response)

    def _store(self, shop: str) -> SandboxStore:
        store = self.sandbox.find_shop(shop)
        if store is None:
            raise NotFound()
        return store

    # ---- OAuth -----------------------------------------------------------------------------

    def on_authorize(self, request: Request, shop: str) -> Response:
        """The merchant approves at once and is sent back with a signed code."""
        store = self._store(shop)
        sandbox = self.sandbox
        if request.args.get("client_id") != sandbox.api_key:
            return _json(
                {"error": "invalid_request", "error_description": "Unknown client_id"}, 400
            )
        redirect_uri = request.args.get("redirect_uri", "")
        if not self._under_app_url(redirect_uri):
            return _json(
                {
                    "error": "invalid_request",
                    "error_description": "The redirect_uri is not under the app URL",
                },
                400,
            )
        per_user = "per-user" in request.args.getlist("grant_options[]")
        code = sandbox.tokens.issue_code(
            store.domain, request.args.get("scope", ""), online_user=1 if per_user else None
        )
        params = {
            "code": code,
            "host": admin_host(store.domain),
            "shop": store.domain,
            "timestamp": str(int(time.time())),
        }
        if "state" in request.args:
            params["state"] = request.args["state"]
        # The app verifies every parameter it receives, its own redirect_uri query included.
        target = urlparse(redirect_uri)
        signed = {**dict(parse_qsl(target.query, keep_blank_values=True)), **params}
        signed["hmac"] = sandbox.sign_query(signed)
        response = Response(status=302)
        response.headers["Location"] = target._replace(query=urlencode(signed)).geturl()
        return response

    def _under_app_url(self, uri: str) -> bool:
        app_url = self.sandbox.app_url
        if not app_url or not uri:
            return False
        target, base = urlparse(uri), urlparse(app_url)
        base_path = base.path.rstrip("/")
        return (
            target.scheme == base.scheme
            and target.netloc == base.netloc
            and (target.path == base_path or target.path.startswith(base_path + "/"))
        )

    def on_access_token(self, request: Request, shop: str) -> Response:
        store = self._store(shop)
        if request.is_json:
            params = request.get_json(silent=True)
            if not isinstance(params, dict):
                return _json({"error": "invalid_request", "error_description": "Bad JSON"}, 400)
        else:
            params = {**request.args.to_dict(), **request.form.to_dict()}
        try:
            body = self.sandbox.tokens.token_endpoint(
                store.domain, params, default_scope=self.sandbox.app_scopes
            )
        except OAuthError as error:
            return _json(error.body, error.status)
        if params.get("grant_type") != "refresh_token":
            self.sandbox.mark_installed(store.domain)
        return _json(body)

    # ---- Admin API -------------------------------------------------------------------------

    def on_graphql(self, request: Request, shop: str, version: str) -> Response:
        store = self._store(shop)
        if version != API_VERSION:
            return _json({"errors": "Not Found"}, 404)
        token = request.headers.get("X-Shopify-Access-Token", "")
        if not token or self.sandbox.tokens.authenticate(store.domain, token) is None:
            return _json({"errors": UNAUTHORIZED_MESSAGE}, 401)
        fault = self.sandbox.take_admin_fault()
        if fault is not None:
            return _json({"errors": "Service Unavailable"}, fault)
        if request.mimetype == "application/graphql":
            body: Any = {"query": request.get_data(as_text=True)}
        else:
            body = request.get_json(silent=True, force=True)
        answer = execute_admin_request(store, self.sandbox.bucket(store.domain), body)
        return _json(answer, X_Shopify_API_Version=API_VERSION)

    # ---- the admin opening the embedded app ------------------------------------------------

    def _frame_params(self, store: SandboxStore, locale: str) -> dict[str, str]:
        """The query the admin puts on the app's URL: signed, with a fresh session token."""
        sandbox = self.sandbox
        params = {
            "embedded": "1",
            "host": admin_host(store.domain),
            "id_token": sandbox.mint_session_token(store.domain),
            "locale": locale,
            "shop": store.domain,
            "timestamp": str(int(time.time())),
        }
        params["hmac"] = sandbox.sign_query(params)
        return params

    def on_open_app(self, request: Request, shop: str, api_key: str, rest: str = "") -> Response:
        store = self._store(shop)
        sandbox = self.sandbox
        if api_key != sandbox.api_key:
            raise NotFound()
        if not sandbox.app_url:
            return _json({"errors": "The app has no app URL configured"}, 400)
        params = self._frame_params(store, "ja")
        path = "/app" + (f"/{rest}" if rest else "")
        response = Response(status=302)
        response.headers["Location"] = f"{sandbox.app_url}{path}?{urlencode(params)}"
        return response

    def on_admin_page(
        self, request: Request, handle: str, api_key: str, rest: str = ""
    ) -> Response:
        """admin.shopify.com/store/{handle}/apps/{app}/{path}: the admin framing the app."""
        sandbox = self.sandbox
        store = self._store(f"{handle}.myshopify.com")
        if api_key != sandbox.api_key:
            raise NotFound()
        if not sandbox.app_url:
            return _json({"errors": "The app has no app URL configured"}, 400)
        locale = request.args.get("locale", "en")
        params = self._frame_params(store, locale)
        extra = [(k, v) for k, v in request.args.items(multi=True) if k not in params]
        src = frame_url(sandbox.app_url, rest, params)
        if extra:
            src += "&" + urlencode(extra)
        page = admin_page(
            store_name=store.info.name,
            shop_domain=store.domain,
            handle=handle,
            api_key=api_key,
            app_url=sandbox.app_url,
            first_frame_url=src,
            frame_params=params,
            locale=locale,
        )
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    def on_app_bridge(self, request: Request) -> Response:
        response = Response(app_bridge_script(), mimetype="text/javascript")
        response.headers["Cache-Control"] = "no-store"
        return response

    # ---- storefront: the recovery link of an abandoned checkout ----------------------------

    def on_recover(self, request: Request, shop: str, shop_id: int, token: str) -> Response:
        store = self._store(shop)
        checkout = store.checkout_by_token(token)
        if (
            checkout is None
            or shop_id != store.info.id
            or request.args.get("key") != checkout.recovery_key
        ):
            raise NotFound()
        currency = store.info.currency
        if request.method == "POST" and checkout.completed_at is None:
            order = store.complete_checkout(token)
            message = f"Thank you! Order {html.escape(order['name'])} is confirmed."
        elif checkout.completed_at is not None:
            message = "This checkout is already completed."
        else:
            message = ""
        items = "".join(
            f"<li>{html.escape(line.title)} × {line.quantity}: "
            f"{money(line.line_total, currency)} {currency}</li>"
            for line in checkout.lines
        )
        button = (
            '<form method="post"><button type="submit">Complete purchase</button></form>'
            if checkout.completed_at is None
            else ""
        )
        page = (
            f"<!doctype html><html lang='ja'><head><meta charset='utf-8'>"
            f"<title>{html.escape(store.info.name)} checkout</title></head><body>"
            f"<h1>{html.escape(store.info.name)}</h1><p>{message}</p><ul>{items}</ul>{button}"
            f"</body></html>"
        )
        return Response(page, mimetype="text/html")

    # ---- controls for the demo and browser tests -------------------------------------------

    def on_image(self, request: Request, name: str) -> Response:
        """A product picture (`add_shop(image_base=…)`), as the store's CDN would serve it."""
        response = Response(product_png(name), 200, content_type=IMAGE_TYPE)
        response.headers["Cache-Control"] = IMAGE_CACHE
        return response

    def on_control_shops(self, request: Request) -> Response:
        base = request.host_url.rstrip("/")
        shops = []
        for store in self.sandbox.shops:
            with store.lock:
                shops.append(
                    {
                        "domain": store.domain,
                        "name": store.info.name,
                        "installed": store.installed,
                        "currency": store.info.currency,
                        "timezone": store.info.timezone,
                        "customers": len(store.customers),
                        "orders": len(store.orders),
                        "products": len(store.products),
                        "checkouts": len(store.checkouts),
                        "admin_app_url": f"{base}/{store.domain}/admin/apps/{self.sandbox.api_key}",
                        "embedded_admin_url": embedded_admin_url(
                            base, store.domain, self.sandbox.api_key
                        ),
                    }
                )
        return _json({"shops": shops})

    def on_control_deliveries(self, request: Request) -> Response:
        limit = request.args.get("limit", 100, type=int)
        deliveries = self.sandbox.deliveries[-limit:] if limit > 0 else []
        return _json(
            {
                "deliveries": [
                    {
                        "shop_domain": delivery.shop_domain,
                        "topic": delivery.topic,
                        "uri": delivery.uri,
                        "status": delivery.status,
                        "attempts": delivery.attempts,
                        "response_status": delivery.response_status,
                        "webhook_id": delivery.webhook_id,
                        "triggered_at": delivery.triggered_at,
                    }
                    for delivery in deliveries
                ]
            }
        )

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        body = request.get_json(silent=True, force=True) if request.get_data() else {}
        return body if isinstance(body, dict) else {}

    def on_control_order(self, request: Request, shop: str) -> Response:
        store = self._store(shop)
        body = self._body(request)
        try:
            order = store.create_order(
                body.get("customer_id"),
                paid=bool(body.get("paid", True)),
                guest=bool(body.get("guest", False)),
            )
        except KeyError as error:
            return _json({"errors": str(error.args[0])}, 404)
        return _json({"order": order}, 201)

    def on_control_checkout(self, request: Request, shop: str) -> Response:
        store = self._store(shop)
        body = self._body(request)
        try:
            checkout = store.create_checkout(
                body.get("customer_id"), guest=bool(body.get("guest", False))
            )
        except KeyError as error:
            return _json({"errors": str(error.args[0])}, 404)
        return _json({"checkout": checkout}, 201)

    def on_control_complete(self, request: Request, shop: str, token: str) -> Response:
        store = self._store(shop)
        try:
            order = store.complete_checkout(token)
        except KeyError as error:
            return _json({"errors": str(error.args[0])}, 404)
        except ValueError as error:
            return _json({"errors": str(error)}, 409)
        return _json({"order": order}, 201)

    def on_control_customer(self, request: Request, shop: str) -> Response:
        store = self._store(shop)
        try:
            customer = store.create_customer(**self._body(request))
        except (TypeError, ValueError) as error:
            return _json({"errors": str(error)}, 422)
        return _json({"customer": customer}, 201)

    def on_bulk_result(self, request: Request, number: int, shop: str | None = None) -> Response:
        """A completed bulk operation's JSONL (Shopify serves it from signed cloud storage)."""
        operation = self.sandbox.bulk.get(number)
        if operation is None or operation.status != "COMPLETED":
            raise NotFound()
        if shop is not None and shop != operation.domain:
            raise NotFound()
        return Response(operation.body, mimetype="application/jsonl")

    def on_control_silent_customer(self, request: Request, shop: str, number: int) -> Response:
        """Change a customer without sending its webhooks: a delivery Kizuna missed."""
        store = self._store(shop)
        with self.sandbox.webhooks_muted(store.domain):
            try:
                customer = store.update_customer(number, **self._body(request))
            except KeyError as error:
                return _json({"errors": str(error.args[0])}, 404)
            except (TypeError, ValueError) as error:
                return _json({"errors": str(error)}, 422)
        return _json({"customer": customer})

    def on_control_session(self, request: Request, shop: str) -> Response:
        store = self._store(shop)
        user_id = request.args.get("user_id", 1, type=int)
        ttl = request.args.get("ttl", 60, type=int)
        token = self.sandbox.mint_session_token(store.domain, user_id=user_id, ttl=ttl)
        return _json({"session_token": token, "shop": store.domain, "expires_in": ttl})

    def on_control_uninstall(self, request: Request, shop: str) -> Response:
        self._store(shop).uninstall_app()
        return Response(status=204)


class _QuietHandler(WSGIRequestHandler):
    """No access log: paths can carry authorization codes and recovery keys."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def serve_sandbox(
    sandbox: SandboxShopify, host: str = "127.0.0.1", port: int = 0
) -> tuple[BaseWSGIServer, str]:
    """Serve `sandbox` over HTTP in a daemon thread; stop it with `server.shutdown()`.

    The Admin schema starts building at once, so the first GraphQL call does not wait for it."""
    server = make_server(host, port, sandbox.wsgi_app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-shopify", daemon=True)
    thread.start()
    threading.Thread(target=admin_schema, name="sandbox-shopify-schema", daemon=True).start()
    return server, f"http://{host}:{server.server_port}"
