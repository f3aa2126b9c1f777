"""The campaign pages over the Flask test client: list, editor, review, report, in English and
Japanese; what the editor saves; its preview, count and customer-search endpoints; the test
send through the simulated SendGrid; scheduling; shop scoping and hostile input.

Real PostgreSQL and Redis (see conftest) and the simulated SendGrid over HTTP; merchants sign in
through a real login link (the owner) or the login form (a staff member).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admin.campaigns import engagement_series, hourly_engagement, lift_text, percent
from app.campaigns import service
from app.config import Config, load_config
from app.models import Account, Customer, Product, SavedSegment, Shop
from app.models.campaign import Campaign
from app.models.flow import Message, MessageEvent
from app.services import segments
from connectors.sandbox.sendgrid import SandboxSendGrid
from tests.conftest import make_test_env
from tests.factories import cart_flow
from tests.factories.accounts import make_member, sign_in
from tests.factories.admin import login, make_account, make_customer, make_shop, text_of
from tests.factories.shops import build_shop

sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration

JP_RULE = {"match": "all", "rules": [{"field": "country", "op": "is", "value": "JP"}]}
STAFF_EMAIL = "staff@tea-house.example"
STAFF_PASSWORD = "sencha-and-mochi-2026"


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Path, sendgrid: Any) -> Config:
    env = make_test_env(database_url, redis_url, SENDGRID_SANDBOX_URL=sendgrid.url)
    return load_config(env, instance_path=tmp_path / "instance")


class Store:
    """A signed-in owner's Tokyo shop: three subscribed customers in Japan (one has a name to
    greet), one without consent, a saved segment "Japan"; and another account's shop."""

    def __init__(self, db: Session, client: Any, runtime: Any) -> None:
        self.db, self.client = db, client
        self.account = make_account(db, "Tea House")
        self.shop = make_shop(db, self.account, "tea-house.myshopify.com", name="Tea House")
        self.hanako = make_customer(
            db,
            self.shop,
            first_name="Hanako",
            last_name="Tanaka",
            email="hanako@example.jp",
            email_marketing_state="SUBSCRIBED",
            country_code="JP",
        )
        for n in range(2):
            make_customer(
                db,
                self.shop,
                email_marketing_state="SUBSCRIBED",
                country_code="JP",
                first_name=f"Jp{n}",
            )
        make_customer(db, self.shop, email_marketing_state="NOT_SUBSCRIBED", country_code="JP")
        saved = segments.save_segment(db, self.shop.id, "Japan", JP_RULE)
        assert saved.ok
        assert saved.segment is not None
        self.segment_id = saved.segment.id
        other_account = make_account(db, "Rival")
        self.other = make_shop(db, other_account, "rival.myshopify.com", name="Rival")
        self.stranger = make_customer(
            db, self.other, first_name="Stranger", email="stranger@rival.example", country_code="JP"
        )
        self.sencha = Product(shop_id=self.shop.id, external_id="gid-sencha", title="Sencha 100g")
        self.their_tea = Product(shop_id=self.other.id, external_id="gid-theirs", title="Rival tea")
        db.add_all([self.sencha, self.their_tea])
        other_saved = segments.save_segment(db, self.other.id, "Theirs", JP_RULE)
        assert other_saved.segment is not None
        self.other_segment_id = other_saved.segment.id
        db.commit()
        login(client, runtime, self.account)

    def csrf(self, path: str = "/app/campaigns/new") -> str:
        page = text_of(self.client.get(path))
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, page[:500]
        return found.group(1)

    def campaigns(self, shop: Shop | None = None) -> list[Campaign]:
        self.db.expire_all()
        shop_id = (shop or self.shop).id
        return list(self.db.scalars(select(Campaign).where(Campaign.shop_id == shop_id)))


@pytest.fixture
def store(db: Session, client: Any, runtime: Any) -> Store:
    return Store(db, client, runtime)


