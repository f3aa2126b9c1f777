"""The JSON API under /api/v1 over the Flask test client: numbers match the database.

Real PostgreSQL and Redis (see conftest). Each test builds its own account and shops and signs in
through a real login link; every response is also checked against `docs/openapi.yaml`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    Account,
    Checkout,
    Customer,
    CustomerScore,
    Order,
    OrderLine,
    Shop,
    TimelineEvent,
    WebhookEvent,
)
from app.services.scoring import score_shop
from tests.conftest import sign_in_with_link
from tests.factories import scoring

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
_REGISTRY = Registry().with_resource("urn:openapi", Resource.opaque(SPEC))


def conforms(template: str, response: Any) -> dict[str, Any]:
    """The response's JSON, after checking it against the spec for its path and status."""
    operation = SPEC["paths"][template]["get"]["responses"][str(response.status_code)]
    if "$ref" in operation:
        operation = SPEC["components"]["responses"][operation["$ref"].rsplit("/", 1)[1]]
    schema = operation["content"]["application/json"]["schema"]
    ref = schema["$ref"].removeprefix("#")
    validator = Draft202012Validator({"$ref": f"urn:openapi#{ref}"}, registry=_REGISTRY)
    body = response.get_json()
    validator.validate(body)
    return body


# --- factories -------------------------------------------------------------------------------


def make_shop(db: Session, account: Account, domain: str, **values: Any) -> Shop:
    installed: dict[str, Any] = {
        "install_method": "managed",
        "scopes": "read_customers,read_orders",
        "installed_at": NOW - timedelta(days=1),
    }
    return scoring.make_shop(db, domain, account=account, **{**installed, **values})


def build_history(db: Session, shop: Shop, customers: int, seed: int) -> list[Customer]:
    """Customers with 1–4 orders of one or two lines; every third has a cancelled order."""
    made = []
    for n in range(customers):
        customer = Customer(
            shop_id=shop.id,
            external_id=f"{seed}-{n}",
            first_name=f"Seed{seed}",
            last_name=f"Person{n}",
            email=f"p{n}@seed{seed}.example",
            currency=shop.currency,
            email_marketing_state="SUBSCRIBED" if n % 2 else "NOT_SUBSCRIBED",
            orders_count=1 + n % 4,
            total_spent=Decimal(0),
        )
        db.add(customer)
        db.flush()
        for k in range(1 + n % 4):
            day = 10 + (n * 37 + k * 91) % 500
            order = Order(
                shop_id=shop.id,
                external_id=f"{seed}-{n}-{k}",
                customer_id=customer.id,
                name=f"#{seed}{n}{k}",
                currency=shop.currency,
                financial_status="paid",
                processed_at=NOW - timedelta(days=day, hours=12),
            )
            for i in range(1 + k % 2):
                order.lines.append(
                    OrderLine(
                        shop_id=shop.id,
                        external_id=f"{order.external_id}-{i}",
                        title=f"Tea {i}",
                        quantity=1 + i,
                        price=Decimal("1000.50") if shop.currency != "JPY" else Decimal(1000),
                        currency=shop.currency,
                    )
                )
            order.total_price = sum((ln.price * ln.quantity for ln in order.lines), Decimal(0))
            customer.total_spent += order.total_price
            db.add(order)
        if n % 3 == 0:
            scoring.add_cancelled_order(db, shop, customer, f"{seed}-{n}-x", 777_777, NOW)
        made.append(customer)
    db.commit()
    return made


