"""Tenant isolation over every merchant-facing route: shop A's login or token never reaches shop B.

Real PostgreSQL and Redis (see conftest). Two accounts each own a shop with customers, orders,
checkouts, inquiries, flow settings, flow runs, messages, scores and a saved segment matching
everyone. The cases are generated from `app.url_map`: every route of the merchant-facing
blueprints, every method, each path argument replaced by shop B's object of that kind
(`ID_TABLES` / `PLAIN_ARGUMENTS`; a route with an argument neither knows fails the test, and so
does a route of an unclassified blueprint). A signs in with a password (cookie session + CSRF
token), with a Shopify code grant's session (limited to A's shop) or with a Shopify session token
(Bearer / `id_token`), also naming B in `shop` / `shop_id` query parameters; the one-shop ways
in are also checked against a shop B of A's own account. A request naming B's object must be
refused with 403/404; no answer may contain B's names or emails; B's rows (every table with
`shop_id`, `account_id` or `customer_id`) must be byte-for-byte unchanged. Each route is also
called with A's own objects, which must work (a 404 there would prove nothing); an object a
delete route removed is put back before the next call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Table, select, text
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from app.models import Shop
from tests.factories.tenants import (
    EVERYONE,
    ID_TABLES,
    MERCHANT_ENDPOINTS,
    PLAIN_ARGUMENTS,
    Tenant,
    _reflect,
    add_generic_ids,
    password_login,
    populate,
    session_token,
)

pytestmark = pytest.mark.integration

SAFE_METHODS = ("GET",)
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# Blueprints whose every route acts for a signed-in merchant.
MERCHANT_BLUEPRINTS = frozenset({"admin", "api"})
# Every other route, and why it is not a merchant's door into tenant data.
NOT_MERCHANT_ROUTES = {
    "favicon": "the app's icon, a static file",
    "auth.login_required_page": "sign-in form; reads no tenant data",
    "auth.login_link_page": "the login link's confirmation page; reads no tenant data",
    "auth.login_with_link": "a single-use login link is the credential itself",
    "auth.logout": "clears the caller's own session",
    "auth.signup": "creates a new account; reads no tenant data",
    "auth.verify_email_page": "static page; the token is in the fragment",
    "auth.verify_email": "signed single-use link naming its account",
    "auth.forgot_password": "emails the address's owner; answers alike for every address",
    "auth.reset_password_page": "static page; the token is in the fragment",
    "auth.reset_password": "signed single-use link naming its person",
    "auth.accept_invite_page": "static page; the token is in the fragment",
    "auth.accept_invite": "signed single-use invitation naming its account and member",
    "auth.session_token_bounce": "static App Bridge page",
    "auth.shopify_install": "OAuth start, checked by Shopify's HMAC",
    "auth.shopify_callback": "OAuth callback, checked by state + HMAC",
    "auth.woocommerce_callback": "wc-auth key delivery, checked by the pending user_id",
    "email.unsubscribe_page": "signed per-message token",
    "email.unsubscribe_now": "signed per-message token",
    "email.opt_in_page": "signed single-use opt-in token naming its shop",
    "email.opt_in_confirm": "signed single-use opt-in token naming its shop",
    "health.healthz": "no tenant data",
    "metrics.metrics": "operator's bearer token (METRICS_TOKEN); cross-shop totals, no shop ids",
    "static": "static files",
    "storefront.capture": "shopper-facing, keyed by the store's public capture key",
    "storefront.capture_script": "shopper-facing script",
    "storefront_events.events": "shopper-facing; writes only the store it names (domain or key)",
    "storefront_events.back_in_stock": "shopper-facing; a request for the named store's product",
    "webhooks.sendgrid_events": "signed by SendGrid",
    "webhooks.shopify_webhook": "signed by Shopify",
    "webhooks.woocommerce_webhook": "signed by the store",
}

# Kept for the account's owner (a password sign-in to the whole account): any other way in gets
# 403 even with its own objects.
OWNER_ONLY_ROUTES = frozenset({"admin.disconnect_store", "admin.team_invite", "admin.team_remove"})
# Routes for WooCommerce stores only (Shopify erases its customers through customers/redact):
# for the Shopify shops of these tenants they answer 404 even with the shop's own objects.
WOOCOMMERCE_ONLY_ROUTES = frozenset({"admin.customer_erase"})

# A form a merchant could plausibly send to any admin POST (fields a view does not know are
# ignored), so that a refusal is the guard's and not the form's; the API gets it as JSON.
FORM = {
    "channel": "email",
    "kind": "complaint",
    "subject": "Isolation probe",
    "notes": "written by shop A",
    "enabled": "1",
    "name": "Isolation probe",
    "domain": "",
    "token": "",
    "store_url": "",
}
API_BODY = {"name": "Isolation probe", "rule": EVERYONE}


# --- data ------------------------------------------------------------------------------------


def snapshot(engine: Any, tenant: Tenant) -> list[tuple[Table, dict[str, Any]]]:
    """The rows a route may name (`tenant.ids`), to put back after a route deleted one."""
    tables = _reflect(engine)
    rows = []
    with engine.connect() as connection:
        for name, table in tables.items():
            if name in tenant.ids:
                row = connection.execute(select(table).where(table.c.id == tenant.ids[name])).one()
                rows.append((table, dict(row._mapping)))
    return rows


def restore(engine: Any, rows: list[tuple[Table, dict[str, Any]]]) -> None:
    with engine.begin() as connection:
        for table, row in rows:
            if (
                connection.execute(select(table.c.id).where(table.c.id == row["id"])).first()
                is None
            ):
                connection.execute(table.insert().values(**row))


def fingerprint(engine: Any, tenant: Tenant) -> dict[str, str]:
    """A digest per table of every row belonging to the tenant, straight from the database."""
    with engine.connect() as connection:
        rows = connection.execute(
            _fingerprint_sql(engine), {"shop_id": tenant.shop_id, "account_id": tenant.account_id}
        )
        return {row[0]: row[1] for row in rows}


_FINGERPRINT_SQL: list[Any] = []


def _fingerprint_sql(engine: Any) -> Any:
    """One statement: md5 of the ordered text of the tenant's rows, per table."""
    if _FINGERPRINT_SQL:
        return _FINGERPRINT_SQL[0]
    customers = "SELECT id FROM customers WHERE shop_id = :shop_id"
    parts = []
    for name, table in sorted(_reflect(engine).items()):
        conditions = []
        if name == "shops":
            conditions.append("t.id = :shop_id")
        if name == "accounts":
            conditions.append("t.id = :account_id")
        if "shop_id" in table.c:
            conditions.append("t.shop_id = :shop_id")
        if "account_id" in table.c:
            conditions.append("t.account_id = :account_id")
        if "customer_id" in table.c:
            conditions.append(f"t.customer_id IN ({customers})")
        if not conditions:
            continue
        # Table names come from the database's own catalogue; the ids are bound parameters.
        where = " OR ".join(conditions)
        parts.append(
            f"SELECT '{name}' AS name, "  # noqa: S608
            "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest "
            f'FROM "{name}" AS t WHERE {where}'
        )
    _FINGERPRINT_SQL.append(text(" UNION ALL ".join(parts)))
    return _FINGERPRINT_SQL[0]