def editor_form(store: Store, **overrides: Any) -> dict[str, Any]:
    """The editor's fields as a merchant fills them: both languages, a heading, text and button."""
    form: dict[str, Any] = {
        "csrf_token": store.csrf(),
        "name": "Winter tea",
        "segment": [str(store.segment_id)],
        "smart_sending": "1",
        "smart_sending_hours": "24",
        "holdout_percent": "10",
        "ja-subject": "冬の新茶",
        "ja-preheader": "今週だけ",
        "ja-0-type": "heading",
        "ja-0-text": "冬の新茶が届きました",
        "ja-1-type": "text",
        "ja-1-text": "温かいお茶で一息。",
        "ja-2-type": "button",
        "ja-2-label": "見てみる",
        "ja-2-url": "https://tea-house.example/winter",
        "en-subject": "Winter tea is here",
        "en-preheader": "This week only",
        "en-0-type": "heading",
        "en-0-text": "Winter sencha has arrived",
        "en-1-type": "divider",
        "en-2-type": "button",
        "en-2-label": "Take a look",
        "en-2-url": "https://tea-house.example/winter",
        "action": "save",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def saved_campaign(store: Store, **overrides: Any) -> Campaign:
    response = store.client.post("/app/campaigns/new", data=editor_form(store, **overrides))
    assert response.status_code == 302, text_of(response)[:2000]
    [campaign] = [c for c in store.campaigns() if c.name == overrides.get("name", "Winter tea")]
    return campaign


# --- pages in both languages --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ("Campaigns", "New campaign", "Review and send")),
        ("ja", ("キャンペーン", "新しいキャンペーン", "確認して送信")),
    ],
)
def test_every_campaign_page_answers_in_both_languages(
    store: Store, lang: str, words: tuple[str, str, str]
) -> None:
    client = store.client
    empty = client.get(f"/app/campaigns?locale={lang}")
    assert empty.status_code == 200
    assert words[0] in text_of(empty)
    assert words[1] in text_of(empty)
    assert 'data-testid="no-campaigns"' in text_of(empty)
    new = client.get(f"/app/campaigns/new?locale={lang}")
    assert new.status_code == 200
    assert words[2] in text_of(new)
    campaign = saved_campaign(store)
    for path in ("", "/review", "/report"):
        page = client.get(f"/app/campaigns/{campaign.id}{path}?locale={lang}")
        assert page.status_code == 200, path
        assert f'<html lang="{lang}">' in text_of(page)
    listed = text_of(client.get(f"/app/campaigns?locale={lang}"))
    assert "Winter tea" in listed
    assert "Japan" in listed
    # The editor shows what was saved, in its fields.
    editor = text_of(client.get(f"/app/campaigns/{campaign.id}"))
    assert 'value="冬の新茶が届きました"' in editor
    assert 'name="en-2-url"' in editor
    assert 'value="https://tea-house.example/winter"' in editor


def test_the_editor_stores_both_languages_and_the_settings(store: Store) -> None:
    campaign = saved_campaign(
        store,
        coupon="1",
        coupon_kind="percentage",
        coupon_value="10",
        coupon_expires_days="7",
        **{
            "ja-3-type": "coupon",
            "en-3-type": "products",
            "en-3-mode": "recommended",
            "en-3-count": "4",
        },
    )
    assert campaign.status == "draft"
    assert campaign.audience == {"segments": [store.segment_id], "rfm_groups": []}
    assert campaign.smart_sending_hours == 24
    assert campaign.holdout_percent == 10
    content = campaign.content
    assert content["coupon"] == {"kind": "percentage", "value": 10, "expires_days": 7}
    assert [b["type"] for b in content["ja"]["blocks"]] == ["heading", "text", "button", "coupon"]
    assert [b["type"] for b in content["en"]["blocks"]] == [
        "heading",
        "divider",
        "button",
        "products",
    ]
    assert content["en"]["blocks"][3] == {
        "type": "products",
        "mode": "recommended",
        "product_ids": [],
        "count": 4,
    }
    assert content["ja"]["subject"] == "冬の新茶"


def test_chosen_products_are_picked_by_name_and_stored_by_platform_id(store: Store) -> None:
    grid = {
        "en-3-type": "products",
        "en-3-mode": "chosen",
        "en-3-count": "2",
        "en-3-products": str(store.sencha.id),
    }
    campaign = saved_campaign(store, **grid)
    assert campaign.content["en"]["blocks"][3]["product_ids"] == ["gid-sencha"]
    editor = text_of(store.client.get(f"/app/campaigns/{campaign.id}"))
    ids_field = re.search(r'<input[^>]*name="en-3-products"[^>]*>', editor)
    assert ids_field
    assert f'value="{store.sencha.id}"' in ids_field.group(0)
    assert "Sencha 100g" in editor
    found = store.client.get("/app/segments/values?field=product_bought&q=sen").get_json()
    assert found["results"] == [{"value": str(store.sencha.id), "label": "Sencha 100g"}]
    theirs = dict(grid, **{"en-3-products": str(store.their_tea.id)})
    refused = store.client.post("/app/campaigns/new", data=editor_form(store, name="x", **theirs))
    assert refused.status_code == 400
    assert "Choose products of this store." in text_of(refused)
    assert [c.name for c in store.campaigns()] == ["Winter tea"]