@pytest.fixture
def shops(db: Session, client: Any, runtime: Any) -> dict[str, Any]:
    """Signed in as an account with a scored Tokyo shop (25 customers) and a scored USD shop."""
    account = Account(name="Merchant")
    db.add(account)
    db.commit()
    tea = make_shop(
        db,
        account,
        "tea.myshopify.com",
        webhooks_subscribed=5,
        sync_state={"status": "running", "stream": "orders", "done": {"customers": 25}},
    )
    other = make_shop(db, account, "other.myshopify.com", currency="USD", timezone="UTC")
    customers = build_history(db, tea, 25, seed=1)
    others = build_history(db, other, 6, seed=2)
    for i, status in enumerate(["processed", "processed", "pending", "failed"]):
        db.add(
            WebhookEvent(
                platform="shopify",
                dedupe_key=f"hook-{i}",
                shop_id=tea.id,
                shop_domain=tea.domain,
                topic="orders/create",
                status=status,
                received_at=NOW - timedelta(minutes=i),
            )
        )
    first = customers[0]
    db.add(
        Checkout(
            shop_id=tea.id,
            external_id="tok-1",
            customer_id=first.id,
            currency="JPY",
            total_price=Decimal(2400),
            recovery_url="https://tea.example/recover/tok-1",
            line_items=[{"title": "Sencha", "quantity": 2}],
        )
    )
    db.add(
        TimelineEvent(
            shop_id=tea.id,
            customer_id=first.id,
            kind="order_placed",
            source_key="o-1",
            occurred_at=NOW - timedelta(days=3),
            detail={"name": "#1001", "total_price": "1000", "currency": "JPY"},
        )
    )
    db.commit()
    score_shop(db, tea.id)
    score_shop(db, other.id)
    response = sign_in_with_link(client, runtime, account.id)
    assert response.status_code == 302
    return {
        "account": account,
        "tea": tea,
        "other": other,
        "customers": customers,
        "others": others,
    }


def get(client: Any, template: str, path: str, status: int = 200, **params: Any) -> Any:
    response = client.get(f"/api/v1{path}", query_string=params)
    assert response.status_code == status, (path, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    return conforms(template, response)


# --- access ----------------------------------------------------------------------------------

PATHS = [
    ("/shop", "/shop"),
    ("/customers", "/customers"),
    ("/customers/{customer_id}", "/customers/1"),
    ("/segments", "/segments"),
    ("/analytics", "/analytics"),
]


@pytest.mark.parametrize(("template", "path"), PATHS)
def test_every_endpoint_needs_a_login(client: Any, template: str, path: str) -> None:
    body = get(client, template, path, status=401)
    assert body["error"] == "unauthorized"


def test_a_bad_session_token_is_a_json_401_with_the_retry_header(client: Any) -> None:
    response = client.get("/api/v1/shop", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert conforms("/shop", response)["error"] == "unauthorized"
    assert response.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_an_account_without_a_store(client: Any, runtime: Any, db: Session) -> None:
    account = Account(name="Empty")
    db.add(account)
    db.commit()
    sign_in_with_link(client, runtime, account.id)
    assert get(client, "/shop", "/shop", status=404)["error"] == "no_shop"


def test_unknown_paths_answer_json(client: Any, shops: dict[str, Any]) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert client.get("/api/v1/customers/abc").status_code == 404


# --- shop ------------------------------------------------------------------------------------


def test_shop_status(client: Any, shops: dict[str, Any]) -> None:
    body = get(client, "/shop", "/shop")
    assert body["shop"]["id"] == shops["tea"].id
    assert body["shop"]["domain"] == "tea.myshopify.com"
    assert body["sync"]["status"] == "running"
    assert body["sync"]["done_total"] == 25
    hooks = body["webhooks"]
    assert (hooks["received"], hooks["processed"], hooks["pending"], hooks["failed"]) == (
        4,
        2,
        1,
        1,
    )
    assert hooks["rejected"] == 0
    assert response_headers_no_store(client)
    other = get(client, "/shop", "/shop", shop_id=shops["other"].id)
    assert other["shop"]["id"] == shops["other"].id
    assert other["webhooks"]["received"] == 0


def response_headers_no_store(client: Any) -> bool:
    return client.get("/api/v1/shop").headers["Cache-Control"] == "private, no-store"


# --- customers -------------------------------------------------------------------------------


def test_customer_list_pages_through_every_customer_once(
    db: Session, client: Any, shops: dict[str, Any]
) -> None:
    tea = shops["tea"]
    seen: list[int] = []
    body = get(client, "/customers", "/customers", limit=10)
    assert body["count"] == 25
    assert body["limit"] == 10
    while True:
        seen += [c["id"] for c in body["customers"]]
        if body["next_after"] is None:
            break
        body = get(client, "/customers", "/customers", limit=10, after=body["next_after"])
    expected = db.scalars(
        select(Customer.id).where(Customer.shop_id == tea.id).order_by(Customer.id.desc())
    ).all()
    assert seen == list(expected)
    first = get(client, "/customers", "/customers", limit=1)["customers"][0]
    row = db.get(Customer, first["id"])
    assert row is not None
    assert first["total_spent"] == {"amount": str(int(row.total_spent)), "currency": "JPY"}
    assert first["orders_count"] == row.orders_count


def test_customer_search(client: Any, shops: dict[str, Any]) -> None:
    body = get(client, "/customers", "/customers", q="person1")  # Person1, Person10..19
    names = sorted(c["display_name"] for c in body["customers"])
    assert names == sorted(["Seed1 Person1"] + [f"Seed1 Person{n}" for n in range(10, 20)])
    assert body["count"] == 11
    assert get(client, "/customers", "/customers", q="seed2")["customers"] == []  # other shop


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "ten"},
        {"limit": "-5"},
        {"after": "x"},
        {"after": "0"},
        {"after": str(2**40)},
        {"q": "x" * 201},
        {"q": "a\x00b"},
    ],
)
def test_bad_parameters_are_400(client: Any, shops: dict[str, Any], params: dict[str, str]) -> None:
    body = get(client, "/customers", "/customers", status=400, **params)
    assert body["error"] == "invalid_parameter"
    assert next(iter(params)) in body["message"]


