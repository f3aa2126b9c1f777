"""Input limits at the edge (`app.request_guards`): each refused input is a 4xx naming its reason.

Real PostgreSQL and Redis (see conftest). One case per reviewed finding — NUL in the login form,
customer search, segment names, tag values and inquiry subjects; ids beyond PostgreSQL `integer`
on admin routes; deeply nested JSON and numbers too large to store on the storefront capture and
the segment endpoints — plus the body, header and query caps, and that nothing was stored.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Checkout, Inquiry, SavedSegment
from app.storefront import capture_key
from tests.factories import hostile_input
from tests.factories.hostile_input import WC_ORIGIN
from tests.factories.tenants import Tenant, password_login, session_token

tenant = hostile_input.tenant

pytestmark = pytest.mark.integration

__all__ = ["tenant"]  # the shared fixture: a shop with a bit of every kind of data

MAX_DB_INTEGER = 2**31 - 1  # PostgreSQL `integer`
MAX_HEADER_LENGTH = 8 * 1024
NUL = "tea\x00time"
DEEP = b"[" * 5000 + b"]" * 5000
TAG_RULE = {"match": "all", "rules": [{"field": "tag", "op": "has", "value": NUL}]}


def reason_of(response: Any) -> str:
    if response.is_json:
        return str(response.get_json().get("message") or response.get_json())
    return response.get_data(as_text=True)


def signed_in(app: Flask, tenant: Tenant) -> tuple[Any, str]:
    client = app.test_client()
    return client, password_login(client, tenant.email)


def bearer(tenant: Tenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token(tenant.domain)}"}


def capture(client: Any, tenant: Tenant, body: bytes) -> Any:
    shop_id = tenant.ids["woocommerce_shop"]
    secret = client.application.config["SECRET_KEY"]
    return client.post(
        "/storefront/woocommerce/capture",
        query_string={"shop": shop_id, "key": capture_key(secret, shop_id)},
        data=body,
        headers={"Origin": WC_ORIGIN, "Content-Type": "application/json"},
    )


def test_a_nul_in_the_login_form_is_refused_with_a_reason(app: Flask, tenant: Tenant) -> None:
    client = app.test_client()
    response = client.post("/login", data={"email": f"owner{NUL}@x.example", "password": "p"})
    assert response.status_code == 400
    assert "NUL" in reason_of(response)


def test_a_nul_in_the_customer_search_is_refused(app: Flask, tenant: Tenant) -> None:
    client, _ = signed_in(app, tenant)
    page = client.get("/app/customers", query_string={"q": NUL})
    assert page.status_code == 400
    assert "query parameter 'q'" in reason_of(page)
    assert client.get("/api/v1/customers", query_string={"q": NUL}).status_code == 400


def test_a_nul_in_a_segment_name_is_refused_and_nothing_is_saved(
    app: Flask, db: Session, tenant: Tenant
) -> None:
    client, csrf = signed_in(app, tenant)
    before = db.scalar(select(func.count()).select_from(SavedSegment))
    form = {
        "csrf_token": csrf,
        "name": NUL,
        "r-match": "all",
        "r-0-field": "orders_count",
        "r-0-op": "gte",
        "r-0-value": "1",
    }
    page = client.post("/app/segments/saved/new", data=form)
    assert page.status_code == 400
    assert "form field 'name'" in reason_of(page)
    rule = {"match": "all", "rules": [{"field": "orders_count", "op": "gte", "value": "1"}]}
    api = client.post(
        "/api/v1/segments",
        json={"name": NUL, "rule": rule},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status_code == 400
    assert "NUL" in api.get_json()["message"]
    assert db.scalar(select(func.count()).select_from(SavedSegment)) == before


def test_a_nul_in_a_tag_value_is_refused(app: Flask, tenant: Tenant) -> None:
    client, csrf = signed_in(app, tenant)
    for path in ("/api/v1/segments/count", "/app/segments/count"):
        response = client.post(path, json={"rule": TAG_RULE}, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 400, path
        assert "NUL" in reason_of(response), path


def test_a_nul_in_an_inquiry_subject_is_refused_and_nothing_is_stored(
    app: Flask, db: Session, tenant: Tenant
) -> None:
    client, csrf = signed_in(app, tenant)
    before = db.scalar(select(func.count()).select_from(Inquiry))
    response = client.post(
        f"/app/customers/{tenant.ids['customers']}/inquiries",
        data={"csrf_token": csrf, "channel": "email", "kind": "question", "subject": NUL},
    )
    assert response.status_code == 400
    assert "form field 'subject'" in reason_of(response)
    assert db.scalar(select(func.count()).select_from(Inquiry)) == before


@pytest.mark.parametrize("big", [MAX_DB_INTEGER + 1, 2**63, 10**30])
def test_ids_beyond_the_integer_column_are_not_found(app: Flask, tenant: Tenant, big: int) -> None:
    client, csrf = signed_in(app, tenant)
    customer = tenant.ids["customers"]
    for method, path in (
        ("GET", f"/app/customers/{big}"),
        ("POST", f"/app/customers/{big}/inquiries"),
        ("POST", f"/app/customers/{customer}/inquiries/{big}/resolve"),
        ("GET", f"/app/segments/saved/{big}"),
        ("GET", f"/api/v1/customers/{big}"),
        ("DELETE", f"/api/v1/segments/{big}"),
    ):
        response = client.open(path, method=method, data={"csrf_token": csrf})
        assert response.status_code == 404, (method, path)
    assert client.get(f"/app/customers/{customer}").status_code == 200  # the control


def test_ids_beyond_the_integer_column_in_the_query_are_ignored(app: Flask, tenant: Tenant) -> None:
    client, _ = signed_in(app, tenant)
    for query in ({"after": str(2**40)}, {"after": "-5"}, {"limit": "9" * 30}):
        assert client.get("/app/customers", query_string=query).status_code == 200, query
    preview = client.get("/app/flows/cart", query_string={"customer_id": str(2**40)})
    assert preview.status_code == 200


def test_deeply_nested_json_is_refused_on_the_storefront_and_segment_endpoints(
    app: Flask, tenant: Tenant
) -> None:
    response = capture(app.test_client(), tenant, DEEP)
    assert response.status_code == 400  # the storefront's own check, with its own reason
    assert response.get_json()["error"]
    client, csrf = signed_in(app, tenant)
    for path in ("/api/v1/segments", "/api/v1/segments/count", "/app/segments/count"):
        response = client.post(
            path, data=DEEP, content_type="application/json", headers={"X-CSRF-Token": csrf}
        )
        assert response.status_code == 400, path
        assert "nests deeper" in reason_of(response), path
    api = app.test_client().post(
        "/api/v1/segments/count", data=DEEP, content_type="application/json", headers=bearer(tenant)
    )
    assert api.status_code == 400


def test_numbers_too_large_to_store_are_refused(app: Flask, db: Session, tenant: Tenant) -> None:
    cart = {
        "email": "shopper@hostile-shop.example",
        "cart_token": "overflow-cart-01",
        "currency": "JPY",
        "items": [{"title": "Tea", "quantity": 1, "price": "9" * 40}],
    }
    response = capture(app.test_client(), tenant, json.dumps(cart).encode())
    assert response.status_code == 400
    assert (
        db.scalar(
            select(func.count())
            .select_from(Checkout)
            .where(Checkout.external_id == "capture:overflow-cart-01")
        )
        == 0
    )
    client = app.test_client()
    for value in (b"1e400", b"9" * 30, b"NaN"):
        body = b'{"rule": {"match": "all", "rules": [{"field": "orders_count", "op": "gte", '
        body += b'"value": ' + value + b"}]}}"
        response = client.post(
            "/api/v1/segments/count",
            data=body,
            content_type="application/json",
            headers=bearer(tenant),
        )
        assert response.status_code == 400, value
        assert "number" in reason_of(response), value


def test_bodies_beyond_their_route_cap_are_refused_before_parsing(
    app: Flask, tenant: Tenant
) -> None:
    client = app.test_client()
    big = b'{"email": "' + b"a" * (40 * 1024) + b'"}'
    assert capture(client, tenant, big).status_code == 413
    login = client.post("/login", data={"email": "a" * (20 * 1024), "password": "x"})
    assert login.status_code == 413
    assert "larger than" in reason_of(login)
    # A webhook keeps the platforms' room: a 1 MiB body reaches the signature check.
    webhook = client.post("/webhooks/shopify", data=b"{" + b" " * (1024 * 1024) + b"}")
    assert webhook.status_code == 401


def test_headers_and_queries_beyond_their_caps_or_not_utf8_are_refused(
    app: Flask, tenant: Tenant
) -> None:
    client = app.test_client()
    header = client.get("/healthz", headers={"X-Padding": "h" * (MAX_HEADER_LENGTH + 1)})
    assert header.status_code == 431
    assert "X-Padding" in reason_of(header)
    query = client.get("/login", environ_overrides={"QUERY_STRING": "next=%FF%FE"})
    assert query.status_code == 400
    assert "UTF-8" in reason_of(query)
    path = client.get("/unsubscribe/abc%00def")
    assert path.status_code == 400
