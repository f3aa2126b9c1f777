"""Property-based check of the API against `docs/openapi.yaml` with schemathesis.

Real PostgreSQL and Redis (see conftest): a shop with scored customers, orders, a checkout and a
timeline, signed in with a real login link; schemathesis generates requests from the spec (valid
and invalid parameters), sends them to the Flask app over WSGI with the session cookie, and
checks: no 5xx, documented status, JSON content type, body conforms to the response schema.
Bounded: a few examples per operation and a deadline, so it stays a quick integration test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Account,
    Checkout,
    Customer,
    Order,
    OrderLine,
    SavedSegment,
    Shop,
    TimelineEvent,
)
from app.services import segments
from app.services.scoring import score_shop
from tests.conftest import sign_in_with_link

pytestmark = pytest.mark.integration

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
NOW = datetime.now(UTC)
BUYERS = {"match": "all", "rules": [{"field": "orders_count", "op": "gte", "value": 1}]}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _shop(db: Session, account: Account, domain: str, currency: str) -> Shop:
    shop = Shop(
        account_id=account.id,
        domain=domain,
        platform="shopify",
        name=domain.split(".")[0],
        status="active",
        scopes="read_customers,read_orders",
        installed_at=NOW - timedelta(days=3),
        timezone="Asia/Tokyo",
        currency=currency,
        sync_state={"status": "done", "done": {"customers": 8}},
    )
    db.add(shop)
    db.commit()
    return shop


def _history(db: Session, shop: Shop, customers: int) -> None:
    for n in range(customers):
        customer = Customer(
            shop_id=shop.id,
            external_id=f"{shop.id}-{n}",
            first_name="山田" if n % 2 else f"Name{n}",
            email=f"c{n}@{shop.domain}",
            currency=shop.currency,
            orders_count=1 + n % 3,
            total_spent=Decimal("1234.5"),
            tags=["vip"] if n == 0 else [],
        )
        db.add(customer)
        db.flush()
        for k in range(1 + n % 3):
            order = Order(
                shop_id=shop.id,
                external_id=f"{shop.id}-{n}-{k}",
                customer_id=customer.id,
                currency=shop.currency,
                total_price=Decimal("1234.5"),
                processed_at=NOW - timedelta(days=5 + 40 * k + n),
                cancelled_at=NOW if (n, k) == (1, 0) else None,
            )
            order.lines.append(
                OrderLine(
                    shop_id=shop.id,
                    external_id=f"{order.external_id}-0",
                    title="Sencha",
                    price=Decimal("1234.5"),
                    currency=shop.currency,
                )
            )
            db.add(order)
        db.add(
            Checkout(
                shop_id=shop.id,
                external_id=f"tok-{shop.id}-{n}",
                customer_id=customer.id,
                currency=shop.currency,
                total_price=Decimal(900),
                line_items=[{"title": "Matcha"}],
            )
        )
        db.add(
            TimelineEvent(
                shop_id=shop.id,
                customer_id=customer.id,
                kind="order_placed",
                source_key=f"{shop.id}-{n}",
                occurred_at=NOW - timedelta(days=n),
                detail={"name": f"#{n}"},
            )
        )
    db.commit()
    score_shop(db, shop.id)


@pytest.fixture
def session_cookie(db: Session, client: Any, runtime: Any) -> str:
    """The session cookie of an account with two scored shops (ids 1 and 2: hit by examples)."""
    account = Account(name="Merchant")
    db.add(account)
    db.commit()
    _history(db, _shop(db, account, "tea.myshopify.com", "JPY"), 8)
    _history(db, _shop(db, account, "usd.myshopify.com", "USD"), 4)
    response = sign_in_with_link(client, runtime, account.id)
    assert response.status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    return str(cookie.value)


# `schemathesis.pytest.from_fixture` reads `Function._nodeid`, gone in pytest 9: drive the
# operations' Hypothesis strategies directly instead (same generation, same checks).
SCHEMA = schemathesis.openapi.from_path(SPEC_PATH)
OPERATIONS = ["getShop", "listCustomers", "getCustomer", "getSegments", "getAnalytics"]
# Saved segments: unsafe methods carry the session's CSRF token; ids drawn from real segments.
SEGMENT_OPERATIONS = [
    "createSegment",
    "countSegment",
    "getSavedSegment",
    "deleteSavedSegment",
    "listSegmentCustomers",
]
OPERATIONS += SEGMENT_OPERATIONS


def _csrf(client: Any) -> tuple[str, str]:
    """The session's CSRF token (from the builder page) and the session cookie holding it."""
    page = client.get("/app/segments/saved/new").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    cookie = client.get_cookie("session")
    assert cookie is not None
    return found.group(1), str(cookie.value)


@pytest.mark.parametrize("operation_id", OPERATIONS)
@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_api_conforms_to_openapi(
    app: Any,
    db: Session,
    client: Any,
    session_cookie: str,
    operation_id: str,
    mode: GenerationMode,
) -> None:
    SCHEMA.app = app
    operation = SCHEMA.find_operation_by_id(operation_id)
    cookies = {"session": session_cookie}
    csrf_headers: dict[str, str] = {}
    cases = operation.as_strategy(generation_mode=mode)
    if operation_id in SEGMENT_OPERATIONS:
        token, cookies["session"] = _csrf(client)
        csrf_headers["X-CSRF-Token"] = token
        for shop_id in db.scalars(select(Shop.id)):
            segments.save_segment(db, shop_id, "Buyers", BUYERS)
        db.commit()
    if "segment_id" in operation.path and mode is GenerationMode.POSITIVE:
        segment_ids = [*db.scalars(select(SavedSegment.id)), 10**6]
        cases = st.sampled_from(segment_ids).flatmap(
            lambda i: operation.as_strategy(generation_mode=mode, path_parameters={"segment_id": i})
        )
    if operation_id == "getCustomer" and mode is GenerationMode.POSITIVE:
        # Random ids almost never exist: draw real ones (of both shops) and a missing one.
        ids = [*db.scalars(select(Customer.id)), 10**6]
        cases = st.sampled_from(ids).flatmap(
            lambda i: operation.as_strategy(
                generation_mode=mode, path_parameters={"customer_id": i}
            )
        )

    @given(case=cases)
    @settings(
        max_examples=10,
        deadline=3000,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def check(case: Any) -> None:
        if mode is GenerationMode.POSITIVE and case.headers:
            # A generated bearer token would take precedence over the cookie (and be refused);
            # negative cases keep theirs, so the 401 answers are checked too.
            case.headers.pop("Authorization", None)
        if csrf_headers:
            case.headers = {**(case.headers or {}), **csrf_headers}
        response = case.call(cookies=cookies)
        case.validate_response(response, checks=CHECKS)

    check()
