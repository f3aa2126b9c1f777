"""Flow settings, preview and outbox pages for every flow: validation, saving, effect on the
flow, scoping.

Real PostgreSQL, Redis and a simulated SendGrid over HTTP (fixtures from test_cart_flow); the
merchant signs in through a real login link and posts the form with the session's CSRF token.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.orchestration import (
    CART,
    REPLENISHMENT,
    REVIEW_REQUEST,
    THANK_YOU,
    WINBACK,
    WINBACK_DEFAULTS,
    FlowConfig,
    PostPurchaseTiming,
    WinbackConfig,
)
from app.flows.scheduling import step_job_id
from app.flows.settings import FLOW_KEYS
from app.models import Account, Customer, Shop
from app.models.flow import FlowRun, FlowSetting, Message
from app.queueing import EMAIL, FLOWS, WEBHOOKS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step, scan_winback
from tests.factories import cart_flow
from tests.factories.admin import login, text_of
from tests.factories.cart_flow import deliver_checkout, runs, setup_shop
from tests.factories.post_purchase import BOWL, TEA, add_history
from tests.factories.post_purchase import setup_shop as post_purchase_shop
from tests.factories.shopify_webhooks import make_shop
from tests.factories.winback import add_customer as add_winback_customer

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration

EN = {"Accept-Language": "en"}  # the test shop speaks Japanese

VALID = {
    "enabled": "1",
    "delay_1": "2",
    "delay_2": "30",
    "delay_3": "96",
    "discount_percent": "15",
    "discount_days": "5",
    "discount_min_total": "3000",
    "subject_ja_1": "お忘れ物はありませんか",
    "subject_en_1": "",
    "holdout_percent": "20",
    "cap_short": "1",
    "cap_week": "4",
    "quiet_enabled": "1",
    "quiet_start": "22:00",
    "quiet_end": "08:30",
}


def signed_in(client: Any, runtime: Any, db: Session, shop: Shop) -> str:
    """Log in as the shop's account; → the page's CSRF token."""
    login(client, runtime, db.get_one(Account, shop.account_id))
    page = text_of(client.get("/app/flows/cart"))
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def setting(db: Session, shop: Shop) -> FlowSetting:
    db.expire_all()
    return db.scalars(select(FlowSetting).where(FlowSetting.shop_id == shop.id)).one()


def test_bad_values_show_field_errors_and_save_nothing(
    client: Any, db: Session, runtime: Any
) -> None:
    shop = setup_shop(db)
    before = dict(setting(db, shop).config)
    token = signed_in(client, runtime, db, shop)
    bad = {
        **VALID,
        "csrf_token": token,
        "delay_2": "1",  # not after step 1
        "holdout_percent": "80",
        "cap_short": "x",
        "quiet_start": "25:00",
        "subject_en_2": "s" * 151,
        "discount_days": "",
    }
    response = client.post("/app/flows/cart", data=bad, headers=EN)
    assert response.status_code == 400
    page = text_of(response)
    errors = set(re.findall(r'data-error="([^"]+)"', page))
    assert errors == {
        "delay_2",
        "holdout_percent",
        "cap_short",
        "quiet_start",
        "subject_en_2",
        "discount_days",
    }
    assert "Must be later than email 1." in page
    assert "Enter a value from 0 to 50." in page
    assert "nothing was saved" in page
    assert 'value="80"' in page  # the posted values are shown again
    assert setting(db, shop).config == before

    ja = client.post("/app/flows/cart?locale=ja", data=bad)
    assert ja.status_code == 400
    assert "0 から 50 までの値を入力してください。" in text_of(ja)

    # Without the CSRF token nothing happens either.
    refused = client.post("/app/flows/cart", data={**VALID}, headers=EN)
    assert refused.status_code == 400
    assert "This form has expired" in text_of(refused)
    assert setting(db, shop).config == before


def test_valid_settings_are_saved_in_the_keys_the_flow_reads(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop = setup_shop(db)
    token = signed_in(client, runtime, db, shop)
    response = client.post("/app/flows/cart", data={**VALID, "csrf_token": token})
    assert response.status_code == 302
    assert "saved=1" in response.headers["Location"]
    row = setting(db, shop)
    assert row.enabled is True
    assert row.config == {
        "step_delay_hours": [2.0, 30.0, 96.0],
        "holdout_percent": 20,
        "caps": [[1, 16], [4, 168]],
        "quiet_hours": ["22:00", "08:30"],
        "discount_percent": 15,
        "discount_days": 5,
        "discount_min_total": 3000,
        "subjects": {"ja": {"1": "お忘れ物はありませんか"}},
    }
    page = text_of(client.get(response.headers["Location"], headers=EN))
    assert "Settings saved." in page
    # Delays read in natural units: 96 hours is 4 days.
    assert re.search(r'id="delay_3" name="delay_3" type="number"[^>]* value="4"', page)
    unit = re.search(r'<select id="delay_3_unit".*?</select>', page, re.S)
    assert unit is not None
    assert '<option value="days" selected>' in unit.group(0)
    assert 'value="22:00"' in page

    # Changed delay: the step-1 job is scheduled 2 h after the run starts (holdout back to 0
    # so the test customer is treated).
    response = client.post(
        "/app/flows/cart", data={**VALID, "holdout_percent": "0", "csrf_token": token}
    )
    assert response.status_code == 302
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    assert run.status == "running"
    assert run.next_step_at is not None
    assert run.next_step_at - run.started_at == timedelta(hours=2)
    registry = ScheduledJobRegistry(queue=Queue(FLOWS, connection=runtime.redis))
    when = registry.get_scheduled_time(step_job_id(run.shop_id, "cart", 1, run.next_step_at))
    assert abs(when.timestamp() - run.next_step_at.timestamp()) < 2


def test_a_disabled_flow_starts_no_run(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop = setup_shop(db)
    token = signed_in(client, runtime, db, shop)
    data = {k: v for k, v in VALID.items() if k != "enabled"}
    response = client.post("/app/flows/cart", data={**data, "csrf_token": token})
    assert response.status_code == 302
    assert setting(db, shop).enabled is False
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    assert runs(db) == []
    page = text_of(client.get("/app/flows", headers=EN))
    assert "Off" in page


def test_preview_renders_a_real_customers_cart_with_the_senders_render(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop = setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    token = signed_in(client, runtime, db, shop)
    client.post("/app/flows/cart", data={**VALID, "csrf_token": token})
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()

    page = text_of(client.get("/app/flows/cart", headers=EN))
    assert f"(customer {customer.id})" in page
    assert page.count('data-step="') == 3
    assert "抹茶セット" in page
    assert "¥12,800" in page
    # The merchant's subject for step 1 (the customer reads Japanese), built-in ones after.
    assert "お忘れ物はありませんか" in page
    assert "お買い物カゴの商品をお取り置きしています" in page
    assert "/unsubscribe/" not in page  # links are neutralised in the preview
    assert 'sandbox=""' in page
    # Previewing stores nothing and creates no discount.
    assert db.scalars(select(Message)).all() == []
    assert len(db.scalars(select(FlowRun)).all()) == 1

    chosen = text_of(client.get(f"/app/flows/cart?customer_id={customer.id}"))
    assert "抹茶セット" in chosen
    other_shop = make_shop(db, domain="other.myshopify.com")
    stranger = Customer(shop_id=other_shop.id, external_id="1", email="x@example.com")
    db.add(stranger)
    db.commit()
    refused = text_of(client.get(f"/app/flows/cart?customer_id={stranger.id}", headers=EN))
    assert "This customer has no checkout in this store." in refused
    assert client.get("/app/flows/nope").status_code == 404


def test_preview_says_what_the_send_rules_would_decide_now(
    client: Any, db: Session, runtime: Any, drain_jobs: Any
) -> None:
    shop = setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    signed_in(client, runtime, db, shop)
    customer = db.scalars(select(Customer).where(Customer.shop_id == shop.id)).one()
    page = text_of(client.get(f"/app/flows/cart?customer_id={customer.id}", headers=EN))
    assert "Were it due now, it would" in page
    assert "would not be sent" not in page

    customer.email_marketing_state = "UNSUBSCRIBED"
    db.commit()
    page = text_of(client.get(f"/app/flows/cart?customer_id={customer.id}", headers=EN))
    assert "Were it due now, it would not be sent (no_consent)." in page
    assert db.scalars(select(Message)).all() == []


def test_outbox_with_real_sendgrid_lists_kizunas_messages(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, monkeypatch: Any
) -> None:
    shop = setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    db.add(
        Message(
            shop_id=shop.id,
            flow_run_id=run.id,
            step=1,
            customer_id=run.customer_id,
            status="sent",
            subject="Kizuna's own record",
        )
    )
    db.commit()
    monkeypatch.setattr(
        runtime,
        "config",
        replace(runtime.config, sendgrid_api_key="SG.test", sendgrid_sandbox_url=None),
    )
    login(client, runtime, db.get_one(Account, shop.account_id))
    page = text_of(client.get("/app/outbox", headers=EN))
    assert "Emails Kizuna sent for this store" in page
    assert "Kizuna&#39;s own record" in page
    assert "hanako@example.jp" in page


# --- every flow: win-back, thank-you, review request, replenishment ---------------------------

COMMON = {
    "enabled": "1",
    "holdout_percent": "5",
    "cap_short": "1",
    "cap_week": "5",
    "quiet_enabled": "",
    "quiet_start": "21:00",
    "quiet_end": "09:00",
}
COMMON_SAVED = {"holdout_percent": 5, "caps": [[1, 16], [5, 168]], "quiet_hours": None}


def row_of(db: Session, shop: Shop, flow_key: str) -> FlowSetting | None:
    db.expire_all()
    return db.scalars(
        select(FlowSetting).where(FlowSetting.shop_id == shop.id, FlowSetting.flow_key == flow_key)
    ).one_or_none()


def config_of(db: Session, shop: Shop, flow_key: str) -> dict[str, Any]:
    row = row_of(db, shop, flow_key)
    assert row is not None
    return dict(row.config)


def test_every_flow_is_listed_and_its_page_renders_in_both_languages(
    client: Any, db: Session, runtime: Any
) -> None:
    shop = setup_shop(db)  # a cart settings row only: the others show their defaults
    signed_in(client, runtime, db, shop)
    listing = text_of(client.get("/app/flows", headers=EN))
    for key in FLOW_KEYS:
        assert f'id="flow-{key}"' in listing
    assert "Win-back" in listing
    assert "Emails 0 hours and 7 days after a customer is found lapsing" in listing
    assert "One email 7 days after fulfilment" in listing
    assert "Customers entered" in listing
    ja_listing = text_of(client.get("/app/flows?locale=ja"))
    assert "休眠顧客の呼び戻し" in ja_listing
    assert "買い替えのお知らせ" in ja_listing

    pages = {key: text_of(client.get(f"/app/flows/{key}", headers=EN)) for key in FLOW_KEYS}
    for key in FLOW_KEYS:
        ja = client.get(f"/app/flows/{key}?locale=ja")
        assert ja.status_code == 200
        assert "保存" in text_of(ja)
        # The cart row's; back in stock holds nobody out (the shopper asked); else the default.
        holdout = "0" if key in (CART, "back_in_stock") else "10"
        assert (
            f'name="holdout_percent" type="number" min="0" max="50" step="1" value="{holdout}"'
            in (pages[key])
        )
        assert 'name="cap_short"' in pages[key]
        assert 'name="quiet_start"' in pages[key]
        assert 'name="audience_segment_id"' in pages[key]
        assert 'id="preview"' in pages[key]
    winback = pages["winback"]
    assert (
        'name="delay_1" type="number" min="0" step="any" inputmode="decimal" value="0"' in winback
    )
    assert (
        'name="delay_2" type="number" min="0" step="any" inputmode="decimal" value="7"' in winback
    )
    assert '<option value="days" selected>days</option>' in winback
    assert 'name="lapse_min_days" type="number" min="14" max="730" step="1" value="60"' in winback
    assert 'name="lapse_multiplier" type="number" min="1" max="10" step="any" value="2"' in winback
    assert 'name="one_time_days" type="number" min="14" max="730" step="1" value="90"' in winback
    assert 'name="subject_ja_2"' in winback
    assert 'name="subject_ja_3"' not in winback
    assert 'name="discount_percent"' not in winback
    assert (
        'name="delay_1" type="number" min="0" step="any" inputmode="decimal" value="2"'
        in (pages["thank_you"])
    )
    assert (
        'name="review_delay_days" type="number" min="1" max="90" step="1" value="7"'
        in (pages["review_request"])
    )
    assert (
        'name="lead_days" type="number" min="0" max="30" step="1" value="3"'
        in (pages["replenishment"])
    )
    for key in ("review_request", "replenishment"):
        assert 'name="delay_1"' not in pages[key]
        assert 'name="subject_en_1"' in pages[key]
        assert 'name="subject_en_2"' not in pages[key]
    assert "{product} is replaced by the product" in pages["replenishment"]
    assert "When a customer is lapsing" in winback
    assert "休眠の判定" in text_of(client.get("/app/flows/winback?locale=ja"))


def test_valid_posts_save_the_keys_each_flow_reads_and_keep_the_others(
    client: Any, db: Session, runtime: Any
) -> None:
    shop = setup_shop(db)
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key=WINBACK,
            enabled=True,
            config={**WINBACK_DEFAULTS, "holdout_percent": 10, "extra": 1},
        )
    )
    db.commit()
    token = signed_in(client, runtime, db, shop)
    posted = {
        WINBACK: {
            "delay_1": "0",
            "delay_2": "120",
            "lapse_min_days": "45",
            "lapse_multiplier": "1.5",
            "one_time_days": "120",
            "subject_ja_1": "またお会いしたいです",
            "subject_en_2": "Still thinking of you",
        },
        THANK_YOU: {"delay_1": "4"},
        REVIEW_REQUEST: {"review_delay_days": "10"},
        REPLENISHMENT: {"lead_days": "0", "subject_ja_1": "{product}はいかがですか"},
    }
    for key, fields in posted.items():
        response = client.post(
            f"/app/flows/{key}", data={**COMMON, **fields, "csrf_token": token}, headers=EN
        )
        assert response.status_code == 302, key
        assert "saved=1" in response.headers["Location"]
    saved = {key: config_of(db, shop, key) for key in posted}
    assert saved[WINBACK] == {
        **COMMON_SAVED,
        "step_delay_hours": [0.0, 120.0],
        "lapse_min_days": 45,
        "lapse_multiplier": 1.5,
        "one_time_days": 120,
        "subjects": {"ja": {"1": "またお会いしたいです"}, "en": {"2": "Still thinking of you"}},
        "extra": 1,
    }
    assert saved[THANK_YOU] == {**COMMON_SAVED, "step_delay_hours": [4.0], "subjects": {}}
    assert saved[REVIEW_REQUEST] == {
        **COMMON_SAVED,
        "step_delay_hours": [0],
        "review_delay_days": 10,
        "subjects": {},
    }
    assert saved[REPLENISHMENT] == {
        **COMMON_SAVED,
        "step_delay_hours": [0],
        "lead_days": 0,
        "subjects": {"ja": {"1": "{product}はいかがですか"}},
    }
    # The flows read what was saved.
    assert WinbackConfig.from_overrides(saved[WINBACK]) == WinbackConfig(45, 1.5, 120)
    timing = PostPurchaseTiming.from_overrides(saved[REVIEW_REQUEST])
    assert timing.review_delay_days == 10
    assert FlowConfig.from_overrides(saved[THANK_YOU]).step_delays == (timedelta(hours=4),)
    page = text_of(client.get("/app/flows/winback?saved=1", headers=EN))
    assert "Settings saved." in page
    assert 'value="1.5"' in page
    assert 'value="またお会いしたいです"' in page

    # Turning a flow off keeps its settings.
    off = {**COMMON, **posted[THANK_YOU], "csrf_token": token}
    del off["enabled"]
    assert client.post("/app/flows/thank_you", data=off).status_code == 302
    row = row_of(db, shop, THANK_YOU)
    assert row is not None
    assert row.enabled is False
    assert row.config["step_delay_hours"] == [4.0]


@pytest.mark.parametrize(
    ("key", "fields", "field", "message", "message_ja"),
    [
        (
            REVIEW_REQUEST,
            {"review_delay_days": "0"},
            "review_delay_days",
            "Enter a value from 1 to 90.",
            "1 から 90 までの値を入力してください。",
        ),
        (
            WINBACK,
            {
                "delay_1": "0",
                "delay_2": "168",
                "lapse_min_days": "60",
                "lapse_multiplier": "100",
                "one_time_days": "90",
            },
            "lapse_multiplier",
            "Enter a value from 1 to 10.",
            "1 から 10 までの値を入力してください。",
        ),
        (
            THANK_YOU,
            {"delay_1": "-1"},
            "delay_1",
            "Enter a value from 0 hours to 7 days.",
            "0 時間 から 7 日 までの値を入力してください。",
        ),
        (
            WINBACK,
            {
                "delay_1": "24",
                "delay_2": "24",
                "lapse_min_days": "60",
                "lapse_multiplier": "2",
                "one_time_days": "90",
            },
            "delay_2",
            "Must be later than email 1.",
            "1 通目より後にしてください。",
        ),
        (
            REPLENISHMENT,
            {"lead_days": "2.5"},
            "lead_days",
            "Enter a whole number.",
            "整数を入力してください。",
        ),
    ],
)
def test_invalid_input_saves_nothing_and_shows_the_field_error(
    client: Any,
    db: Session,
    runtime: Any,
    key: str,
    fields: dict[str, str],
    field: str,
    message: str,
    message_ja: str,
) -> None:
    shop = setup_shop(db)
    token = signed_in(client, runtime, db, shop)
    data = {**COMMON, **fields, "csrf_token": token}
    response = client.post(f"/app/flows/{key}", data=data, headers=EN)
    assert response.status_code == 400
    page = text_of(response)
    assert set(re.findall(r'data-error="([^"]+)"', page)) == {field}
    assert message in page
    assert "nothing was saved" in page
    assert f'value="{fields[field]}"' in page  # the posted value is shown again
    ja = client.post(f"/app/flows/{key}?locale=ja", data=data)
    assert ja.status_code == 400
    assert message_ja in text_of(ja)
    assert row_of(db, shop, key) is None


def test_a_subject_override_reaches_the_sent_winback_email(
    client: Any,
    db: Session,
    runtime: Any,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
) -> None:
    shop = make_shop(db)
    shop.name, shop.locale, shop.timezone = "絆ストア", "ja", "UTC"
    lapsed = add_winback_customer(db, shop, "9001", [300, 250, 200], "SUBSCRIBED")
    db.commit()
    token = signed_in(client, runtime, db, shop)
    form = {
        **COMMON,
        "holdout_percent": "0",
        "delay_1": "0",
        "delay_2": "168",
        "lapse_min_days": "60",
        "lapse_multiplier": "2",
        "one_time_days": "90",
        "subject_ja_1": "花子さま、お久しぶりです",
        "csrf_token": token,
    }
    assert client.post("/app/flows/winback", data=form).status_code == 302
    preview = text_of(client.get("/app/flows/winback", headers=EN))
    assert f"(customer {lapsed.id})" in preview
    assert preview.count('data-step="') == 2
    assert "花子さま、お久しぶりです" in preview
    assert "その後いかがお過ごしですか" in preview  # step 2 keeps the built-in subject
    assert "/unsubscribe/" not in preview

    scan: Any = scan_winback  # the job decorator hides the signature the worker calls
    step: Any = run_flow_step
    assert scan() == 1
    [run] = db.scalars(select(FlowRun).where(FlowRun.flow_key == WINBACK)).all()
    assert step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [sent] = sendgrid.outbox
    assert sent.subject == "花子さま、お久しぶりです"
    assert sent.categories == ("kizuna", "flow-winback", "winback-step-1")


def test_post_purchase_previews_render_a_real_customers_orders_and_store_nothing(
    client: Any, db: Session, runtime: Any
) -> None:
    shop, customer = post_purchase_shop(db)
    add_history(db, shop, str(customer.external_id), 40, [TEA, BOWL])
    latest = add_history(db, shop, str(customer.external_id), 10, [TEA])
    latest.fulfilled_at = latest.processed_at
    nobody = Customer(shop_id=shop.id, external_id="7999", email="nobody@example.jp")
    db.add(nobody)
    db.commit()
    signed_in(client, runtime, db, shop)

    thanks = text_of(client.get("/app/flows/thank_you", headers=EN))
    assert f"(customer {customer.id}), order {latest.external_id}." in thanks
    assert thanks.count('data-step="') == 1
    assert "ご注文ありがとうございます" in thanks
    assert "宇治抹茶 30g" in thanks
    assert "/unsubscribe/" not in thanks

    review = text_of(client.get("/app/flows/review_request", headers=EN))
    assert f"order {latest.external_id}." in review
    assert "ご購入いただいた商品はいかがですか" in review

    refill = text_of(client.get("/app/flows/replenishment", headers=EN))
    assert f"(customer {customer.id}), product 宇治抹茶 30g." in refill
    assert "宇治抹茶 30gのお買い替え時期が近づいています" in refill

    empty = text_of(client.get(f"/app/flows/thank_you?customer_id={nobody.id}", headers=EN))
    assert "This customer has no paid order in this store." in empty
    empty = text_of(client.get(f"/app/flows/replenishment?customer_id={nobody.id}", headers=EN))
    assert "This customer has not bought any product twice in this store." in empty
    empty = text_of(client.get(f"/app/flows/winback?customer_id={nobody.id}&locale=ja"))
    assert "この顧客にはこのストアの注文がありません。" in empty

    assert db.scalars(select(Message)).all() == []
    assert db.scalars(select(FlowRun)).all() == []


def test_the_api_lists_every_flow(client: Any, db: Session, runtime: Any) -> None:
    shop = setup_shop(db)
    signed_in(client, runtime, db, shop)
    body = client.get("/api/v1/flows").get_json()
    assert [flow["key"] for flow in body["flows"]] == list(FLOW_KEYS)
    assert set(FLOW_KEYS) == {
        CART,
        "browse",
        "back_in_stock",
        "welcome",
        "birthday",
        WINBACK,
        THANK_YOU,
        REVIEW_REQUEST,
        REPLENISHMENT,
    }
    # The welcome series and the birthday flow wait for the merchant to turn them on.
    off = {"welcome", "birthday"}
    assert all(flow["enabled"] is (flow["key"] not in off) for flow in body["flows"])
    assert all("holdout" in flow["performance"] for flow in body["flows"])