@pytest.fixture
def tenants(db: Session, runtime: Any) -> tuple[Tenant, Tenant]:
    a = populate(db, "alpha-isolation", "Aoife")
    b = populate(db, "bravo-isolation", "Brunhilde")
    for tenant in (a, b):
        stored = db.get(Shop, tenant.shop_id)
        assert stored is not None
        stored.access_token_encrypted = runtime.cipher.encrypt(f"shpat_{tenant.shop_id}")
        add_generic_ids(tenant, runtime.db.engine)
    db.commit()
    return a, b


# --- sign-in ---------------------------------------------------------------------------------


# --- the cases -------------------------------------------------------------------------------


def merchant_rules(app: Flask) -> list[Rule]:
    """Every merchant-facing rule; fails when a route is neither merchant-facing nor exempted."""
    rules = []
    unclassified = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".", 1)[0] if "." in rule.endpoint else ""
        if blueprint in MERCHANT_BLUEPRINTS or rule.endpoint in MERCHANT_ENDPOINTS:
            rules.append(rule)
        elif rule.endpoint not in NOT_MERCHANT_ROUTES:
            unclassified.append(f"{rule.endpoint} {rule.rule}")
    assert not unclassified, (
        "routes not classified for the shop-isolation test — add each to MERCHANT_ENDPOINTS "
        f"(or its blueprint to MERCHANT_BLUEPRINTS), or to NOT_MERCHANT_ROUTES with a reason: "
        f"{unclassified}"
    )
    return sorted(rules, key=lambda r: (r.rule, r.endpoint))


