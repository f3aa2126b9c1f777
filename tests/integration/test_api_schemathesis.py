"""Property-based check of the whole API against `docs/openapi.yaml` with schemathesis.

Real PostgreSQL and Redis (see conftest): an account with two scored Shopify shops (customers,
orders, checkouts, timelines), signed in both ways the spec documents: the session cookie of a
real login link (unsafe methods with the session's CSRF token) and a Shopify session token
(`Authorization: Bearer`). Every operation of the spec is generated (a new one is covered without
a line here), valid and invalid parameters and bodies, sent to the Flask app over WSGI, and
checked: no 5xx, documented status, JSON content type, body conforms to the response schema.
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
    Campaign,
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
from tests.factories.shops import build_shop
from tests.factories.tenants import session_token

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
    return build_shop(
        db,
        domain,
        account=account,
        name=domain.split(".")[0],
        scopes="read_customers,read_orders",
        installed_at=NOW - timedelta(days=3),
        timezone="Asia/Tokyo",
        currency=currency,
        sync_state={"status": "done", "done": {"customers": 8}},
    )


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
    """The session cookie of an account with two scored shops (ids 1 and 2: hit by examples);
    both hold an offline token, so a session token for either needs no token exchange."""
    account = Account(name="Merchant")
    db.add(account)
    db.commit()
    for domain, currency, customers in (
        (TOKEN_SHOP, "JPY", 8),
        ("usd.myshopify.com", "USD", 4),
    ):
        shop = _shop(db, account, domain, currency)
        shop.access_token_encrypted = runtime.cipher.encrypt(f"shpat_{shop.id}")
        _history(db, shop, customers)
    response = sign_in_with_link(client, runtime, account.id)
    assert response.status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    return str(cookie.value)


def _campaigns(db: Session) -> list[int]:
    """A draft (to a saved segment) and a sent campaign (some of whose emails failed) in each
    shop; → their ids."""
    ids = []
    for shop in db.scalars(select(Shop)):
        segment = segments.save_segment(db, shop.id, "Campaign buyers", BUYERS).segment
        assert segment is not None
        content = {
            "coupon": None,
            "en": {"subject": "Sale", "preheader": "", "blocks": [{"type": "text", "text": "Hi"}]},
            "ja": {"subject": "", "preheader": "", "blocks": []},
        }
        for status in ("draft", "sent"):
            campaign = Campaign(
                shop_id=shop.id,
                name=f"Campaign {status}",
                status=status,
                audience={"segments": [segment.id], "rfm_groups": ["champions"]},
                content=content,
                holdout_percent=10,
                started_at=NOW if status == "sent" else None,
            )
            if status == "sent":  # with a problem, worded in the request's language
                campaign.last_error = "2 emails were not sent: SendGrid did not accept it (logged)."
                campaign.last_error_code = "campaign_error.emails_failed"
                campaign.last_error_params = {"count": 2, "reason": {"code": "email_refusal.other"}}
            db.add(campaign)
            db.flush()
            ids.append(campaign.id)
    db.commit()
    return ids


# `schemathesis.pytest.from_fixture` reads `Function._nodeid`, gone in pytest 9: drive the
# operations' Hypothesis strategies directly instead (same generation, same checks).
SCHEMA = schemathesis.openapi.from_path(SPEC_PATH)
# Listed from a schema of their own: listing caches operations bound to no app.
OPERATIONS = [
    result.ok().definition.raw["operationId"]
    for result in schemathesis.openapi.from_path(SPEC_PATH).get_all_operations()
]
UNSAFE_METHODS = {"post", "put", "patch", "delete"}
# Shop whose session token signs the Bearer calls (a Shopify shop of the account).
TOKEN_SHOP = "tea.myshopify.com"


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
@pytest.mark.parametrize("auth", ["cookie", "bearer"])
def test_api_conforms_to_openapi(
    app: Any,
    db: Session,
    client: Any,
    session_cookie: str,
    operation_id: str,
    mode: GenerationMode,
    auth: str,
) -> None:
    SCHEMA.app = app
    operation = SCHEMA.find_operation_by_id(operation_id)
    cookies: dict[str, str] = {}
    auth_headers: dict[str, str] = {}
    if auth == "cookie":
        cookies["session"] = session_cookie
        if operation.method.lower() in UNSAFE_METHODS:
            token, cookies["session"] = _csrf(client)
            auth_headers["X-CSRF-Token"] = token
    else:
        auth_headers["Authorization"] = f"Bearer {session_token(TOKEN_SHOP)}"
    cases = operation.as_strategy(generation_mode=mode)
    if "segment" in operation.path:
        for shop_id in db.scalars(select(Shop.id)):
            segments.save_segment(db, shop_id, "Buyers", BUYERS)
        db.commit()
    if "segment_id" in operation.path and mode is GenerationMode.POSITIVE:
        segment_ids = [*db.scalars(select(SavedSegment.id)), 10**6]
        cases = st.sampled_from(segment_ids).flatmap(
            lambda i: operation.as_strategy(generation_mode=mode, path_parameters={"segment_id": i})
        )
    if "campaign_id" in operation.path and mode is GenerationMode.POSITIVE:
        # A draft and a sent campaign in each shop, and a missing id.
        campaign_ids = [*_campaigns(db), 10**6]
        cases = st.sampled_from(campaign_ids).flatmap(
            lambda i: operation.as_strategy(
                generation_mode=mode, path_parameters={"campaign_id": i}
            )
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
        headers = dict(case.headers or {})
        if mode is GenerationMode.POSITIVE or auth == "bearer":
            # A generated bearer token would take precedence over ours (and be refused);
            # negative cases signed in with the cookie keep theirs, so 401 answers are checked.
            headers.pop("Authorization", None)
        case.headers = {**headers, **auth_headers}
        response = case.call(cookies=cookies)
        case.validate_response(response, checks=CHECKS)
        if mode is GenerationMode.POSITIVE:
            # Signed in either way: a valid request is never turned away at the door.
            assert response.status_code not in (401, 403), response.text

    check()
