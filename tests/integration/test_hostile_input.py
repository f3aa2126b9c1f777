"""Hostile input over every route: whatever arrives, the answer is a 2xx/3xx or a 4xx, never a 5xx.

Real PostgreSQL and Redis (see conftest). The cases are generated from `app.url_map`: every
route and every method it accepts (a new route is covered without a line here), called
anonymously, with a password session (and its CSRF token) and with a Shopify session token
(Bearer). Each gets oversized bodies and headers, NUL and invalid UTF-8 in the path, the query,
forms and JSON, deeply nested JSON, huge and negative numbers and ids, JSON of the wrong types,
missing and duplicated headers. Query and form names come from the code (`request.args.get`,
`request.form.get`) and from the forms the signed-in pages render, so new fields are probed too.
Webhooks are also sent correctly signed, so the hostile body reaches the parser behind the check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from flask import Flask
from werkzeug.datastructures import Headers
from werkzeug.routing import Rule

from app.storefront import capture_key
from tests.conftest import SHOPIFY_API_SECRET
from tests.factories import hostile_input
from tests.factories.hostile_input import WC_ORIGIN
from tests.factories.tenants import (
    ID_TABLES,
    MERCHANT_ENDPOINTS,
    PLAIN_ARGUMENTS,
    Tenant,
    password_login,
    session_token,
)

tenant = hostile_input.tenant


pytestmark = pytest.mark.integration

APP_DIR = Path(__file__).resolve().parents[2] / "app"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
BIG_IDS = (2**31, 2**63, 10**30, -1, 0)
NUL = "probe\x00nul"
LONG = "x" * 3000  # past every text column, within the form and query caps
HUGE_NUMBERS = ("9" * 40, "1e400", str(2**31), "-99999999999", "NaN")
# A 5xx that is a route's answer whatever the input, and why.
STATUS_BY_DESIGN = {
    "health.healthz": (503,),  # reports the service unhealthy (no worker heartbeat in tests)
}


# --- what to send -----------------------------------------------------------------------------


def field_names_in_code() -> tuple[set[str], set[str]]:
    """Query and form names the views read, straight from the source."""
    query: set[str] = set()
    form: set[str] = set()
    for path in APP_DIR.rglob("*.py"):
        source = path.read_text()
        query.update(re.findall(r'request\.args(?:\.get|\.getlist)?\(\s*"([^"]+)"', source))
        query.update(re.findall(r'request\.args\[\s*"([^"]+)"\s*\]', source))
        form.update(re.findall(r'request\.form(?:\.get|\.getlist)?\(\s*"([^"]+)"', source))
    return query, form


def field_names_in_pages(html: str) -> set[str]:
    return set(re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', html))


@dataclass(frozen=True)
class Probe:
    """One hostile request's parts, applied on top of a caller's own headers."""

    name: str
    path_args: dict[str, str] | None = None  # None: the tenant's own objects
    query: bytes | None = None  # raw query string
    body: bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    drop_headers: tuple[str, ...] = ()
    needs_body_method: bool = False


def _encode_pairs(names: set[str], value: str | bytes) -> bytes:
    raw = value if isinstance(value, bytes) else quote(value, safe="").encode()
    return b"&".join(quote(name, safe="").encode() + b"=" + raw for name in sorted(names))


def query_probes(names: set[str]) -> list[Probe]:
    probes = [
        Probe("query NUL", query=_encode_pairs(names, NUL)),
        Probe("query invalid UTF-8", query=_encode_pairs(names, b"%FF%FEbad")),
        Probe("query long", query=_encode_pairs(names, LONG[:1000])),
        Probe("query oversized", query=_encode_pairs({"q"}, "q" * 100_000)),
        Probe(
            "query duplicated", query=_encode_pairs(names, "1") + b"&" + _encode_pairs(names, "2")
        ),
    ]
    probes += [Probe(f"query number {n}", query=_encode_pairs(names, n)) for n in HUGE_NUMBERS]
    return probes


def json_object(value: Any) -> dict[str, Any]:
    """Every key a JSON endpoint reads, each holding `value` (a hostile value in every slot)."""
    rule = {
        "match": "all",
        "rules": [
            {"field": f, "op": "gte", "value": value}
            for f in (
                "orders_count",
                "total_spent",
                "last_order_days",
                "first_name",
                "tags",
                "city",
            )
        ],
    }
    return {
        "name": value,
        "rule": rule,
        "email": value,
        "cart_token": value,
        "currency": value,
        "cart_url": value,
        "marketing_consent": value,
        "items": [{"title": value, "quantity": value, "price": value, "product_id": value}],
        "key_id": value,
        "user_id": value,
        "consumer_key": value,
        "consumer_secret": value,
        "key_permissions": value,
        "id": value,
        "email_address": value,
    }


def body_probes(form_names: set[str]) -> list[Probe]:
    form = "application/x-www-form-urlencoded"
    probes = [
        Probe("body oversized", body=b"a=" + b"a" * (6 * 1024 * 1024), content_type=form),
        Probe("form NUL", body=_encode_pairs(form_names, NUL), content_type=form),
        Probe("form invalid UTF-8", body=_encode_pairs(form_names, b"%FF%FE"), content_type=form),
        Probe("form long", body=_encode_pairs(form_names, LONG), content_type=form),
        Probe(
            "multipart NUL",
            body=(b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\x00y\r\n--b--\r\n'),
            content_type="multipart/form-data; boundary=b",
        ),
        Probe("form without content type", body=_encode_pairs(form_names, "x")),
        Probe("json deep", body=b"[" * 5000 + b"]" * 5000, content_type="application/json"),
        Probe(
            "json deep as text",
            body=b'{"a":' * 5000 + b"1" + b"}" * 5000,
            content_type="text/plain",
        ),
        Probe("json invalid UTF-8", body=b'{"name": "\xff\xfe"}', content_type="application/json"),
        Probe("json broken", body=b'{"name": ', content_type="application/json"),
        Probe(
            "json NUL", body=json.dumps(json_object(NUL)).encode(), content_type="application/json"
        ),
        Probe(
            "json long",
            body=json.dumps(json_object(LONG)).encode(),
            content_type="application/json",
        ),
    ]
    probes += [
        Probe(f"form number {n}", body=_encode_pairs(form_names, n), content_type=form)
        for n in HUGE_NUMBERS
    ]
    for label, value in (
        ("int", 10**30),
        ("int31", 2**31),
        ("negative", -(10**20)),
        ("float", 1e308),
        ("list", []),
        ("object", {}),
        ("null", None),
        ("bool", True),
    ):
        probes.append(
            Probe(
                f"json {label}",
                body=json.dumps(json_object(value)).encode(),
                content_type="application/json",
            )
        )
    probes += [
        Probe(
            "json 1e400", body=b'{"name": 1e400, "rule": 1e400}', content_type="application/json"
        ),
        Probe(
            "json huge int", body=b'{"name": ' + b"9" * 5000 + b"}", content_type="application/json"
        ),
        Probe("json array", body=b"[]", content_type="application/json"),
        Probe("json string", body=b'"rule"', content_type="application/json"),
        Probe("json null", body=b"null", content_type="application/json"),
    ]
    return [replace(p, needs_body_method=True) for p in probes]


def header_probes() -> list[Probe]:
    big = "h" * 70_000
    return [
        Probe("header oversized", headers=(("X-Padding", big),)),
        Probe("header oversized auth", headers=(("Authorization", f"Bearer {big}"),)),
        Probe("header NUL", headers=(("X-Shopify-Shop-Domain", NUL), ("X-Shopify-Topic", NUL))),
        Probe(
            "headers duplicated",
            headers=(
                ("Authorization", "Bearer a.b.c"),
                ("Authorization", "Bearer d.e.f"),
                ("X-Shopify-Hmac-Sha256", "x"),
                ("X-Shopify-Hmac-Sha256", "y"),
                ("Content-Type", "application/json"),
                ("Content-Type", "text/plain"),
            ),
        ),
        Probe("headers missing", drop_headers=("Authorization", "Origin", "Cookie")),
        Probe("header invalid latin-1", headers=(("X-Shopify-Shop-Domain", "ÿþshop"),)),
    ]


def path_probes(rule: Rule) -> list[Probe]:
    probes = []
    for argument in sorted(rule.arguments):
        converter = type(rule._converters[argument]).__name__
        if "Integer" in converter or "Id" in converter:
            values = [str(n) for n in BIG_IDS]
        else:
            values = ["%00", "%FF", "a%00b", "x" * 5000, "..%2F..%2Fetc"]
        probes += [Probe(f"path {argument}={v[:20]}", path_args={argument: v}) for v in values]
    return probes


class FormHarvester(HTMLParser):
    """The POST forms of a page: action path → the fields a browser would send, with values."""

    def __init__(self, page_path: str) -> None:
        super().__init__()
        self.page_path = page_path
        self.forms: dict[str, dict[str, str]] = {}
        self._fields: dict[str, str] | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        name = found.get("name", "")
        if tag == "form" and found.get("method", "get").lower() == "post":
            action = urlsplit(found.get("action") or self.page_path).path or self.page_path
            self._fields = self.forms.setdefault(action, {})
        elif self._fields is None:
            return
        elif tag == "option" and self._select:
            if "selected" in found or self._select not in self._fields:
                self._fields[self._select] = found.get("value", "")
        elif not name or name == "csrf_token":
            return
        elif tag == "input":
            kind = found.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in found:
                return
            # An empty text box gets a plausible value, so the probe reaches the other fields.
            self._fields.setdefault(name, found.get("value") or "probe")
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            self._fields.setdefault(name, "")

    def handle_data(self, data: str) -> None:
        if self._fields is not None and self._textarea:
            self._fields[self._textarea] += data

    def close(self) -> None:
        super().close()
        for fields in self.forms.values():
            for name, value in fields.items():
                fields[name] = value or "probe"

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


# Hostile values put in one form field at a time, the rest of the form left as the page has it.
FIELD_VALUES: tuple[str | bytes, ...] = (NUL, b"%FF%FE", LONG, "9" * 40, "-99999999999", "1e400")
# A JSON body every JSON endpoint would accept in shape; each leaf is replaced in turn.
JSON_BASELINE: dict[str, Any] = {
    "name": "Hostile probe",
    "rule": {
        "match": "all",
        "rules": [
            {"field": "orders_count", "op": "gte", "value": "1"},
            {"field": "tag", "op": "has", "value": "vip"},
            {"field": "total_spent", "op": "gte", "value": "10"},
            {"field": "last_order_at", "op": "within_days", "value": "30"},
        ],
    },
    "email": "shopper@hostile-shop.example",
    "cart_token": "hostile-cart-0001",
    "items": [{"title": "Tea", "quantity": 1, "price": "10.00", "product_id": "7"}],
    "currency": "JPY",
    "marketing_consent": True,
    "cart_url": f"{WC_ORIGIN}/cart/",
    "key_id": 1,
    "user_id": "1",
    "consumer_key": "ck_hostile",
    "consumer_secret": "cs_hostile",
    "key_permissions": "read_write",
}
LEAF_VALUES: tuple[Any, ...] = (NUL, 10**30, 2**31, -(10**20), 1e308, "9" * 40, LONG, [], None)


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*prefix, index))
    else:
        yield prefix


def with_leaf(value: Any, path: tuple[Any, ...], leaf: Any) -> Any:
    if not path:
        return leaf
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = leaf
    return copy


def reads_json(app: Flask, endpoint: str) -> bool:
    source = inspect.getsource(inspect.unwrap(app.view_functions[endpoint]))
    return "get_json" in source or "json.loads" in source or "_body()" in source


def form_field_probes(forms: dict[str, dict[str, str]], path: str) -> list[Probe]:
    fields = forms.get(path)
    if not fields:
        return []
    probes = []
    for name in sorted(fields):
        for value in FIELD_VALUES:
            raw = value if isinstance(value, bytes) else quote(value, safe="").encode()
            others = {k: v for k, v in fields.items() if k != name}
            body = (urlencode(others).encode() + b"&" if others else b"") + (
                quote(name, safe="").encode() + b"=" + raw
            )
            probes.append(
                Probe(
                    f"form field {name}={str(value)[:12]!r}",
                    body=body,
                    content_type="application/x-www-form-urlencoded",
                    needs_body_method=True,
                )
            )
    return probes


def json_leaf_probes() -> list[Probe]:
    probes = []
    for path in leaf_paths(JSON_BASELINE):
        for leaf in LEAF_VALUES:
            body = json.dumps(with_leaf(JSON_BASELINE, path, leaf)).encode()
            label = ".".join(str(p) for p in path)
            probes.append(
                Probe(
                    f"json {label}={str(leaf)[:12]!r}",
                    body=body,
                    content_type="application/json",
                    needs_body_method=True,
                )
            )
    return probes


# --- who sends it -----------------------------------------------------------------------------


@dataclass
class Caller:
    name: str
    client: Any
    headers: dict[str, str]
    csrf: str | None = None


def callers(app: Flask, tenant: Tenant) -> Iterator[Caller]:
    yield Caller("anonymous", app.test_client(), {})
    cookie = app.test_client()
    csrf = password_login(cookie, tenant.email)
    yield Caller("password session", cookie, {"X-CSRF-Token": csrf}, csrf)
    yield Caller(
        "session token",
        app.test_client(),
        {"Authorization": f"Bearer {session_token(tenant.domain)}"},
    )


def default_path(rule: Rule, tenant: Tenant) -> dict[str, str]:
    values = {}
    for argument in rule.arguments:
        if argument in ID_TABLES and ID_TABLES[argument] in tenant.ids:
            values[argument] = str(tenant.ids[ID_TABLES[argument]])
        elif argument in PLAIN_ARGUMENTS:
            values[argument] = PLAIN_ARGUMENTS[argument]
        else:
            values[argument] = "1"  # unknown arguments are probed by `path_probes` all the same
    return values


def fill(rule: Rule, values: dict[str, str]) -> str:
    path = rule.rule
    for argument, value in values.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{re.escape(argument)}>", value, path)
    return path


def base_query(rule: Rule, tenant: Tenant, secret_key: str) -> bytes:
    """The query a route needs to get past its first check (the storefront's store and key)."""
    if rule.endpoint.startswith("storefront."):
        shop_id = tenant.ids["woocommerce_shop"]
        return f"shop={shop_id}&key={capture_key(secret_key, shop_id)}".encode()
    if rule.endpoint == "webhooks.woocommerce_webhook":
        return f"shop={tenant.ids['woocommerce_shop']}".encode()
    return b""


def signed_headers(rule: Rule, body: bytes, tenant: Tenant) -> dict[str, str]:
    """Headers that pass a webhook's signature check for `body` (Shopify's only: the others
    hold per-store or per-account secrets the hostile cases reach unsigned)."""
    if rule.endpoint != "webhooks.shopify_webhook":
        return {}
    digest = hmac.new(SHOPIFY_API_SECRET.encode(), body, hashlib.sha256).digest()
    return {
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": tenant.domain,
        "X-Shopify-Webhook-Id": "hostile-1",
        "X-Shopify-Event-Id": "hostile-1",
        "X-Shopify-Triggered-At": "2026-12-07T00:00:00Z",
        "X-Shopify-API-Version": "2026-07",
    }


_ADDRESSES = itertools.count(1)
# The longest probe sets run as this many tests, each every PARTS-th probe (see `run_probes`).
PARTS = 3


def send(
    caller: Caller,
    method: str,
    rule: Rule,
    probe: Probe,
    tenant: Tenant,
    secret_key: str,
    *,
    signed: bool = False,
) -> tuple[str, Any]:
    path = fill(rule, {**default_path(rule, tenant), **(probe.path_args or {})})
    query = base_query(rule, tenant, secret_key)
    if probe.query is not None:
        query = query + b"&" + probe.query if query else probe.query
    headers = Headers()
    own = dict(caller.headers)
    if rule.endpoint.startswith("storefront."):
        own["Origin"] = WC_ORIGIN
    body = probe.body
    if body is None and method != "GET" and caller.csrf:
        body = f"csrf_token={caller.csrf}".encode()
    elif (
        body is not None
        and caller.csrf
        and probe.content_type
        and "urlencoded" in probe.content_type
    ):
        body = f"csrf_token={caller.csrf}&".encode() + body
    if signed and body is not None:
        own.update(signed_headers(rule, body, tenant))
    for name, value in own.items():
        if name not in probe.drop_headers:
            headers.add(name, value)
    for name, value in probe.headers:
        headers.add(name, value)
    if probe.content_type:
        headers["Content-Type"] = probe.content_type
    if "Cookie" in probe.drop_headers:
        caller = Caller(caller.name, caller.client.application.test_client(), caller.headers)
    # Each request from its own address: the storefront's per-address rate limit stays out of
    # the way of the parser behind it.
    counter = next(_ADDRESSES)
    environ = {
        "QUERY_STRING": query.decode("latin-1"),
        "REMOTE_ADDR": f"10.{counter >> 16 & 255}.{counter >> 8 & 255}.{counter & 255}",
    }
    response = caller.client.open(
        path, method=method, headers=headers, data=body, environ_overrides=environ
    )
    response.get_data()
    response.close()
    return f"[{caller.name}] {method} {path[:80]} ({rule.endpoint}) {probe.name}", response


def merchant_route(rule: Rule) -> bool:
    return rule.endpoint.startswith(("admin.", "api.")) or rule.endpoint in MERCHANT_ENDPOINTS


def one_caller_each(caller: Caller, rule: Rule) -> bool:
    """Field-by-field probes go to each route once: signed in (password session, with its CSRF
    token) where the route is a merchant's, anonymously elsewhere."""
    return caller.name == ("password session" if merchant_route(rule) else "anonymous")


def run_probes(
    app: Flask,
    tenant: Tenant,
    probes_for: Callable[[Rule], list[Probe]],
    who: Callable[[Caller, Rule], bool] = lambda caller, rule: True,
    part: int | None = None,
) -> list[str]:
    """Send every probe to every route it fits; what answered wrongly. `part` (0 to PARTS-1):
    only every PARTS-th probe from the `part`-th, so a long test runs as PARTS shorter tests
    that together send every probe."""
    problems: list[str] = []
    sent = 0
    app.config["PROPAGATE_EXCEPTIONS"] = False  # an unhandled error answers 500, as in production
    secret_key = app.config["SECRET_KEY"]
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    for caller in callers(app, tenant):
        if caller.name != "anonymous":
            # The control: a signed-in caller gets past the door, so its probes reach the views.
            shop = caller.client.get("/api/v1/shop", headers=caller.headers)
            assert shop.status_code == 200, f"{caller.name}: {shop.status_code}"
        for rule in rules:
            if not who(caller, rule):
                continue
            for method in sorted(m for m in (rule.methods or ()) if m in METHODS):
                probes = probes_for(rule)
                for probe in probes if part is None else probes[part::PARTS]:
                    if probe.needs_body_method and method == "GET":
                        continue
                    sent += 1
                    signings = (False, True) if rule.endpoint.startswith("webhooks.") else (False,)
                    for signed in signings:
                        where, response = send(
                            caller, method, rule, probe, tenant, secret_key, signed=signed
                        )
                        status = response.status_code
                        if status in STATUS_BY_DESIGN.get(rule.endpoint, ()):
                            continue
                        if status >= 500:
                            problems.append(f"{where}: answered {status}")
                        elif status >= 400 and not response.get_data(as_text=True).strip():
                            problems.append(f"{where}: answered {status} without a reason")
    assert sent, "no probe was sent"
    return problems


# --- tests ------------------------------------------------------------------------------------


@pytest.fixture
def names(app: Flask, tenant: Tenant) -> tuple[set[str], set[str]]:
    """Query names and form names: from the code and from every signed-in page's forms."""
    query, form = field_names_in_code()
    client = app.test_client()
    password_login(client, tenant.email)
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and not rule.endpoint.startswith(("static", "webhooks")):
            page = client.get(fill(rule, default_path(rule, tenant)))
            if page.mimetype == "text/html":
                form |= field_names_in_page(page.get_data(as_text=True))
    form.discard("csrf_token")
    return query, form


def field_names_in_page(html: str) -> set[str]:
    return field_names_in_pages(html)


@pytest.fixture
def forms(app: Flask, tenant: Tenant) -> dict[str, dict[str, str]]:
    """Every POST form the pages render (signed in and not), by the path it posts to."""
    found: dict[str, dict[str, str]] = {}
    signed_in = app.test_client()
    password_login(signed_in, tenant.email)
    for client in (app.test_client(), signed_in):
        for rule in app.url_map.iter_rules():
            if "GET" not in (rule.methods or ()) or rule.endpoint.startswith(
                ("static", "webhooks")
            ):
                continue
            path = fill(rule, default_path(rule, tenant))
            page = client.get(path)
            if page.mimetype == "text/html":
                harvester = FormHarvester(path)
                harvester.feed(page.get_data(as_text=True))
                harvester.close()
                for action, fields in harvester.forms.items():
                    found.setdefault(action, {}).update(fields)
    return found


def test_hostile_paths_and_headers_never_get_a_server_error(app: Flask, tenant: Tenant) -> None:
    problems = run_probes(app, tenant, lambda rule: path_probes(rule) + header_probes())
    assert not problems, f"{len(problems)} failures:\n" + "\n".join(problems[:80])


@pytest.mark.parametrize("part", range(PARTS))
def test_hostile_queries_never_get_a_server_error(
    app: Flask, tenant: Tenant, names: tuple[set[str], set[str]], part: int
) -> None:
    probes = query_probes(names[0])
    problems = run_probes(app, tenant, lambda rule: probes, part=part)
    assert not problems, f"{len(problems)} failures:\n" + "\n".join(problems[:80])


@pytest.mark.parametrize("part", range(PARTS))
def test_hostile_bodies_never_get_a_server_error(
    app: Flask, tenant: Tenant, names: tuple[set[str], set[str]], part: int
) -> None:
    probes = body_probes(names[1])
    problems = run_probes(app, tenant, lambda rule: probes, part=part)
    assert not problems, f"{len(problems)} failures:\n" + "\n".join(problems[:80])


def test_every_form_field_of_every_page_takes_hostile_values(
    app: Flask, tenant: Tenant, forms: dict[str, dict[str, str]]
) -> None:
    assert "/login" in forms, sorted(forms)
    assert any(p.endswith("/inquiries") for p in forms), sorted(forms)

    def probes(rule: Rule) -> list[Probe]:
        return form_field_probes(forms, fill(rule, default_path(rule, tenant)))

    problems = run_probes(app, tenant, probes, one_caller_each)
    assert not problems, f"{len(problems)} failures:\n" + "\n".join(problems[:80])


@pytest.mark.parametrize("part", range(PARTS))
def test_every_json_field_takes_hostile_values(app: Flask, tenant: Tenant, part: int) -> None:
    probes = json_leaf_probes()
    json_endpoints = {e for e in app.view_functions if e != "static" and reads_json(app, e)}
    assert {"api.create_segment", "storefront.capture"} <= json_endpoints, json_endpoints
    problems = run_probes(
        app,
        tenant,
        lambda rule: probes if rule.endpoint in json_endpoints else [],
        one_caller_each,
        part=part,
    )
    assert not problems, f"{len(problems)} failures:\n" + "\n".join(problems[:80])