def test_blocks_move_and_go_without_javascript(store: Store) -> None:
    """The editor's buttons post the form: the page comes back changed, nothing is stored."""
    client = store.client
    added = client.post("/app/campaigns/new", data=editor_form(store, action="add:ja:image"))
    assert added.status_code == 200
    assert 'name="ja-3-url"' in text_of(added)
    moved = client.post("/app/campaigns/new", data=editor_form(store, action="up:en:2"))
    page = text_of(moved)
    assert page.index('name="en-1-label"') < page.index(
        'name="en-2-type" data-name="type" value="divider"'
    )
    removed = client.post("/app/campaigns/new", data=editor_form(store, action="remove:ja:0"))
    assert "冬の新茶が届きました" not in text_of(removed)
    assert store.campaigns() == []


# --- validation: 4xx with a reason, nothing stored ----------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"ja-2-url": "javascript:alert(1)"}, "http(s) address"),
        ({"en-2-label": ""}, "button"),
        ({"name": "   "}, "name"),
        ({"holdout_percent": "80"}, "holdout"),
        ({"smart_sending_hours": "0"}, "Smart sending"),
        ({"segment": ["not-a-number"]}, "segments"),
        ({"rfm_group": ["emperors"]}, "RFM"),
        ({"coupon": "1", "coupon_kind": "percentage", "coupon_value": "150"}, "coupon"),
        ({"ja-0-type": "script"}, "block"),
        ({"ja-999-type": "heading"}, "too many blocks"),
    ],
)
def test_invalid_input_is_refused_with_its_reason(
    store: Store, overrides: dict[str, Any], reason: str
) -> None:
    response = store.client.post("/app/campaigns/new", data=editor_form(store, **overrides))
    assert response.status_code == 400
    page = text_of(response)
    assert 'data-field="errors"' in page
    assert reason.lower() in page.lower()
    assert store.campaigns() == []


def test_another_shops_segment_cannot_be_the_audience(store: Store) -> None:
    response = store.client.post(
        "/app/campaigns/new", data=editor_form(store, segment=[str(store.other_segment_id)])
    )
    assert response.status_code == 400
    assert "does not exist" in text_of(response)
    assert store.campaigns() == []


# --- shop scoping ---------------------------------------------------------------------------------


def test_another_shops_campaign_is_not_found_anywhere(store: Store, db: Session) -> None:
    theirs = service.create(db, store.other, name="Their secret sale", audience=None, content=None)
    token = store.csrf()
    client = store.client
    for path in ("", "/review", "/report"):
        assert client.get(f"/app/campaigns/{theirs.id}{path}").status_code == 404, path
    for action in ("", "/schedule", "/pause", "/resume", "/cancel", "/unschedule"):
        response = client.post(
            f"/app/campaigns/{theirs.id}{action}",
            data={"csrf_token": token, "when": "now", "name": "stolen", "action": "save"},
        )
        assert response.status_code == 404, action
    assert "Their secret sale" not in text_of(client.get("/app/campaigns"))
    db.expire_all()
    assert db.get_one(Campaign, theirs.id).status == "draft"
    assert db.get_one(Campaign, theirs.id).name == "Their secret sale"


def test_customer_search_and_preview_stay_inside_the_shop(store: Store) -> None:
    client = store.client
    found = client.get("/app/campaigns/customers?q=Hanako").get_json()
    assert [r["value"] for r in found["results"]] == [str(store.hanako.id)]
    assert client.get("/app/campaigns/customers?q=Stranger").get_json()["results"] == []
    form = editor_form(store, preview_lang="en", preview_customer=str(store.stranger.id))
    del form["action"]
    response = client.post("/app/campaigns/preview", data=form)
    assert response.status_code == 404
    assert "Stranger" not in text_of(response)


# --- the editor's live endpoints ----------------------------------------------------------------


