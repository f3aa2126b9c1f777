"""Segment rules that validate can run, and a segment that can't run breaks nothing else.

Real PostgreSQL, Redis and the simulated SendGrid. Out-of-range values, oversized and deeply
nested bodies get a short 400 with the reason on the admin and API endpoints. A rule saved before
the bounds existed (written here through SQL) is reported on the segment list, its page, the API
and its export; as a flow audience it lets nobody in and says so on the shop's status, while the
webhook and dispatch jobs, drained by a real RQ worker, still succeed.
"""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from rq import Queue
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.domain.orchestration import THANK_YOU
from app.domain.segment_rules import MAX_PROBLEMS, Condition, Group, RuleError
from app.models import Account, SavedSegment, Shop, WebhookEvent
from app.models.flow import FlowRun, FlowSetting
from app.queueing import FLOWS, WEBHOOKS
from app.services import segments
from app.tasks import DISPATCH_DUE_STEPS
from connectors.sandbox.sendgrid import SandboxSendGrid
from tests.factories import cart_flow
from tests.factories.admin import login, text_of
from tests.factories.cart_flow import deliver_checkout, runs, setup_shop
from tests.factories.flow_dispatch import _cart, _shop
from tests.factories.post_purchase import BOWL, deliver_order, order_body
from tests.factories.post_purchase import runs as flow_runs
from tests.factories.post_purchase import setup_shop as setup_post_purchase_shop
from tests.factories.segment_worlds import JP_RULE, World, _signed_in, build_world

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration


MAX_ANSWER = 16 * 1024  # bytes: an error answer stays small whatever was sent
FAR_FUTURE = {
    "match": "all",
    "rules": [{"field": "last_order_at", "op": "after", "value": "9999-12-31"}],
}
TINY_AMOUNT = {
    "match": "all",
    "rules": [{"field": "total_spent", "op": "gte", "value": "1E-999999"}],
}

UNRUNNABLE = [
    ("last_order_at", "after", "9999-12-31"),
    ("first_order_at", "before", "0001-01-01"),
    ("expected_next_order_at", "after", "9999-12-31"),
    ("total_spent", "gte", "1E-999999"),
    ("predicted_clv", "lt", "1E-999999"),
    ("total_spent", "gt", "0." + "0" * 3000 + "1"),
    ("tag", "has", "vip\x07"),  # NUL never gets this far: the request guards refuse it
    ("collection_bought", "is", "c-\ud800"),
]


def _headers(token: str) -> dict[str, str]:
    return {"X-CSRF-Token": token, "Accept": "application/json", "Accept-Language": "en"}


def _legacy_segment(db: Session, shop_id: int, name: str, rule: dict[str, Any]) -> int:
    """A segment as saved before values were bounded: written through SQL, unchecked."""
    segment_id = db.execute(
        text(
            "INSERT INTO saved_segments (shop_id, name, rule, created_at, updated_at) "
            "VALUES (:shop, :name, CAST(:rule AS JSON), now(), now()) RETURNING id"
        ),
        {"shop": shop_id, "name": name, "rule": json.dumps(rule)},
    ).scalar_one()
    db.commit()
    return int(segment_id)


def _use_as_audience(db: Session, shop_id: int, flow_key: str, segment_id: int) -> None:
    setting = db.scalars(
        select(FlowSetting).where(FlowSetting.shop_id == shop_id, FlowSetting.flow_key == flow_key)
    ).one()
    setting.config = {**setting.config, "audience_segment_id": segment_id}
    db.commit()


@pytest.fixture
def signed_in(client: Any, runtime: Any, db: Session) -> tuple[World, str]:
    world = build_world(db, count=30)
    return world, _signed_in(client, runtime, db, world)


# --- values that validate can run -----------------------------------------------------------