def test_customer_detail_matches_the_database(
    db: Session, client: Any, shops: dict[str, Any]
) -> None:
    tea, customer = shops["tea"], shops["customers"][3]  # 4 orders, one cancelled
    body = get(client, "/customers/{customer_id}", f"/customers/{customer.id}")
    assert body["id"] == customer.id
    assert body["profile"]["email"] == customer.email
    assert body["consent"]["email_marketing_state"] == "SUBSCRIBED"
    assert body["totals"]["orders_count"] == 4
    orders = db.scalars(select(Order).where(Order.customer_id == customer.id)).all()
    assert len(body["orders"]) == len(orders) == 5
    by_id = {o.id: o for o in orders}
    for shown in body["orders"]:
        row = by_id[shown["id"]]
        assert shown["total_price"] == {"amount": str(int(row.total_price)), "currency": "JPY"}
        assert [line["id"] for line in shown["lines"]] == [line.id for line in row.lines]
        assert sum(Decimal(ln["price"]["amount"]) * ln["quantity"] for ln in shown["lines"]) == (
            row.total_price if row.cancelled_at is None else 0
        )
    placed = [o["placed_at"] for o in body["orders"]]
    assert placed == sorted(placed, reverse=True)
    score = db.scalar(select(CustomerScore).where(CustomerScore.customer_id == customer.id))
    assert score is not None
    assert body["scores"]["rfm_group"] == score.rfm_group
    assert body["scores"]["predicted_clv"]["currency"] == "JPY"
    assert body["checkouts"] == []
    first = get(client, "/customers/{customer_id}", f"/customers/{shops['customers'][0].id}")
    assert first["checkouts"][0]["total_price"] == {"amount": "2400", "currency": "JPY"}
    assert first["timeline"][0]["kind"] == "order_placed"
    assert first["timeline_truncated"] is False
    assert tea.id == db.scalar(select(Customer.shop_id).where(Customer.id == customer.id))


def test_money_keeps_the_currency_minor_units(client: Any, shops: dict[str, Any]) -> None:
    usd = shops["others"][1]  # one order of one line at 1000.50
    body = get(
        client, "/customers/{customer_id}", f"/customers/{usd.id}", shop_id=shops["other"].id
    )
    assert body["orders"][0]["lines"][0]["price"] == {"amount": "1000.50", "currency": "USD"}