def test_preview_renders_the_draft_for_the_chosen_customer(store: Store) -> None:
    form = editor_form(store, preview_lang="ja", preview_customer=str(store.hanako.id))
    del form["action"]
    body = store.client.post(
        "/app/campaigns/preview", data=form, headers={"X-CSRF-Token": form["csrf_token"]}
    ).get_json()
    assert body["subject"] == "冬の新茶"
    assert "冬の新茶が届きました" in body["html"]
    assert "Tanaka" in body["html"]  # the greeting names her
    assert "/unsubscribe" not in body["html"]  # neutralised in the preview
    unpicked = dict(form, preview_customer="")  # the test send's sample customer by default
    assert store.client.post("/app/campaigns/preview", data=unpicked).get_json()["subject"]
    half_typed = dict(form, **{"ja-2-url": "htt"})
    answer = store.client.post("/app/campaigns/preview", data=half_typed)
    assert answer.status_code == 200  # a draft mid-edit is an answer, not a failed request
    assert "http(s)" in answer.get_json()["problem"]
    for bad in ({"preview_lang": "xx"}, {"preview_customer": "1 OR 1=1"}):
        assert (
            store.client.post("/app/campaigns/preview", data=dict(form, **bad)).status_code == 400
        )


def test_audience_count_follows_consent_and_holdout(store: Store) -> None:
    form = editor_form(store, holdout_percent="0")
    del form["action"]
    body = store.client.post("/app/campaigns/audience", data=form).get_json()
    counts = {row["key"]: row["count"] for row in body["rows"]}
    assert counts["total"] == 4
    assert counts["no_consent"] == 1
    assert body["will_receive"] == 3
    nobody = dict(form)
    del nobody["segment"]
    assert store.client.post("/app/campaigns/audience", data=nobody).get_json()["will_receive"] == 0
    theirs = dict(form, segment=[str(store.other_segment_id)])
    assert store.client.post("/app/campaigns/audience", data=theirs).status_code == 400


# --- test send, schedule, controls ----------------------------------------------------------------


def test_a_test_send_reaches_the_merchants_address(store: Store, sendgrid: SandboxSendGrid) -> None:
    response = store.client.post(
        "/app/campaigns/new",
        data=editor_form(store, action="test", test_email="me@tea-house.example", test_lang="en"),
    )
    assert response.status_code == 302
    assert "tested=sent" in response.headers["Location"]
    [email] = [m for m in sendgrid.outbox if m.to_email == "me@tea-house.example"]
    assert email.subject == "[Test] Winter tea is here"
    assert "Winter sencha has arrived" in (email.html or "")
    assert len(store.campaigns()) == 1  # the draft was saved first
    bad = store.client.post(
        "/app/campaigns/new", data=editor_form(store, action="test", test_email="not an address")
    )
    assert bad.status_code == 400


def test_scheduling_in_the_shops_time_zone(store: Store) -> None:
    campaign = saved_campaign(store)
    client = store.client
    token = store.csrf(f"/app/campaigns/{campaign.id}/review")
    tokyo = (datetime.now(UTC) + timedelta(days=2)).astimezone(ZoneInfo("Asia/Tokyo"))
    send_at = tokyo.strftime("%Y-%m-%dT%H:%M")
    past = client.post(
        f"/app/campaigns/{campaign.id}/schedule",
        data={"csrf_token": token, "when": "later", "send_at": "2001-01-01T09:00"},
    )
    assert past.status_code == 400
    garbage = client.post(
        f"/app/campaigns/{campaign.id}/schedule",
        data={"csrf_token": token, "when": "later", "send_at": "tomorrow-ish"},
    )
    assert garbage.status_code == 400
    assert store.campaigns()[0].status == "draft"
    done = client.post(
        f"/app/campaigns/{campaign.id}/schedule",
        data={"csrf_token": token, "when": "later", "send_at": send_at},
    )
    assert done.status_code == 302
    [scheduled] = store.campaigns()
    assert scheduled.status == "scheduled"
    assert scheduled.scheduled_at is not None
    expected = tokyo.replace(second=0, microsecond=0).astimezone(UTC)
    assert scheduled.scheduled_at == expected
    report = text_of(client.get(f"/app/campaigns/{campaign.id}/report"))
    assert tokyo.strftime("%H:%M") in report
    unscheduled = client.post(
        f"/app/campaigns/{campaign.id}/unschedule", data={"csrf_token": token}
    )
    assert unscheduled.status_code == 302
    assert store.campaigns()[0].status == "draft"


