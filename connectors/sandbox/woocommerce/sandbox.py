"""`SandboxWooCommerce`: simulated WooCommerce stores over real HTTP, each under `/{store}/`.

Layer: connectors/sandbox (plain werkzeug). wc-auth (approved at once), REST v3 with its auth,
paging headers and meta updates, and signed webhooks. Unlike a real store it accepts plain http.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx
import requests
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response
from woocommerce.oauth import OAuth

from connectors.sandbox.images import CACHE_CONTROL as IMAGE_CACHE
from connectors.sandbox.images import CONTENT_TYPE as IMAGE_TYPE
from connectors.sandbox.images import product_png
from connectors.sandbox.woocommerce.coupons import create_coupon
from connectors.sandbox.woocommerce.store import (
    OPEN_CHECKOUT_STATUSES,
    SandboxStore,
    Webhook,
    generate_store,
    wc_time,
)
from connectors.sandbox.woocommerce.storefront import TIMEOUT, StorefrontScript, visit
from connectors.sandbox.woocommerce.webhooks import (
    Delivery,
    Dispatcher,
    _Job,
    event_headers,
    serialize,
)

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

SCOPES = ("read", "write", "read_write")
TOPICS = tuple(
    f"{resource}.{event}"
    for resource in ("coupon", "customer", "order", "product")
    for event in ("created", "updated", "deleted", "restored")
)
RESOURCES = {"customers": "customer", "orders": "order", "products": "product"}
OAUTH_WINDOW = 15 * 60
MAX_PER_PAGE = 100


class _RestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise _RestError(400, "rest_invalid_param", f"Invalid date: {value}") from error
    return parsed


class SandboxWooCommerce:
    """Any number of simulated stores; `wsgi_app` serves them all."""

    def __init__(self, seed: int = 7, *, max_failures: int = 5) -> None:
        self.rng = random.Random(seed)
        self.stores: dict[str, SandboxStore] = {}
        self.base_urls: dict[str, str] = {}
        self.faults: dict[str, list[tuple[int, float | None]]] = {}
        self._nonces: set[str] = set()
        self.scripts: dict[str, StorefrontScript] = {}  # url_path → Kizuna's script in the theme
        self._lock = threading.Lock()
        self.dispatcher = Dispatcher(self._render_delivery, max_failures=max_failures)
        self.url_map = Map(
            [
                Rule("/<store>/wc-auth/v1/authorize", endpoint="authorize", methods=["GET"]),
                Rule("/<store>/wp-content/uploads/<name>.png", endpoint="upload", methods=["GET"]),
                Rule(
                    "/<store>/wp-json/wc/v3/<kind>", endpoint="collection", methods=["GET", "POST"]
                ),
                Rule(
                    "/<store>/wp-json/wc/v3/<kind>/<int:item_id>",
                    endpoint="item",
                    methods=["GET", "PUT", "POST", "DELETE"],
                ),
            ]
        )

    # --- Python API -----------------------------------------------------------------------

    def add_store(
        self,
        url_path: str = "shop-a",
        *,
        customers: int = 20,
        years: int = 1,
        currency: str = "JPY",
        utc_offset_hours: int = 9,
        serve_images: bool = False,
    ) -> SandboxStore:
        """`serve_images`: product pictures come from the store's own `/wp-content/uploads/`."""
        store = generate_store(
            self.rng,
            url_path,
            customers=customers,
            years=years,
            currency=currency,
            utc_offset=timedelta(hours=utc_offset_hours),
            now=datetime.now(UTC).replace(microsecond=0),
            serve_images=serve_images,
        )
        self.stores[url_path] = store
        return store

    def store(self, url_path: str) -> SandboxStore:
        return self.stores[url_path]

    def issue_key(self, url_path: str, permissions: str = "read_write") -> tuple[str, str]:
        """A key as if created by hand under WooCommerce → Settings → Advanced → REST API."""
        key = self.stores[url_path].create_key("manual", permissions)
        return key.consumer_key, key.consumer_secret

    def fail_next(
        self, url_path: str, status: int, count: int = 1, retry_after: float | None = None
    ) -> None:
        """The next `count` REST calls to the store answer `status` (429/5xx tests)."""
        self.faults.setdefault(url_path, []).extend([(status, retry_after)] * count)

    def create_customer(self, url_path: str, email: str | None = None, **names: str) -> dict:
        store = self.stores[url_path]
        customer = store.add_customer(
            self.rng, datetime.now(UTC).replace(microsecond=0), email, **names
        )
        self._emit(store, "customer.created", customer["id"])
        return customer

    def create_order(
        self,
        url_path: str,
        *,
        customer_id: int | None = None,
        guest_email: str | None = None,
        status: str = "processing",
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        store = self.stores[url_path]
        customer = store.customers[customer_id] if customer_id else None
        with store.lock:
            order = store.add_order(
                self.rng,
                datetime.now(UTC).replace(microsecond=0),
                status=status,
                customer=customer,
                guest_email=guest_email,
            )
            for key, value in (meta or {}).items():
                _update_meta(store, order, {"key": key, "value": value})
        self._emit(store, "order.created", order["id"])
        return order

    def set_meta(self, url_path: str, kind: str, item_id: int, key: str, value: Any) -> None:
        """Set one meta entry on a customer or order, as a plugin would (`update_meta_data`),
        and fire `<resource>.updated`."""
        store = self.stores[url_path]
        with store.lock:
            item = self._get(store, kind, item_id)
            _update_meta(store, item, {"key": key, "value": value})
            _touch(item)
        self._emit(store, f"{RESOURCES[kind]}.updated", item_id)

    def update_order(self, url_path: str, order_id: int, *, status: str) -> dict[str, Any]:
        store = self.stores[url_path]
        with store.lock:
            order = store.orders[order_id]
            now = datetime.now(UTC).replace(microsecond=0)
            order["status"] = status
            order["modified"] = max(now, order["modified"] + timedelta(seconds=1))
            if status not in OPEN_CHECKOUT_STATUSES and order.get("paid") is None:
                order["paid"] = order["modified"]
        self._emit(store, "order.updated", order_id)
        return order

    def delete_customer(self, url_path: str, customer_id: int) -> None:
        """Delete a customer for good (`DELETE /customers/<id>?force=true`): `customer.deleted`."""
        store = self.stores[url_path]
        with store.lock:
            del store.customers[customer_id]
        self._emit(store, "customer.deleted", customer_id)

    def trash_order(self, url_path: str, order_id: int) -> None:
        """Move an order to the trash (no longer listed under `status=any`): `order.deleted`."""
        store = self.stores[url_path]
        with store.lock:
            order = store.orders[order_id]
            order["pre_trash_status"] = order["status"]
            order["status"] = "trash"
            _touch(order)
        self._emit(store, "order.deleted", order_id)

    def restore_order(self, url_path: str, order_id: int) -> dict[str, Any]:
        """Take an order out of the trash, with the status it had: `order.restored`."""
        store = self.stores[url_path]
        with store.lock:
            order = store.orders[order_id]
            order["status"] = order.pop("pre_trash_status", "processing")
            _touch(order)
        self._emit(store, "order.restored", order_id)
        return order

    def create_product(self, url_path: str, name: str) -> dict[str, Any]:
        store = self.stores[url_path]
        product = store.add_product(self.rng, name, datetime.now(UTC).replace(microsecond=0))
        self._emit(store, "product.created", product["id"])
        return product

    def update_product(self, url_path: str, product_id: int, *, price: int) -> dict[str, Any]:
        store = self.stores[url_path]
        with store.lock:
            product = store.products[product_id]
            product["price"] = str(price)
            for variation in product["variations"]:
                variation["price"] = price
            _touch(product)
        self._emit(store, "product.updated", product_id)
        return product

    def set_stock(self, url_path: str, product_id: int, quantity: int) -> dict[str, Any]:
        """The product's managed stock is now `quantity`; emits product.updated."""
        store = self.stores[url_path]
        with store.lock:
            product = store.products[product_id]
            product["stock_quantity"] = quantity
            _touch(product)
        self._emit(store, "product.updated", product_id)
        return product

    def render(self, url_path: str, kind: str, resource_id: int) -> dict[str, Any]:
        """A resource exactly as `GET /wp-json/wc/v3/<kind>/<id>` returns it."""
        store = self.stores[url_path]
        return self._render(store, kind, self._get(store, kind, resource_id))

    def install_storefront_script(self, url_path: str, src: str) -> None:
        """Add Kizuna's storefront script (`<script src=…>`) to every page of the store."""
        self.scripts[url_path] = StorefrontScript(src)

    def browse(self, url_path: str, rng: random.Random, client: httpx.Client) -> int:
        """One shopper's visit to the store's product pages, seen by its storefront script;
        → the number of events the script posted (0 without a script or a known address)."""
        script = self.scripts.get(url_path)
        store_url = self.base_urls.get(url_path)
        if script is None or store_url is None:
            return 0
        return visit(script, self.stores[url_path], store_url, rng, client)

    def run_activity(self, stop: threading.Event, *, interval: float = 5.0) -> None:
        """Shoppers browse every store with the script until `stop` is set (blocks; run it in a
        thread)."""
        rng = random.Random(f"{self.rng.random()}/storefront")
        with httpx.Client(timeout=TIMEOUT) as client:
            while not stop.wait(interval):
                for url_path in list(self.scripts):
                    if rng.random() < 0.6:
                        try:
                            self.browse(url_path, rng, client)
                        except Exception:
                            log.exception("storefront activity failed", extra={"store": url_path})

    def wait_for_deliveries(self, timeout: float = 10.0) -> list[Delivery]:
        self.dispatcher.wait(timeout)
        return list(self.dispatcher.deliveries)

    def close(self) -> None:
        self.dispatcher.close()

    # --- webhooks -------------------------------------------------------------------------

    def _emit(self, store: SandboxStore, topic: str, resource_id: int) -> None:
        for hook in list(store.webhooks.values()):
            if hook.topic == topic and hook.status == "active":
                self.dispatcher.event(store.url_path, hook.id, topic, resource_id)

    def _base_url(self, store: SandboxStore) -> str:
        return self.base_urls.get(store.url_path, f"https://sandbox.invalid/{store.url_path}")

    def _render_delivery(self, job: _Job) -> tuple[Webhook, bytes, dict[str, str]] | None:
        store = self.stores.get(job.store_key)
        hook = store.webhooks.get(job.webhook_id) if store else None
        if store is None or hook is None:
            return None
        if job.kind == "ping":
            body = urlencode({"webhook_id": hook.id}).encode()
            return hook, body, {"Content-Type": "application/x-www-form-urlencoded"}
        if hook.status != "active":
            return None
        resource, _, event = job.topic.partition(".")
        kind = resource + "s"
        if event == "deleted":
            payload: Any = {"id": job.resource_id}
        else:
            with store.lock:
                item = self._find(store, kind, job.resource_id)
                if item is None:
                    return None
                payload = self._render(store, kind, item)
        body = serialize(payload)
        source = self._base_url(store) + "/"
        return hook, body, event_headers(hook.id, job.topic, source, body, hook.secret)

    # --- WSGI -----------------------------------------------------------------------------

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, args = self.url_map.bind_to_environ(environ).match()
            store = self.stores.get(args["store"])
            if store is None:
                raise _RestError(404, "rest_no_route", "No route was found.")
            self.base_urls[store.url_path] = request.host_url.rstrip("/") + "/" + store.url_path
            handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
            response = handler(request, store, **{k: v for k, v in args.items() if k != "store"})
        except _RestError as error:
            response = _json(
                {"code": error.code, "message": error.message, "data": {"status": error.status}},
                error.status,
            )
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
        except HTTPException as error:
            response = _json(
                {"code": "rest_no_route", "message": error.description, "data": {}},
                error.code or 404,
            )
        return response(environ, start_response)

    def _upload(self, request: Request, store: SandboxStore, name: str) -> Response:
        """A product picture from the store's media library."""
        response = Response(product_png(name), 200, content_type=IMAGE_TYPE)
        response.headers["Cache-Control"] = IMAGE_CACHE
        return response

    def _authorize(self, request: Request, store: SandboxStore) -> Response:
        args = request.args
        names = ("app_name", "scope", "user_id", "return_url", "callback_url")
        missing = [name for name in names if not args.get(name)]
        if missing:
            return Response(f"Error: missing parameter {missing[0]}", 400)
        if args["scope"] not in SCOPES:
            return Response("Error: invalid scope", 400)
        for name in ("return_url", "callback_url"):
            if urlsplit(args[name]).scheme not in ("http", "https"):
                return Response(f"Error: invalid {name}", 400)
        key = store.create_key(args["app_name"], args["scope"])
        body = {
            "key_id": key.key_id,
            "user_id": args["user_id"],  # echoed back as the string it came as
            "consumer_key": key.consumer_key,
            "consumer_secret": key.consumer_secret,
            "key_permissions": key.permissions,
        }
        try:
            answer = requests.post(
                args["callback_url"],
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json;charset=UTF-8"},
                timeout=60,
                allow_redirects=False,
            )
            accepted = answer.status_code == 200
        except requests.RequestException:
            accepted = False
        if not accepted:
            store.delete_key(key.consumer_key)
            return Response(
                "Error: An error occurred in the request and at the time were "
                "unable to send the consumer data",
                401,
            )
        separator = "&" if "?" in args["return_url"] else "?"
        target = (
            args["return_url"] + separator + urlencode({"success": 1, "user_id": args["user_id"]})
        )
        return Response("", 302, headers={"Location": target})

    # --- REST -----------------------------------------------------------------------------

    def _authenticate(self, request: Request, store: SandboxStore, write: bool) -> None:
        faults = self.faults.get(store.url_path)
        if faults:
            status, retry_after = faults.pop(0)
            error = _RestError(status, "sandbox_fault", "Injected failure")
            error.retry_after = retry_after  # type: ignore[attr-defined]
            raise error
        key = self._basic_key(request, store) or self._oauth_key(request, store)
        if key is None:
            raise _RestError(
                401, "woocommerce_rest_authentication_error", "Consumer key is invalid."
            )
        if write and key.permissions == "read":
            raise _RestError(
                401,
                "woocommerce_rest_authentication_error",
                "The API key provided does not have write permissions.",
            )

    def _basic_key(self, request: Request, store: SandboxStore) -> Any:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            ck, _, cs = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        key = store.keys.get(ck)
        if key is None or not hmac.compare_digest(key.consumer_secret.encode(), cs.encode()):
            return None
        return key

    def _oauth_key(self, request: Request, store: SandboxStore) -> Any:
        params = dict(request.args.items())
        key = store.keys.get(params.get("oauth_consumer_key", ""))
        signature = params.pop("oauth_signature", None)
        if key is None or signature is None:
            return None
        try:
            timestamp = int(params.get("oauth_timestamp", "0"))
        except ValueError:
            return None
        nonce = params.get("oauth_nonce", "")
        if abs(time.time() - timestamp) > OAUTH_WINDOW or not nonce:
            return None
        url = request.base_url
        expected = OAuth(
            url, key.consumer_key, key.consumer_secret, version="wc/v3", method=request.method
        ).generate_oauth_signature(params, url)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return None
        with self._lock:
            if f"{key.consumer_key}:{nonce}" in self._nonces:
                return None
            self._nonces.add(f"{key.consumer_key}:{nonce}")
        return key

    def _collection(self, request: Request, store: SandboxStore, kind: str) -> Response:
        write = request.method == "POST"
        self._authenticate(request, store, write)
        if kind == "webhooks" and write:
            return self._create_webhook(request, store)
        if kind == "coupons" and write:
            with store.lock:
                status, coupon = create_coupon(store, _body(request))
            return _json(coupon, status)
        if kind == "system_status" and not write:
            base = self._base_url(store)
            environment = {"home_url": base, "site_url": base, "version": "9.4.0"}
            settings = {"currency": store.currency, "currency_symbol": "&yen;"}
            return _json({"environment": environment, "settings": settings}, 200)
        if write or (kind not in RESOURCES and kind != "webhooks"):
            raise _RestError(404, "rest_no_route", "No route was found matching the URL.")
        with store.lock:
            items = self._filtered(request, store, kind)
            page, per_page, offset = _paging(request)
            total = len(items)
            pages = math.ceil(total / per_page) if total else 0
            start = offset if offset is not None else (page - 1) * per_page
            body = [self._render(store, kind, item) for item in items[start : start + per_page]]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = []
        base = f"{request.base_url}"
        query = {k: v for k, v in request.args.items() if not k.startswith("oauth_")}
        if page > 1 and offset is None:
            links.append(f'<{base}?{urlencode({**query, "page": page - 1})}>; rel="prev"')
        if page < pages and offset is None:
            links.append(f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return _json(body, 200, headers)

    def _item(self, request: Request, store: SandboxStore, kind: str, item_id: int) -> Response:
        write = request.method != "GET"
        self._authenticate(request, store, write)
        with store.lock:
            item = self._get(store, kind, item_id)
            if kind == "webhooks" and request.method in ("PUT", "POST"):
                self._update_webhook(item, _body(request))
            elif kind == "webhooks" and request.method == "DELETE":
                if request.args.get("force") not in ("true", "1"):
                    raise _RestError(
                        501,
                        "woocommerce_rest_trash_not_supported",
                        "Webhooks do not support trashing.",
                    )
                rendered = self._render(store, kind, item)
                del store.webhooks[item_id]
                return _json(rendered, 200)
            elif kind == "customers" and request.method in ("PUT", "POST"):
                self._update_customer(store, item, _body(request))
            elif write:
                raise _RestError(501, "sandbox_not_implemented", "Not simulated.")
            rendered = self._render(store, kind, item)
        if kind == "customers" and write:
            self._emit(store, "customer.updated", item_id)
        return _json(rendered, 200)

    def _update_customer(
        self, store: SandboxStore, customer: dict[str, Any], data: dict[str, Any]
    ) -> None:
        """`PUT /customers/<id>`: only `meta_data` and the names are simulated."""
        entries = data.get("meta_data", [])
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("key"), str) and e["key"] for e in entries
        ):
            raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): meta_data")
        for name in ("first_name", "last_name"):
            if isinstance(data.get(name), str):
                customer[name] = data[name]
        for entry in entries:
            _update_meta(store, customer, entry)
        _touch(customer)

    def _create_webhook(self, request: Request, store: SandboxStore) -> Response:
        data = _body(request)
        topic, url = data.get("topic"), data.get("delivery_url")
        if not topic or not url:
            raise _RestError(
                400, "rest_missing_callback_param", "Missing parameter(s): topic, delivery_url"
            )
        if topic not in TOPICS:
            raise _RestError(400, "woocommerce_rest_webhook_invalid_topic", "Invalid topic.")
        status = data.get("status", "active")
        if status not in ("active", "paused", "disabled"):
            raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): status")
        hook = store.new_webhook(
            name=data.get("name") or topic,
            topic=topic,
            delivery_url=url,
            secret=data.get("secret") or base64.b64encode(random.randbytes(36)).decode(),
            status=status,
        )
        self.dispatcher.ping(store.url_path, hook.id)
        location = f"{request.base_url}/{hook.id}"
        return _json(self._render(store, "webhooks", hook), 201, {"Location": location})

    def _update_webhook(self, hook: Webhook, data: dict[str, Any]) -> None:
        if "status" in data:
            if data["status"] not in ("active", "paused", "disabled"):
                raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): status")
            hook.status = data["status"]
            if hook.status == "active":
                hook.failure_count = 0
        for name in ("name", "delivery_url", "secret"):
            if data.get(name):
                setattr(hook, name, data[name])
        if data.get("topic"):
            if data["topic"] not in TOPICS:
                raise _RestError(400, "woocommerce_rest_webhook_invalid_topic", "Invalid topic.")
            hook.topic = data["topic"]
        hook.modified_at = datetime.now(UTC)

    def _find(self, store: SandboxStore, kind: str, item_id: int) -> Any:
        tables: dict[str, dict[int, Any]] = {
            "customers": store.customers,
            "orders": store.orders,
            "products": store.products,
            "webhooks": store.webhooks,
        }
        table = tables.get(kind, {})
        return table.get(item_id)

    def _get(self, store: SandboxStore, kind: str, item_id: int) -> Any:
        item = self._find(store, kind, item_id)
        if item is None:
            raise _RestError(404, f"woocommerce_rest_{kind[:-1]}_invalid_id", "Invalid ID.")
        return item

    def _render(self, store: SandboxStore, kind: str, item: Any) -> dict[str, Any]:
        base = self._base_url(store)
        if kind == "customers":
            return store.render_customer(item, base)
        if kind == "orders":
            return store.render_order(item, base)
        if kind == "products":
            return store.render_product(item, base)
        hook: Webhook = item
        resource, _, event = hook.topic.partition(".")
        return {
            "id": hook.id,
            "name": hook.name,
            "status": hook.status,
            "topic": hook.topic,
            "resource": resource,
            "event": event,
            "hooks": [],
            "delivery_url": hook.delivery_url,
            "date_created": wc_time(hook.created_at + store.utc_offset),
            "date_created_gmt": wc_time(hook.created_at),
            "date_modified": wc_time(hook.modified_at + store.utc_offset),
            "date_modified_gmt": wc_time(hook.modified_at),
            "_links": {"self": [{"href": f"{base}/wp-json/wc/v3/webhooks/{hook.id}"}]},
        }

    def _filtered(self, request: Request, store: SandboxStore, kind: str) -> list[Any]:
        args = request.args
        if kind == "webhooks":
            hooks = sorted(store.webhooks.values(), key=lambda h: h.id)
            status = args.get("status", "all")
            return [h for h in hooks if status == "all" or h.status == status]
        if kind == "customers":
            items = list(store.customers.values())
            if args.get("email"):
                items = [c for c in items if c["email"] == args["email"]]
            orderby = {"registered_date": "created"}.get(args.get("orderby", "id"), "id")
            return sorted(items, key=lambda c: c[orderby], reverse=args.get("order") == "desc")
        items = list(store.orders.values() if kind == "orders" else store.products.values())
        gmt = args.get("dates_are_gmt") in ("true", "1")
        shift = timedelta(0) if gmt else store.utc_offset
        for name, field, keep in (
            ("modified_after", "modified", lambda a, b: a > b),
            ("modified_before", "modified", lambda a, b: a < b),
            ("after", "created", lambda a, b: a > b),
            ("before", "created", lambda a, b: a < b),
        ):
            if args.get(name):
                bound = _parse_time(args[name])
                bound = bound.astimezone(UTC) if bound.tzinfo else bound.replace(tzinfo=UTC) - shift
                items = [i for i in items if keep(i[field], bound)]
        if kind == "orders":
            statuses = [s for s in args.get("status", "any").split(",") if s]
            if "any" in statuses:
                items = [o for o in items if o["status"] != "trash"]
            else:
                items = [o for o in items if o["status"] in statuses]
            if args.get("customer"):
                items = [o for o in items if str(o["customer_id"]) == args["customer"]]
        sort_field = {"date": "created", "id": "id", "modified": "modified"}.get(
            args.get("orderby") or "date"
        )
        if sort_field is None:
            raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): orderby")
        return sorted(
            items,
            key=lambda i: (i[sort_field], i["id"]),
            reverse=args.get("order", "desc") == "desc",
        )


