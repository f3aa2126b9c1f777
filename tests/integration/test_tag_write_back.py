"""Segments written back to the store: Shopify customer tags over GraphQL and WooCommerce customer
meta over REST, against the simulators over real HTTP, on real PostgreSQL and Redis.

The shop is synced and scored the way the product does it; the merchant turns write-back on in
the admin; tags appear, follow customers out of segments, leave the merchant's own tags alone,
survive an outage mid-run (resumed, not restarted) and end as a visible failure when the store
keeps refusing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Customer, CustomerScore, Shop
from app.models.tag_write_back import CustomerPlatformTags, TagWriteBack
from app.queueing import SYNC
from app.services import segments as segment_service
from app.services import tag_write_back
from app.services.install_shop import connect_custom_app
from app.services.scoring import score_shop
from connectors.base import RetryableError
from connectors.sandbox.shopify import SandboxShopify
from jobs.tag_write_back import write_back_tags
from tests.conftest import sign_in_with_link
from tests.factories import simulated_shopify
from tests.factories.admin import pages_in_both_languages

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

DOMAIN = "tag-store.myshopify.com"
WRITE_BACK_PAGE = "/app/segments/write-back"
REPEAT_BUYERS = {"match": "all", "rules": [{"field": "orders_count", "op": "gte", "value": 2}]}


servers = simulated_shopify.servers
config = simulated_shopify.config
live_app = simulated_shopify.live_app


@pytest.fixture
def sandbox(servers: Any) -> Iterator[SandboxShopify]:
    yield from simulated_shopify.open_store(
        servers, DOMAIN, seed=23, customers=14, name="Tag Store"
    )


def _synced_and_scored_shop(runtime: Any, sandbox: SandboxShopify, db: Session, drain: Any) -> Shop:
    token = sandbox.install_app(DOMAIN, expiring=False)["access_token"]
    shop_id = connect_custom_app(runtime, DOMAIN, token)
    drain(SYNC)  # the first sync (and the scoring that follows it)
    db.expire_all()
    shop = db.get_one(Shop, shop_id)
    assert shop.sync_state["status"] == "done", shop.sync_state
    if not db.scalar(select(CustomerScore.id).where(CustomerScore.shop_id == shop_id).limit(1)):
        score_shop(db, shop_id)
        db.commit()
    return shop


def _form(client: Any, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def _platform_tags(sandbox: SandboxShopify, external_id: str) -> set[str]:
    return set(sandbox.shop(DOMAIN).customer(external_id).tags)


def _kizuna_tags(db: Session, shop: Shop) -> dict[str, set[str]]:
    """What each customer should carry, from Kizuna's own scores and the segment's members."""
    db.expire_all()
    thresholds = db.get_one(TagWriteBack, shop.id).value_thresholds
    members = set(segment_service.matching_customer_ids(db, shop.id, REPEAT_BUYERS))
    expected: dict[str, set[str]] = {}
    customers = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).all()
    for customer in customers:
        tags: set[str] = set()
        score = db.scalars(
            select(CustomerScore).where(CustomerScore.customer_id == customer.id)
        ).one_or_none()
        if score is not None:
            tags.add("kz:rfm-" + score.rfm_group.replace("_", "-"))
            band = tag_write_back.value_band(score.predicted_clv, thresholds)
            if band:
                tags.add(f"kz:value-{band}")
        if customer.id in members:
            tags.add("kz:segment-repeat-buyers")
        expected[customer.external_id] = tags
    return expected


def test_segments_become_shopify_tags_and_follow_customers_out(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
) -> None:
    shop = _synced_and_scored_shop(runtime, sandbox, db, drain_jobs)
    store = sandbox.shop(DOMAIN)
    own = store.customers[0]
    store.update_customer(own.id, tags=["wholesale"])  # the merchant's own tag
    drain_jobs()
    segment = segment_service.save_segment(db, shop.id, "Repeat buyers", REPEAT_BUYERS).segment
    db.commit()
    assert segment is not None

    sign_in_with_link(client, runtime, shop.account_id)
    path = "/app/segments/write-back"
    token = _form(client, path)
    response = client.post(
        path,
        data={
            "csrf_token": token,
            "enabled": "1",
            "prefix": "kz:",
            "include_rfm": "1",
            "include_value_band": "1",
            "segment_id": str(segment.id),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    drain_jobs(SYNC)

    expected = _kizuna_tags(db, shop)
    assert any("kz:segment-repeat-buyers" in tags for tags in expected.values())
    assert any("kz:value-high" in tags for tags in expected.values())
    for customer in store.customers:
        ours = {tag for tag in customer.tags if tag.startswith("kz:")}
        assert ours == expected[str(customer.id)], customer.id
    assert "wholesale" in _platform_tags(sandbox, str(own.id))
    row = db.get_one(TagWriteBack, shop.id)
    assert (row.status, row.customers_failed) == ("done", 0)
    assert row.customers_checked == len(store.customers)
    page = client.get(path).get_data(as_text=True)
    assert 'data-field="changed"' in page
    assert "Up to date" in page

    # A customer leaves the segment: cancel all but one of their orders at Kizuna's side by
    # narrowing the segment instead (the rule now wants 1,000 orders): every segment tag goes.
    segment_service.save_segment(
        db,
        shop.id,
        "Repeat buyers",
        {"match": "all", "rules": [{"field": "orders_count", "op": "gte", "value": 1000}]},
        segment_id=segment.id,
    )
    db.commit()
    client.post(path, data={"csrf_token": token, "action": "run"})
    drain_jobs(SYNC)
    assert not any("kz:segment-repeat-buyers" in c.tags for c in store.customers)
    assert any(tag.startswith("kz:rfm-") for c in store.customers for tag in c.tags)

    # Write-back off: every Kizuna tag is removed, the merchant's own stay.
    client.post(path, data={"csrf_token": token, "prefix": "kz:"})
    drain_jobs(SYNC)
    assert not any(tag.startswith("kz:") for c in store.customers for tag in c.tags)
    assert _platform_tags(sandbox, str(own.id)) == {"wholesale"}
    db.expire_all()
    assert all(
        row.tags == []
        for row in db.scalars(
            select(CustomerPlatformTags).where(CustomerPlatformTags.shop_id == shop.id)
        )
    )


def test_an_outage_mid_run_resumes_where_it_stopped(
    live_app: Flask, runtime: Any, db: Session, sandbox: SandboxShopify, drain_jobs: Any
) -> None:
    shop = _synced_and_scored_shop(runtime, sandbox, db, drain_jobs)
    row = tag_write_back.save_settings(
        db,
        shop.id,
        tag_write_back.Settings(
            enabled=True, prefix="kz:", include_rfm=True, include_value_band=False, segment_ids=()
        ),
    )
    tag_write_back.start_run(db, runtime, shop.id)
    db.commit()
    token = tag_write_back.run_token(row.run_started_at)  # type: ignore[arg-type]

    written: list[str] = []
    platform = sandbox.shop(DOMAIN)
    original = platform.update_customer

    def store_goes_down_after_five(external_id: Any, **changes: Any) -> Any:
        written.append(str(external_id))
        if len(written) == 5:
            sandbox.fail_admin_api(503, count=5)  # every retry of the next write fails
        return original(external_id, **changes)

    platform.update_customer = store_goes_down_after_five  # type: ignore[method-assign]
    fast_retries = {"backoff_base": 0.01}
    with pytest.raises(RetryableError):
        tag_write_back.run(runtime, shop.id, token, page_size=2, client_options=fast_retries)
    db.expire_all()
    row = db.get_one(TagWriteBack, shop.id)
    assert row.status == "running"
    assert row.last_error_code == "write_back.error.unavailable"
    assert row.cursor_customer_id > 0  # the pages finished before the outage are kept
    assert 0 < row.customers_changed < len(written)  # the page cut short is not counted

    assert tag_write_back.run(runtime, shop.id, token, client_options=fast_retries) == "done"
    db.expire_all()
    row = db.get_one(TagWriteBack, shop.id)
    assert row.status == "done"
    # Resumed, not restarted: no customer's tags changed twice on the store.
    assert len(written) == len(set(written))
    scored = set(
        db.scalars(
            select(Customer.external_id)
            .join(CustomerScore, CustomerScore.customer_id == Customer.id)
            .where(Customer.shop_id == shop.id)
        )
    )
    assert set(written) == scored
    tagged = {str(c.id) for c in platform.customers if any(t.startswith("kz:rfm-") for t in c.tags)}
    assert tagged == scored


def test_a_store_that_refuses_ends_as_a_visible_failure_in_the_merchants_language(
    live_app: Flask,
    client: Any,
    runtime: Any,
    db: Session,
    sandbox: SandboxShopify,
    drain_jobs: Any,
) -> None:
    shop = _synced_and_scored_shop(runtime, sandbox, db, drain_jobs)
    tag_write_back.save_settings(
        db,
        shop.id,
        tag_write_back.Settings(
            enabled=True, prefix="kz-", include_rfm=True, include_value_band=True, segment_ids=()
        ),
    )
    # A scored customer deleted in Shopify meanwhile: the store refuses their tags alone.
    store = sandbox.shop(DOMAIN)
    gone_id = db.scalars(
        select(Customer.external_id)
        .join(CustomerScore, CustomerScore.customer_id == Customer.id)
        .where(Customer.shop_id == shop.id)
        .limit(1)
    ).one()
    with store.lock:
        gone = store.customer(gone_id)
        store.customers.remove(gone)
        store._customers_by_id.pop(gone.id)
    tag_write_back.start_run(db, runtime, shop.id)
    db.commit()
    drain_jobs(SYNC)
    db.expire_all()
    row = db.get_one(TagWriteBack, shop.id)
    assert (row.status, row.customers_failed) == ("done", 1)
    assert row.last_error_code == "write_back.error.customer_refused"
    assert gone_id not in f"{row.last_error} {row.last_error_params}"  # nobody is named
    pages = pages_in_both_languages(client, runtime, db, shop.id, WRITE_BACK_PAGE)
    assert "The store refused a customer's tags: The store rejected the change." in pages["en"]
    assert (
        "ストアが顧客のタグを受け付けませんでした: ストアが変更を受け付けませんでした。"
        in pages["ja"]
    )

    # Then the store refuses Kizuna's access: the run fails, on its page and the shop's status.
    row = tag_write_back.start_run(db, runtime, shop.id)
    db.commit()
    token = tag_write_back.run_token(row.run_started_at)  # type: ignore[arg-type]
    Queue(SYNC, connection=runtime.redis).empty()
    sandbox.fail_admin_api(401, count=10)
    assert write_back_tags(shop.id, token) == "failed"
    db.expire_all()
    assert db.get_one(TagWriteBack, shop.id).status == "failed"
    assert db.get_one(Shop, shop.id).last_error_code == "shop_error.write_back_failed"
    reason = {
        "en": "The store refused Kizuna's access: connect the store again.",
        "ja": "ストアが Kizuna のアクセスを拒否しました。ストアを接続し直してください。",
    }
    pages = pages_in_both_languages(client, runtime, db, shop.id, WRITE_BACK_PAGE)
    assert f"The run stopped: {reason['en']}" in pages["en"]
    assert f"実行が停止しました: {reason['ja']}" in pages["ja"]
    pages = pages_in_both_languages(client, runtime, db, shop.id)
    assert f"Writing segments back to the store failed: {reason['en']}" in pages["en"]
    assert f"ストアへのセグメントの書き戻しに失敗しました: {reason['ja']}" in pages["ja"]
    assert "Writing segments back" not in pages["ja"]

    # A newer run supersedes an older one's job: it stops at once and writes nothing.
    tag_write_back.start_run(db, runtime, shop.id)
    db.commit()
    assert tag_write_back.run(runtime, shop.id, token) == "superseded"


def test_bad_settings_are_refused_with_a_reason(
    live_app: Flask, client: Any, runtime: Any, db: Session, sandbox: SandboxShopify
) -> None:
    token = sandbox.install_app(DOMAIN, expiring=False)["access_token"]
    shop_id = connect_custom_app(runtime, DOMAIN, token)
    shop = db.get_one(Shop, shop_id)
    sign_in_with_link(client, runtime, shop.account_id)
    path = "/app/segments/write-back"
    csrf = _form(client, path)
    for data, reason in (
        ({"prefix": "has space"}, "without spaces or commas"),
        ({"prefix": "a,b"}, "without spaces or commas"),
        ({"prefix": "x" * 41}, "without spaces or commas"),
        ({"prefix": "kz-", "segment_id": "999999"}, "segments of this store"),
        ({"prefix": "kz-", "segment_id": "'; drop table"}, "segments of this store"),
    ):
        response = client.post(path, data={"csrf_token": csrf, "enabled": "1", **data})
        assert response.status_code == 400
        assert reason in response.get_data(as_text=True)
    assert client.post(path, data={"prefix": "kz-"}).status_code in (400, 403)  # no CSRF token
    db.expire_all()
    row = db.get(TagWriteBack, shop_id)
    assert row is None or (not row.enabled and row.status == "idle")