@pytest.mark.parametrize(("field", "op", "value"), UNRUNNABLE, ids=lambda v: repr(v)[:24])
def test_values_that_could_not_run_are_refused_with_a_reason(
    client: Any, db: Session, signed_in: tuple[World, str], field: str, op: str, value: str
) -> None:
    _world, token = signed_in
    rule = {"match": "all", "rules": [{"field": field, "op": op, "value": value}]}
    for url, body in (
        ("/app/segments/count", {"rule": rule}),
        ("/api/v1/segments/count", {"rule": rule}),
        ("/api/v1/segments", {"name": "Unrunnable", "rule": rule}),
    ):
        response = client.post(url, json=body, headers=_headers(token))
        assert response.status_code == 400, url
        errors = response.get_json()["errors"]
        assert [e["path"] for e in errors] == ["r-0-value"], url
        assert errors[0]["message"]
    assert db.scalar(select(SavedSegment.id)) is None


def test_a_name_a_text_column_cannot_store_is_refused(
    client: Any, db: Session, signed_in: tuple[World, str]
) -> None:
    _world, token = signed_in
    body = {"name": "VIP\x07", "rule": JP_RULE}  # (NUL: refused earlier by the request guards)
    response = client.post("/api/v1/segments", json=body, headers=_headers(token))
    assert response.status_code == 400
    assert [e["path"] for e in response.get_json()["errors"]] == ["name"]
    assert db.scalar(select(SavedSegment.id)) is None


def test_an_oversized_rule_is_refused_for_its_size_with_a_short_answer(
    client: Any, db: Session, signed_in: tuple[World, str]
) -> None:
    _world, token = signed_in
    # 100,000 conditions (2 MiB): refused for the body's size before anything is parsed.
    huge = {
        "match": "all",
        "rules": [{"field": "nope", "op": "?", "value": n} for n in range(100_000)],
    }
    # 1,000 conditions, a body under the route's cap, each of them wrong: only the count counts.
    many = {
        "match": "all",
        "rules": [{"field": "nope", "op": "?", "value": n} for n in range(1_000)],
    }
    # Within the size limit but wrong everywhere: the first few problems only.
    wrong = {"match": "any", "rules": [{"field": "tag", "op": "is", "value": "x"}] * 30}
    for url in ("/app/segments/count", "/api/v1/segments/count", "/api/v1/segments"):
        response = client.post(url, json={"name": "Big", "rule": huge}, headers=_headers(token))
        assert response.status_code == 413, url
        assert len(response.get_data()) < MAX_ANSWER, url
        response = client.post(url, json={"name": "Many", "rule": many}, headers=_headers(token))
        assert response.status_code == 400, url
        assert len(response.get_data()) < MAX_ANSWER, url
        assert [e["key"] for e in response.get_json()["errors"]] == ["segments.rule.too_many"]
        response = client.post(url, json={"name": "Wrong", "rule": wrong}, headers=_headers(token))
        assert response.status_code == 400, url
        assert len(response.get_json()["errors"]) == MAX_PROBLEMS, url
    assert db.scalar(select(SavedSegment.id)) is None


def test_deeply_nested_json_is_a_400(
    client: Any, db: Session, signed_in: tuple[World, str]
) -> None:
    _world, token = signed_in
    # 200,000 levels: the body alone is over the route's cap; 20,000 levels fit and are too deep
    # for any JSON parser with recursion.
    too_big_to_parse = '{"name": "Deep", "rule": ' + "[" * 200_000 + "]" * 200_000 + "}"
    too_deep_to_parse = '{"name": "Deep", "rule": ' + "[" * 20_000 + "]" * 20_000 + "}"
    # Ten groups in groups: valid JSON, deeper than a rule may be.
    nested: dict[str, Any] = {"field": "tag", "op": "has", "value": "vip"}
    for _ in range(10):
        nested = {"match": "all", "rules": [nested]}
    for url in ("/app/segments/count", "/api/v1/segments/count", "/api/v1/segments"):
        response = client.post(
            url, data=too_big_to_parse, content_type="application/json", headers=_headers(token)
        )
        assert response.status_code == 413, url
        assert len(response.get_data()) < MAX_ANSWER, url
        response = client.post(
            url, data=too_deep_to_parse, content_type="application/json", headers=_headers(token)
        )
        assert response.status_code == 400, url
        assert len(response.get_data()) < MAX_ANSWER, url
        response = client.post(url, json={"name": "Deep", "rule": nested}, headers=_headers(token))
        assert response.status_code == 400, url
        assert [e["key"] for e in response.get_json()["errors"]] == ["segments.rule.depth"]
    assert db.scalar(select(SavedSegment.id)) is None