def build_path(rule: Rule, tenant: Tenant) -> tuple[str, bool]:
    """The rule's path with its arguments naming `tenant`'s objects; True if one is a tenant id."""
    values: dict[str, Any] = {}
    names_object = False
    for argument in sorted(rule.arguments):
        converter = type(rule._converters[argument]).__name__
        if argument in ID_TABLES:
            table = ID_TABLES[argument]
            assert table in tenant.ids, (
                f"route {rule.endpoint} ({rule.rule}) names a {table} row by `{argument}`, but "
                f"the isolation test's `populate` makes no {table} row: add one"
            )
            values[argument] = tenant.ids[table]
            names_object = True
        elif argument in PLAIN_ARGUMENTS:
            values[argument] = PLAIN_ARGUMENTS[argument]
        elif converter == "PathConverter":
            values[argument] = f"customers/{tenant.ids['customers']}/orders"
            names_object = True
        else:
            pytest.fail(
                f"route {rule.endpoint} ({rule.rule}) has the path argument `{argument}` "
                f"({converter}) that the shop-isolation test cannot fill: add it to ID_TABLES "
                "(a tenant object) or PLAIN_ARGUMENTS (not a tenant id)"
            )
    path = rule.rule
    for argument, value in values.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{re.escape(argument)}>", str(value), path)
    assert "<" not in path, path
    return path, names_object


def methods_of(rule: Rule) -> list[str]:
    return sorted(m for m in (rule.methods or set()) if m in SAFE_METHODS + UNSAFE_METHODS)


@dataclass
class Caller:
    """Shop A calling in one of its ways."""

    name: str
    client: Any
    headers: dict[str, str]
    query: dict[str, str]
    csrf: str | None = None

    def call(self, method: str, path: str, extra_query: dict[str, str] | None = None) -> Any:
        query = {**self.query, **(extra_query or {})}
        headers = dict(self.headers)
        body: dict[str, Any] = {}
        if method in UNSAFE_METHODS:
            if self.csrf is not None:
                headers["X-CSRF-Token"] = self.csrf
            if path.startswith("/api/"):
                body["json"] = API_BODY
            else:
                body["data"] = {**FORM, **({"csrf_token": self.csrf} if self.csrf else {})}
        response = self.client.open(
            path, method=method, query_string=query, headers=headers, **body
        )
        response.get_data()  # read a streamed body to its end, then let the view clean up
        response.close()
        return response


def code_grant_login(client: Any, tenant: Tenant) -> str:
    """The session a Shopify code grant for the tenant's shop leaves (the grant itself is tested
    end to end in test_shopify_install); its CSRF token."""
    csrf = "code-grant-csrf-token"
    with client.session_transaction() as session:
        session.update(
            account_id=tenant.account_id,
            shop_id=tenant.shop_id,
            shop_scope=tenant.shop_id,
            csrf_token=csrf,
        )
    return csrf


def callers(app: Flask, a: Tenant) -> Iterator[Caller]:
    cookie = app.test_client()
    csrf = password_login(cookie, a.email)
    yield Caller("password session", cookie, {}, {}, csrf)
    granted = app.test_client()
    yield Caller("code-grant session", granted, {}, {}, code_grant_login(granted, a))
    yield Caller(
        "session token (Bearer)",
        app.test_client(),
        {"Authorization": f"Bearer {session_token(a.domain)}"},
        {},
    )
    yield Caller(
        "session token (id_token)",
        app.test_client(),
        {},
        {"id_token": session_token(a.domain), "embedded": "1", "shop": a.domain, "host": "YQ"},
    )