def _update_meta(store: SandboxStore, item: dict[str, Any], entry: dict[str, Any]) -> None:
    """WC_Data::update_meta_data: the entry with this id, else the first with this key (other
    entries with the key are dropped), else a new entry."""
    meta: list[dict[str, Any]] = item.setdefault("meta_data", [])
    key, value = entry["key"], entry.get("value")
    target = None
    if entry.get("id") is not None:
        target = next((m for m in meta if str(m["id"]) == str(entry["id"])), None)
        if target is None:
            raise _RestError(400, "woocommerce_rest_invalid_meta_id", "Invalid meta ID.")
    else:
        matches = [m for m in meta if m["key"] == key]
        if matches:
            target = matches[0]
            item["meta_data"] = meta = [m for m in meta if m["key"] != key or m is target]
    if target is None:
        meta.append({"id": store.next_id(), "key": key, "value": value})
    else:
        target["key"], target["value"] = key, value


def _touch(item: dict[str, Any]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    item["modified"] = max(now, item["modified"] + timedelta(seconds=1))


def _paging(request: Request) -> tuple[int, int, int | None]:
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", "10"))
        offset = int(request.args["offset"]) if "offset" in request.args else None
    except ValueError as error:
        raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): page") from error
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise _RestError(
            400,
            "rest_invalid_param",
            "Invalid parameter(s): per_page (per_page must be between 1 (inclusive) "
            "and 100 (inclusive))",
        )
    if page < 1:
        raise _RestError(400, "rest_invalid_param", "Invalid parameter(s): page")
    return page, per_page, offset


def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.get_data() or b"{}")
    except ValueError as error:
        raise _RestError(400, "rest_invalid_json", "Invalid JSON body passed.") from error
    if not isinstance(data, dict):
        raise _RestError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return data


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status, content_type="application/json; charset=UTF-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