def test_a_rule_the_database_refuses_leaves_the_transaction_usable(
    db: Session, world_small: World
) -> None:
    shop_id = world_small.shop.id
    # Built directly, past the parser: the database refuses the amount.
    unrunnable = Group("all", (Condition("total_spent", "gte", Decimal("1E-999999")),))
    with pytest.raises(RuleError) as caught:
        segments.count_matching(db, shop_id, unrunnable)
    assert [p.key for p in caught.value.problems] == [segments.CANNOT_RUN]
    assert segments.count_matching(db, shop_id, JP_RULE) >= 0  # same transaction, still usable


@pytest.fixture
def world_small(db: Session) -> World:
    return build_world(db, count=10)


# --- a saved segment that can't be evaluated ------------------------------------------------


def test_a_legacy_segment_that_cannot_run_is_reported_and_nothing_else_breaks(
    client: Any, db: Session, signed_in: tuple[World, str]
) -> None:
    world, token = signed_in
    far = _legacy_segment(db, world.shop.id, "Far future", FAR_FUTURE)
    tiny = _legacy_segment(db, world.shop.id, "Tiny amounts", TINY_AMOUNT)
    good = segments.save_segment(db, world.shop.id, "Japan", JP_RULE).segment
    db.commit()
    assert good is not None
    japan = segments.count_matching(db, world.shop.id, JP_RULE)
    reason = "This segment can&#39;t be evaluated: Enter a value from 1900-01-01 to 2200-12-31."

    listing = client.get("/app/segments/saved", headers={"Accept-Language": "en"})
    assert listing.status_code == 200
    page = text_of(listing)
    assert page.count('data-field="unavailable"') == 2
    assert reason in page
    assert re.search(rf'data-field="count"><a [^>]*>{japan}</a>', page)
    ja_listing = text_of(client.get("/app/segments/saved", headers={"Accept-Language": "ja"}))
    assert "このセグメントは評価できません" in ja_listing

    for segment_id, why in ((far, "Enter a value from 1900"), (tiny, "Use at most 4 decimal")):
        builder = client.get(f"/app/segments/saved/{segment_id}", headers={"Accept-Language": "en"})
        assert builder.status_code == 200
        assert 'data-field="unavailable">This segment can&#39;t be evaluated: ' in text_of(builder)
        assert f'data-error-for="r-0-value">{why}' in text_of(builder)
        export = client.get(f"/app/segments/saved/{segment_id}/export.csv")
        assert export.status_code == 409
        assert "can't be evaluated" in export.get_data(as_text=True)
        one = client.get(f"/api/v1/segments/{segment_id}", headers=_headers(token))
        assert one.status_code == 200
        assert one.get_json()["customers"] is None
        assert one.get_json()["unavailable"].startswith(why)
        members = client.get(f"/api/v1/segments/{segment_id}/customers", headers=_headers(token))
        assert members.status_code == 409
        assert members.get_json()["error"] == "segment_unavailable"

    listed = client.get("/api/v1/segments", headers=_headers(token))
    assert listed.status_code == 200
    assert {s["name"] for s in listed.get_json()["saved"]} == {
        "Far future",
        "Tiny amounts",
        "Japan",
    }
    assert client.get(f"/api/v1/segments/{good.id}").get_json()["customers"] == japan
    export = client.get(f"/app/segments/saved/{good.id}/export.csv")
    assert export.status_code == 200
    assert export.get_data(as_text=True).count("\n") == japan + 1