def leaked(body: str, tenant: Tenant, *, sent: tuple[str, ...] = ()) -> list[str]:
    lowered = body.lower()
    return [s for s in tenant.secrets if s and s not in sent and s.lower() in lowered]


def one_shop_callers(app: Flask, a: Tenant) -> Iterator[Caller]:
    """The ways in that speak for A's shop alone, not for its whole account."""
    return (caller for caller in callers(app, a) if caller.name != "password session")


# The route checks run as this many tests, each every PARTS-th merchant route.
PARTS = 2


def check_route_set(
    app: Flask, runtime: Any, a: Tenant, b: Tenant, ways: Any = callers, part: int | None = None
) -> list[str]:
    """Run every case; a list of what went wrong (empty when isolated). `part` (0 to PARTS-1):
    only every PARTS-th route from the `part`-th; the parts together check every route."""
    engine = runtime.db.engine
    problems: list[str] = []
    rules = merchant_rules(app)
    if part is not None:
        rules = rules[part::PARTS]
        assert rules, "no route in this part"
    for caller in ways(app, a):
        for rule in rules:
            b_path, names_b = build_path(rule, b)
            a_path, _ = build_path(rule, a)
            for method in methods_of(rule):
                if caller.name.endswith("(id_token)") and method != "GET":
                    continue  # document loads only
                label = f"[{caller.name}] {method} {rule.rule} ({rule.endpoint})"
                variants: list[tuple[str, dict[str, str]]] = [(b_path, {})]
                # A names B as the shop to look at: ignored or refused.
                variants.append((b_path, {"shop_id": str(b.shop_id)}))
                if not caller.csrf:
                    variants.append((b_path, {"shop": b.domain, "shop_id": str(b.shop_id)}))
                    if a_path != b_path:
                        variants.append((a_path, {"shop": b.domain, "shop_id": str(b.shop_id)}))
                for path, extra in variants:
                    before = fingerprint(engine, b)
                    response = caller.call(method, path, extra)
                    after = fingerprint(engine, b)
                    where = f"{label} {path}?{extra}" if extra else f"{label} {path}"
                    body = response.get_data(as_text=True)
                    if response.status_code >= 500:
                        problems.append(f"{where}: answered {response.status_code}")
                    if names_b and path == b_path and response.status_code not in (403, 404):
                        problems.append(
                            f"{where}: B's object answered {response.status_code}, not 403/404"
                        )
                    sent = (b.domain,) if "shop" in extra else ()
                    if found := leaked(body, b, sent=sent):
                        problems.append(f"{where}: body shows shop B's data {found}")
                    location = response.headers.get("Location", "")
                    if found := leaked(location, b, sent=sent):
                        problems.append(f"{where}: redirect shows shop B's data {found}")
                    changed = sorted(t for t in after if after[t] != before.get(t))
                    if changed:
                        problems.append(f"{where}: changed shop B's rows in {changed}")
    return problems


def check_own_objects_work(app: Flask, engine: Any, a: Tenant, b: Tenant) -> list[str]:
    """The control: with A's own objects, each id-naming route is not a 403/404 (objects a
    delete route removed are put back first), and shows nothing of B."""
    problems = []
    originals = snapshot(engine, a)
    for caller in callers(app, a):
        for rule in merchant_rules(app):
            if not any(arg in ID_TABLES for arg in rule.arguments):
                continue
            path, _ = build_path(rule, a)
            for method in methods_of(rule):
                if caller.name.endswith("(id_token)") and method != "GET":
                    continue
                restore(engine, originals)
                response = caller.call(method, path)
                if found := leaked(response.get_data(as_text=True), b):
                    problems.append(f"[{caller.name}] {method} {path} shows shop B's {found}")
                owner_only = (
                    rule.endpoint in OWNER_ONLY_ROUTES and caller.name != "password session"
                )
                if owner_only and response.status_code == 403:
                    continue
                if rule.endpoint in WOOCOMMERCE_ONLY_ROUTES and response.status_code == 404:
                    continue
                if response.status_code in (401, 403, 404) or response.status_code >= 500:
                    problems.append(
                        f"[{caller.name}] {method} {path} ({rule.endpoint}) with shop A's own "
                        f"objects answered {response.status_code}"
                    )
                elif method == "GET" and response.status_code != 200:
                    problems.append(
                        f"[{caller.name}] GET {path} with shop A's own objects answered "
                        f"{response.status_code}, not 200"
                    )
    return problems


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("part", range(PARTS))
def test_every_merchant_route_keeps_shop_b_out_of_reach_of_shop_a(
    app: Flask, runtime: Any, tenants: tuple[Tenant, Tenant], part: int
) -> None:
    a, b = tenants
    problems = check_route_set(app, runtime, a, b, part=part)
    assert not problems, "shop isolation broken:\n" + "\n".join(problems)