def test_staff_may_write_and_send_campaigns(
    db: Session, app: Flask, runtime: Any, store: Store, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    """Team members run campaigns as they run flows: edit, schedule now, pause is refused once
    the send is over."""
    account = db.get_one(Account, store.account.id)
    account.email = "owner@tea-house.example"
    db.commit()
    make_member(db, account, STAFF_EMAIL, STAFF_PASSWORD)
    staff = app.test_client()
    assert sign_in(staff, STAFF_EMAIL, STAFF_PASSWORD).status_code == 302
    page = text_of(staff.get("/app/campaigns/new"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    form = editor_form(store, csrf_token=token.group(1), holdout_percent="0", smart_sending=None)
    created = staff.post("/app/campaigns/new", data=form)
    assert created.status_code == 302, text_of(created)[:1000]
    [campaign] = store.campaigns()
    sent = staff.post(
        f"/app/campaigns/{campaign.id}/schedule", data={"csrf_token": token.group(1), "when": "now"}
    )
    assert sent.status_code == 302
    drain_jobs()
    subscribed = set(
        db.scalars(
            select(Customer.email).where(
                Customer.shop_id == store.shop.id, Customer.email_marketing_state == "SUBSCRIBED"
            )
        )
    )
    assert {m.to_email for m in sendgrid.outbox} == subscribed
    assert store.campaigns()[0].status == "sent"
    report = text_of(staff.get(f"/app/campaigns/{campaign.id}/report"))
    assert re.search(r'data-field="sent">3<', report), report
    late = staff.post(f"/app/campaigns/{campaign.id}/pause", data={"csrf_token": token.group(1)})
    assert late.status_code == 409
    assert "Only a campaign that is sending can be paused." in text_of(late)


def test_a_sending_campaign_pauses_resumes_and_cancels(store: Store) -> None:
    campaign = saved_campaign(store)
    client = store.client
    token = store.csrf(f"/app/campaigns/{campaign.id}/review")
    started = client.post(
        f"/app/campaigns/{campaign.id}/schedule", data={"csrf_token": token, "when": "now"}
    )
    assert started.status_code == 302
    assert store.campaigns()[0].status == "sending"  # its send job waits in the queue
    # Once sending, the campaign's page is its report, which holds the controls; its content
    # can no longer change, nor can it be scheduled again.
    report = text_of(client.get(f"/app/campaigns/{campaign.id}"))
    assert 'data-testid="campaign-report"' in report
    assert text_of(client.get(f"/app/campaigns/{campaign.id}/report")).count("data-testid") == (
        report.count("data-testid")
    )
    assert 'data-testid="pause"' in report
    edit = client.post(f"/app/campaigns/{campaign.id}", data=editor_form(store, name="Changed"))
    assert edit.status_code == 409
    assert "cannot be edited" in text_of(edit)
    review = text_of(client.get(f"/app/campaigns/{campaign.id}/review"))
    assert re.search(r'data-testid="confirm-schedule" disabled', review)
    again = client.post(
        f"/app/campaigns/{campaign.id}/schedule", data={"csrf_token": token, "when": "now"}
    )
    assert again.status_code == 400
    assert store.campaigns()[0].name == "Winter tea"
    assert 'data-testid="resume"' not in report
    for action, status, control in (
        ("pause", "paused", 'data-testid="resume"'),
        ("resume", "sending", 'data-testid="pause"'),
        ("cancel", "cancelled", None),
    ):
        answer = client.post(f"/app/campaigns/{campaign.id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 302, action
        assert store.campaigns()[0].status == status
        page = text_of(client.get(answer.headers["Location"]))
        if control:
            assert control in page
        else:
            assert 'data-testid="campaign-controls"' not in page
    resumed = client.post(f"/app/campaigns/{campaign.id}/resume", data={"csrf_token": token})
    assert resumed.status_code == 409
    assert store.campaigns()[0].status == "cancelled"


def test_lift_reads_as_points_with_its_interval(app: Flask) -> None:
    @dataclass
    class Shown:
        lift: float | None
        lift_low: float | None
        lift_high: float | None

    assert lift_text(Shown(None, None, None)) == ""
    with app.test_request_context("/?locale=en"):
        assert lift_text(Shown(0.0123, -0.004, 0.029)) == "+1.2 points (95% interval -0.4 to +2.9)"
        assert lift_text(Shown(-0.02, None, None)) == "-2.0 points"
    assert percent(1, 3) == "33.3%"
    assert percent(1, 0) == "—"


def test_opens_and_clicks_chart_by_hour_then_by_local_day() -> None:
    start = datetime(2026, 12, 7, 14, tzinfo=UTC)  # 23:00 in Tokyo
    hourly = {start: (3, 1), start + timedelta(hours=2): (1, 0)}
    bars = engagement_series(hourly, "Asia/Tokyo")
    assert [(b.label, b.opens, b.clicks) for b in bars] == [
        ("12/07 23:00", 3, 1),
        ("12/08 00:00", 0, 0),
        ("12/08 01:00", 1, 0),
    ]
    later = {**hourly, start + timedelta(days=4): (2, 2)}  # over three days: by day
    days = engagement_series(later, "Asia/Tokyo")
    assert [(b.label, b.opens, b.clicks) for b in days] == [
        ("12/07", 3, 1),
        ("12/08", 1, 0),
        ("12/09", 0, 0),
        ("12/10", 0, 0),
        ("12/11", 2, 2),
    ]
    assert engagement_series({}, "Asia/Tokyo") == []
    # Until it is twelve hours old, the chart shows the hours since its first open.
    fresh = engagement_series({start: (1, 0)}, "Asia/Tokyo", now=start + timedelta(hours=3))
    assert [(b.label, b.opens) for b in fresh] == [
        ("12/07 23:00", 1),
        ("12/08 00:00", 0),
        ("12/08 01:00", 0),
        ("12/08 02:00", 0),
    ]
    assert (
        len(engagement_series({start: (1, 0)}, "Asia/Tokyo", now=start + timedelta(days=1))) == 12
    )


def test_opens_and_clicks_are_counted_by_hour_on_both_databases(db_or_sqlite: Session) -> None:
    db = db_or_sqlite
    shop = build_shop(db, "hours.myshopify.com", timezone="Asia/Tokyo", currency="JPY")
    campaign = service.create(db, shop, name="Hours", audience=None, content=None)
    sent_at = datetime(2026, 12, 7, 14, 5, tzinfo=UTC)
    for n, events in enumerate(((("open", 10), ("click", 12), ("open", 70)), (("open", 15),))):
        customer = make_customer(db, shop)
        message = Message(
            shop_id=shop.id, campaign_id=campaign.id, step=0, customer_id=customer.id, status="sent"
        )
        db.add(message)
        db.flush()
        for i, (event, minutes) in enumerate(events):
            db.add(
                MessageEvent(
                    shop_id=shop.id,
                    message_id=message.id,
                    event=event,
                    occurred_at=sent_at + timedelta(minutes=minutes),
                    natural_key=f"{n}-{i}",
                )
            )
    db.commit()
    hour = datetime(2026, 12, 7, 14, tzinfo=UTC)
    assert hourly_engagement(db, shop, campaign) == {
        hour: (2, 1),  # two emails opened, one clicked between 14:00 and 15:00
        hour + timedelta(hours=1): (1, 0),  # one opened again the next hour
    }


def test_a_segment_that_cannot_be_evaluated_is_named_not_a_server_error(
    store: Store, db: Session
) -> None:
    broken = SavedSegment(
        shop_id=store.shop.id,
        name="Saved under older rules",
        rule={"match": "all", "rules": [{"field": "retired_field", "op": "is", "value": "x"}]},
    )
    db.add(broken)
    db.commit()
    campaign = service.create(
        db,
        store.shop,
        name="Old audience",
        audience={"segments": [broken.id], "rfm_groups": []},
        content=None,
    )
    editor = store.client.get(f"/app/campaigns/{campaign.id}")
    assert editor.status_code == 200
    assert "be evaluated" in text_of(editor)
    assert 'data-field="errors"' not in text_of(editor)  # nothing was posted: no form error
    review = store.client.get(f"/app/campaigns/{campaign.id}/review")
    assert review.status_code == 200
    assert "be evaluated" in text_of(review)
    form = editor_form(store, segment=[str(broken.id)])
    del form["action"]
    counted = store.client.post("/app/campaigns/audience", data=form)
    assert counted.status_code == 200
    assert "can't be evaluated" in counted.get_json()["problem"]