def test_another_shops_customer_is_not_found(client: Any, shops: dict[str, Any]) -> None:
    stranger = shops["others"][0]
    body = get(client, "/customers/{customer_id}", f"/customers/{stranger.id}", status=404)
    assert body["error"] == "not_found"
    get(client, "/customers/{customer_id}", "/customers/999999", status=404)
    get(client, "/customers/{customer_id}", f"/customers/{2**40}", status=404)


def test_another_accounts_shop_cannot_be_picked(
    db: Session, client: Any, runtime: Any, shops: dict[str, Any]
) -> None:
    outsider = Account(name="Outsider")
    db.add(outsider)
    db.commit()
    theirs = make_shop(db, outsider, "theirs.myshopify.com")
    hidden = build_history(db, theirs, 1, seed=3)[0]
    assert get(client, "/shop", "/shop", shop_id=theirs.id)["shop"]["id"] == shops["tea"].id
    get(
        client,
        "/customers/{customer_id}",
        f"/customers/{hidden.id}",
        status=404,
        shop_id=theirs.id,
    )


# --- segments and analytics ------------------------------------------------------------------


def test_segments_match_the_scores(db: Session, client: Any, shops: dict[str, Any]) -> None:
    tea = shops["tea"]
    body = get(client, "/segments", "/segments")
    scores = db.scalars(select(CustomerScore).where(CustomerScore.shop_id == tea.id)).all()
    assert body["scored_customers"] == len(scores) == 25
    assert sum(g["customers"] for g in body["groups"]) == 25
    assert sum(c["customers"] for c in body["grid"]) == 25
    assert Decimal(body["revenue"]["amount"]) == sum(s.monetary for s in scores)
    for group in body["groups"]:
        members = [s for s in scores if s.rfm_group == group["key"]]
        assert group["customers"] == len(members)
        assert Decimal(group["revenue"]["amount"]) == sum((s.monetary for s in members), 0)
    for cell in body["grid"]:
        members = [s for s in scores if (s.r, s.fm) == (cell["r"], cell["fm"])]
        assert cell["customers"] == len(members)
    assert body["as_of"] is not None


def test_analytics_match_the_orders(db: Session, client: Any, shops: dict[str, Any]) -> None:
    tea = shops["tea"]
    body = get(client, "/analytics", "/analytics")
    counted = (Order.shop_id == tea.id, Order.cancelled_at.is_(None))
    per_customer = db.execute(
        select(Order.customer_id, func.count()).where(*counted).group_by(Order.customer_id)
    ).all()
    assert body["customers"] == len(per_customer) == 25
    repeat = sum(1 for _, n in per_customer if n >= 2)
    assert body["repeat_customers"] == repeat
    assert body["repeat_rate"] == round(repeat / 25, 4)
    revenue = db.scalar(select(func.sum(Order.total_price)).where(*counted))
    assert Decimal(body["period_revenue"]["amount"]) == revenue  # all within 24 months
    assert sum(m["orders"] for m in body["monthly_revenue"]) == sum(n for _, n in per_customer)
    assert len(body["monthly_revenue"]) == 24
    assert body["ltv"]["historic"]["currency"] == "JPY"
    assert body["ltv"]["scored_customers"] == 25
    churned = db.scalar(
        select(func.count()).select_from(
            select(Order.customer_id)
            .where(*counted)
            .group_by(Order.customer_id)
            .having(func.max(Order.processed_at) < NOW - timedelta(days=180))
            .subquery()
        )
    )
    assert body["churned"] >= churned


def test_analytics_of_a_shop_without_orders(db: Session, client: Any, runtime: Any) -> None:
    account = Account(name="New")
    db.add(account)
    db.commit()
    make_shop(db, account, "new.myshopify.com")
    sign_in_with_link(client, runtime, account.id)
    body = get(client, "/analytics", "/analytics")
    assert (body["customers"], body["repeat_rate"], body["ltv"]["historic"]) == (0, None, None)
    segments = get(client, "/segments", "/segments")
    assert (segments["as_of"], segments["scored_customers"]) == (None, 0)