@pytest.mark.parametrize("part", range(PARTS))
def test_a_one_shop_sign_in_keeps_the_accounts_other_shop_out_of_reach(
    app: Flask, runtime: Any, db: Session, tenants: tuple[Tenant, Tenant], part: int
) -> None:
    a, b = tenants
    db.execute(
        text("UPDATE shops SET account_id = :a WHERE id = :b"), {"a": a.account_id, "b": b.shop_id}
    )
    db.commit()
    problems = check_route_set(app, runtime, a, b, ways=one_shop_callers, part=part)
    assert not problems, "shop isolation broken within an account:\n" + "\n".join(problems)


def test_the_same_routes_serve_shop_a_its_own_objects(
    app: Flask, runtime: Any, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    problems = check_own_objects_work(app, runtime.db.engine, a, b)
    assert not problems, "\n".join(problems)


def test_a_token_for_a_naming_b_in_the_query_sees_only_a(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {session_token(a.domain)}"}
    for query in (
        {"shop": b.domain},
        {"shop_id": str(b.shop_id)},
        {"shop": b.domain, "shop_id": str(b.shop_id), "host": "YQ", "embedded": "1"},
    ):
        shop = client.get("/api/v1/shop", query_string=query, headers=bearer)
        assert shop.status_code == 200, query
        assert shop.get_json()["shop"]["domain"] == a.domain, query
        customers = client.get("/api/v1/customers", query_string=query, headers=bearer)
        assert customers.status_code == 200, query
        emails = {row["email"] for row in customers.get_json()["customers"]}
        assert emails == {f"aoife{n}@alpha-isolation.example" for n in range(3)}, query
        page = client.get("/app/customers", query_string=query, headers=bearer)
        assert page.status_code == 200, query
        assert "aoife0@alpha-isolation.example" in page.get_data(as_text=True)
        assert not leaked(page.get_data(as_text=True), b, sent=(b.domain,)), query


def test_a_password_session_naming_shop_b_still_sees_only_a(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    """A's cookie session with B's shop id planted in it (`session["shop_id"]`) is still A's."""
    a, b = tenants
    client = app.test_client()
    password_login(client, a.email)
    with client.session_transaction() as session:
        session["shop_id"] = b.shop_id
    response = client.get("/api/v1/shop")
    assert response.status_code == 200
    assert response.get_json()["shop"]["domain"] == a.domain
    assert not leaked(client.get("/app/customers").get_data(as_text=True), b)


def test_a_rule_matching_everyone_matches_only_the_callers_customers(
    app: Flask, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {session_token(a.domain)}"}
    counted = client.post("/api/v1/segments/count", json={"rule": EVERYONE}, headers=bearer)
    assert counted.status_code == 200, counted.get_data(as_text=True)
    assert counted.get_json()["count"] == 3
    members = client.get(
        f"/api/v1/segments/{a.ids['saved_segments']}/customers",
        query_string={"shop_id": str(b.shop_id)},
        headers=bearer,
    )
    assert members.status_code == 200
    body = members.get_data(as_text=True)
    assert all(f"aoife{n}@alpha-isolation.example" in body for n in range(3))
    assert not leaked(body, b)