# --- a broken audience never fails webhook processing ---------------------------------------


def _status_error(client: Any, runtime: Any, db: Session, shop: Shop) -> str:
    login(client, runtime, db.get_one(Account, shop.account_id))
    status = client.get("/app/status.json", headers={"Accept-Language": "en"})
    assert status.status_code == 200
    return str(status.get_json()["shop"]["last_error"])


@pytest.mark.parametrize("rule", [FAR_FUTURE, TINY_AMOUNT], ids=["date", "amount"])
def test_a_checkout_with_a_broken_cart_audience_is_processed_and_starts_no_run(
    client: Any,
    db: Session,
    runtime: Any,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
    rule: dict[str, Any],
) -> None:
    shop = setup_shop(db)
    _use_as_audience(db, shop.id, "cart", _legacy_segment(db, shop.id, "Broken", rule))
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    db.expire_all()
    assert [e.status for e in db.scalars(select(WebhookEvent))] == ["processed"]
    assert runs(db) == []
    error = _status_error(client, runtime, db, shop)
    assert "The Abandoned cart flow's audience segment “Broken” can't be evaluated" in error
    assert "Nobody enters the flow" in error
    # Kept as a key and values: the status page words it in the merchant's language.
    assert db.get_one(Shop, shop.id).last_error_code == "flows.audience.unavailable_error"
    ja = html.unescape(text_of(client.get("/app", headers={"Accept-Language": "ja"})))
    assert "カート放棄 フローの対象セグメント「Broken」は評価できません" in ja
    assert "セグメントを直すまで誰もフローに入りません。" in ja
    assert "can't be evaluated" not in ja
    flow_page = text_of(client.get("/app/flows/cart", headers={"Accept-Language": "en"}))
    assert 'data-field="audience-unavailable">The audience segment “Broken” can' in flow_page
    assert sendgrid.outbox == []


def test_an_order_with_a_broken_thank_you_audience_is_processed_and_starts_no_thank_you(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, _customer = setup_post_purchase_shop(db)
    _use_as_audience(db, shop.id, THANK_YOU, _legacy_segment(db, shop.id, "Broken", TINY_AMOUNT))
    deliver_order(client, drain_jobs, order_body(880001, [BOWL]))
    db.expire_all()
    assert {e.status for e in db.scalars(select(WebhookEvent))} == {"processed"}
    assert flow_runs(db, THANK_YOU) == []
    assert "can't be evaluated" in _status_error(client, runtime, db, shop)


def test_running_runs_whose_audience_breaks_exit_on_both_dispatch_paths(
    db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    # Step 1 of the cart flow goes set-wise; step 2 carries a code and goes one run at a time.
    started: list[FlowRun] = []
    for n, step in enumerate((1, 2)):
        shop = _shop(db, f"step-{step}.myshopify.com")
        _customer, _checkout, run = _cart(db, shop, n)
        run.next_step = step
        started.append(run)
        db.commit()
        _use_as_audience(db, shop.id, "cart", _legacy_segment(db, shop.id, "Broken", FAR_FUTURE))
        Queue(FLOWS, connection=runtime.redis).enqueue(
            DISPATCH_DUE_STEPS.path, shop.id, "cart", step, job_id=f"test-dispatch-{shop.id}-{step}"
        )
    assert drain_jobs(FLOWS) == 2  # both jobs finished
    db.expire_all()
    for run in started:
        assert (run.status, run.exit_reason) == ("exited", "audience_unavailable")
        assert "can't be evaluated" in str(db.get_one(Shop, run.shop_id).last_error)
    assert sendgrid.outbox == []
