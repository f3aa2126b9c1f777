"""A campaign's send on PostgreSQL, Redis and the simulated SendGrid over HTTP: one Mail Send
request per language with each recipient's own greeting (Japanese names family name first),
unsubscribe link and no leftover tags, bodies valid against SendGrid's OpenAPI; exactly once
across a worker killed mid-send and run again; lanes claiming past each other's batches and
coming back for those let go; pause then resume, and cancel, between
batches; SendGrid down or refusing → failed recipients on the campaign and the shop, worded in
the merchant's language on the campaign's page, in the API and on each email; a held send
(sender details, a disconnected store) said so and released; a scheduled campaign started by
the scheduler's tick at the shop's local time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns import sending, service
from app.campaigns.report import campaign_report
from app.db import utcnow
from app.models.campaign import Campaign, CampaignRecipient
from app.models.flow import Message
from app.queueing import EMAIL
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sendgrid.mail import build_batch
from jobs.campaigns import start_due_campaigns
from tests.conftest import make_test_env
from tests.factories import cart_flow
from tests.factories.admin import pages_in_both_languages
from tests.factories.campaigns import Person, add_people, campaign_shop, draft, vip_segment
from tests.factories.sendgrid_mail import assert_valid

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _campaign(db: Session, people: list[Person], **options: Any) -> tuple[Any, Campaign]:
    shop = campaign_shop(db)
    add_people(db, shop, people)
    segment = vip_segment(db, shop)
    return shop, draft(db, shop, {"segments": [segment.id], "rfm_groups": []}, **options)


def _start(db: Session, app: Any, shop: Any, campaign: Campaign) -> None:
    with app.app_context():
        service.schedule(db, shop, campaign.id, None)


def _recipients(db: Session, campaign: Campaign) -> Counter[str]:
    db.expire_all()
    return Counter(
        r.status
        for r in db.scalars(
            select(CampaignRecipient).where(CampaignRecipient.campaign_id == campaign.id)
        )
    )


def test_each_recipient_gets_their_own_greeting_and_link_in_one_request_per_language(
    db: Session, runtime: Any, app: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, campaign = _campaign(
        db,
        [
            Person(first="陽葵", last="森", locale="ja"),
            Person(first="Hanako", last="Yamada", locale="en"),
            Person(first="Tom <b>&", last="Jerry", locale="en"),
            Person(first=None, last=None, locale="ja"),
        ],
    )
    with app.app_context():
        sending.start(db, shop, campaign, utcnow())
        db.commit()
        assert sending.take_snapshot(runtime, campaign.id) == 4
        assert sending.take_snapshot(runtime, campaign.id) is None  # once per campaign
        with runtime.db.session() as session:
            batch = sending.prepare_batch(runtime, session, campaign.id, utcnow(), {})
            bodies = build_batch(batch.emails)
            session.rollback()  # only the bodies are wanted here
    assert len(bodies) == 2  # the Japanese and the English content
    for body in bodies:
        assert_valid(body)  # SendGrid's own OpenAPI
        shared = " ".join(part["value"] for part in body["content"])
        assert "@example.jp" not in shared
        assert "陽葵" not in shared
        assert "Hanako" not in shared

    with app.app_context():
        sending.send_campaign(runtime, campaign.id)
    assert len(sendgrid.requests_to("/v3/mail/send")) == 2
    by_address = {m.to_email: m for m in sendgrid.outbox}
    mori, hanako, tom, nameless = (by_address[f"c{5000 + n}@example.jp"] for n in range(4))
    assert mori.subject == "冬のセールのお知らせ"
    assert hanako.subject == "Winter sale"
    assert "森 陽葵 様" in (mori.html or "")
    assert "森 陽葵 様" in (mori.text or "")
    assert "Hi Hanako," in (hanako.html or "")
    assert "今週末だけ" in (mori.html or "")
    assert "Tom &lt;b&gt;&amp;" in (tom.html or "")
    assert "<b>&" not in (tom.html or "")
    assert "様" not in (nameless.html or "").split("冬のセール")[0].split("<body")[-1]
    links = {m.headers["List-Unsubscribe"] for m in sendgrid.outbox}
    assert len(links) == 4  # one signed link per recipient
    for message in sendgrid.outbox:
        text = (message.html or "") + (message.text or "")
        assert "-campaign_" not in text
        assert "-unsub-" not in text
        assert "-greeting" not in text
        assert "1-2-3 Jingumae" in text  # the sender's legal footer
        assert message.categories == ("kizuna", "campaign", f"campaign-{campaign.id}")
    db.expire_all()
    assert db.get_one(Campaign, campaign.id).status == "sent"
    assert {m.status for m in db.scalars(select(Message))} == {"sent"}


def test_a_worker_killed_mid_send_and_run_again_emails_nobody_twice(
    db: Session,
    runtime: Any,
    app: Any,
    sendgrid: SandboxSendGrid,
    database_url: str,
    redis_url: str,
) -> None:
    shop, campaign = _campaign(db, [Person() for _ in range(30)])
    _start(db, app, shop, campaign)
    # The first request is accepted, then its answer held for 20 s: the worker dies meanwhile.
    sendgrid.delay_next(20.0)
    env = {
        **os.environ,
        **make_test_env(
            database_url,
            redis_url,
            APP_URL="https://kizuna.test",
            SENDGRID_SANDBOX_URL=str(sendgrid.url),  # type: ignore[attr-defined]
        ),
    }
    code = f"from jobs.campaigns import send_campaign; send_campaign({campaign.id}, 10)"
    worker = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90  # a bound, not a timing: a loaded machine starts slowly
        while not sendgrid.outbox and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
        assert len(sendgrid.outbox) == 10, worker.stderr.read() if worker.stderr else ""
        assert worker.poll() is None  # still waiting for SendGrid's answer
        worker.kill()  # SIGKILL: nothing recorded after the batch's commit
        assert worker.wait(10) == -9
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    assert _recipients(db, campaign) == {"emailed": 10, "queued": 20}

    with app.app_context():
        again = sending.send_campaign(runtime, campaign.id, batch_size=10)
        sending.send_campaign(runtime, campaign.id)  # and once more: nothing left
    assert again["sent:sent"] == 20
    addresses = Counter(m.to_email for m in sendgrid.outbox)
    assert len(addresses) == 30
    assert set(addresses.values()) == {1}
    db.expire_all()
    statuses = Counter(m.status for m in db.scalars(select(Message)))
    assert statuses == {"sent": 20, "sending": 10}  # the lost answers are never resent
    assert db.get_one(Campaign, campaign.id).status == "sent"


def test_a_lane_claims_after_its_last_batch_then_comes_back_for_those_another_let_go(
    db: Session, runtime: Any, app: Any
) -> None:
    shop, campaign = _campaign(db, [Person() for _ in range(25)])
    with app.app_context():
        sending.start(db, shop, campaign, utcnow())
        db.commit()
        sending.take_snapshot(runtime, campaign.id)
        ids = sorted(
            db.scalars(
                select(CampaignRecipient.customer_id).where(
                    CampaignRecipient.campaign_id == campaign.id
                )
            )
        )
        claims: list[tuple[int, int, str | None]] = []
        with runtime.db.session() as other_lane:
            held = sending.prepare_batch(runtime, other_lane, campaign.id, utcnow(), {}, 10)
            assert (held.claimed, held.last_customer_id) == (10, ids[9])
            after = 0
            for _ in range(2):
                with runtime.db.session() as lane:
                    batch = sending.prepare_batch(
                        runtime, lane, campaign.id, utcnow(), {}, 10, after
                    )
                    lane.commit()
                claims.append((batch.claimed, batch.last_customer_id, batch.stop))
                after = batch.last_customer_id
            other_lane.rollback()  # it lets its ten go unsent
        for _ in range(2):
            with runtime.db.session() as lane:
                batch = sending.prepare_batch(runtime, lane, campaign.id, utcnow(), {}, 10, after)
                lane.commit()
            claims.append((batch.claimed, batch.last_customer_id, batch.stop))
            after = batch.last_customer_id
    assert claims == [
        (10, ids[19], None),  # past the ten the other lane holds
        (5, ids[24], None),  # after its own previous batch
        (10, ids[9], None),  # nothing after it: back from the start for the ten let go
        (0, 0, "done"),
    ]
    assert _recipients(db, campaign) == {"emailed": 25}


def test_pause_then_resume_sends_everyone_once(
    db: Session, runtime: Any, app: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, campaign = _campaign(db, [Person() for _ in range(25)])
    _start(db, app, shop, campaign)
    with app.app_context():
        first = sending.send_campaign(runtime, campaign.id, batch_size=10, max_batches=1)
        service.pause(db, shop, campaign.id)
        stopped = sending.send_campaign(runtime, campaign.id, batch_size=10)
    assert first["sent:sent"] == 10
    assert stopped == {"stop:paused": 1}
    assert len(sendgrid.outbox) == 10
    assert _recipients(db, campaign) == {"emailed": 10, "queued": 15}

    with app.app_context():
        service.resume(db, shop, campaign.id)
    drain_jobs(EMAIL)  # the send job the resume enqueued
    addresses = Counter(m.to_email for m in sendgrid.outbox)
    assert len(addresses) == 25
    assert set(addresses.values()) == {1}
    assert _recipients(db, campaign) == {"emailed": 25}
    assert db.get_one(Campaign, campaign.id).status == "sent"


def test_cancel_stops_the_send_and_nobody_else_is_emailed(
    db: Session, runtime: Any, app: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, campaign = _campaign(db, [Person() for _ in range(25)])
    _start(db, app, shop, campaign)
    with app.app_context():
        sending.send_campaign(runtime, campaign.id, batch_size=10, max_batches=1)
        service.cancel(db, shop, campaign.id)
        assert sending.send_campaign(runtime, campaign.id) == {"stop:cancelled": 1}
        start_due_campaigns()  # the tick re-enqueues only campaigns still sending
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 10
    assert _recipients(db, campaign) == {"emailed": 10, "cancelled": 15}
    with app.app_context():
        with pytest.raises(service.CampaignError):
            service.resume(db, shop, campaign.id)
        report = campaign_report(db, shop, campaign.id)
    assert report is not None
    assert (report.status, report.sent, report.cancelled) == ("cancelled", 10, 15)


@pytest.mark.parametrize(
    ("status", "attempts", "english", "japanese", "stored", "message_en", "message_ja"),
    [
        (
            503,
            3,  # every attempt the client makes (with backoff)
            "SendGrid did not answer, even after several retries.",
            "何度か再試行しましたが、SendGrid から応答がありませんでした。",
            "sendgrid_unavailable",
            "SendGrid did not answer, even after several retries",
            "何度か再試行しましたが、SendGrid から応答がありませんでした",
        ),
        (
            400,
            1,  # a refusal is never retried
            "SendGrid refused it with HTTP status 400.",
            "SendGrid が HTTP ステータス 400 で拒否しました。",
            "sendgrid_refused: status=400",
            "SendGrid refused it with HTTP status 400",
            "SendGrid が HTTP ステータス 400 で拒否しました",
        ),
    ],
    ids=["down", "refused"],
)
def test_sendgrid_failing_fails_the_batch_on_the_campaign_and_the_shop_never_silently(
    db: Session,
    runtime: Any,
    app: Any,
    client: Any,
    sendgrid: SandboxSendGrid,
    status: int,
    attempts: int,
    english: str,
    japanese: str,
    stored: str,
    message_en: str,
    message_ja: str,
) -> None:
    shop, campaign = _campaign(db, [Person() for _ in range(5)])
    _start(db, app, shop, campaign)
    sendgrid.fail_next(status, count=attempts)
    with app.app_context():
        outcome = sending.send_campaign(runtime, campaign.id)
    assert outcome["sent:failed"] == 5
    assert len(sendgrid.requests_to("/v3/mail/send")) == attempts
    assert sendgrid.outbox == []
    db.expire_all()
    messages = list(db.scalars(select(Message)))
    assert {(m.status, m.last_error) for m in messages} == {("failed", stored)}
    failed = db.get_one(Campaign, campaign.id)
    assert (failed.last_error, failed.last_error_code) == (
        f"5 emails were not sent: {english}",
        sending.EMAILS_FAILED,
    )
    db.refresh(shop)
    assert shop.last_error_code == "shop_error.campaign_emails_failed"
    pages = pages_in_both_languages(client, runtime, db, shop.id)
    assert f"Campaign “{campaign.name}”: 5 emails were not sent: {english}" in pages["en"]
    assert (
        f"キャンペーン「{campaign.name}」: 5 通のメールを送信できませんでした: {japanese}"
        in pages["ja"]
    )
    # As the merchant reads it on the campaign's page, in the API and on each email.
    report_pages = pages_in_both_languages(
        client, runtime, db, shop.id, f"/app/campaigns/{campaign.id}/report"
    )
    outbox = pages_in_both_languages(client, runtime, db, shop.id, f"/app/outbox/{messages[0].id}")
    for language, reason, on_message in (
        ("en", english, message_en),
        ("ja", japanese, message_ja),
    ):
        words = (
            f"5 emails were not sent: {reason}"
            if language == "en"
            else f"5 通のメールを送信できませんでした: {reason}"
        )
        assert words in report_pages[language], language
        api = client.get(
            f"/api/v1/campaigns/{campaign.id}", headers={"Accept-Language": language}
        ).get_json()
        assert (api["last_error"], api["last_error_code"]) == (words, sending.EMAILS_FAILED)
        assert on_message in outbox[language], language
    assert "were not sent" not in report_pages["ja"]
    with app.app_context():
        report = campaign_report(db, shop, campaign.id)
    assert report is not None
    assert (report.failed, report.sent) == (5, 0)


@pytest.mark.parametrize(
    ("people", "english", "japanese"),
    [
        (1, "1 email was not sent", "1 通のメールを送信できませんでした"),
        (3, "3 emails were not sent", "3 通のメールを送信できませんでした"),
    ],
    ids=["one", "three"],
)
def test_failed_emails_are_counted_in_the_words_of_each_language(
    db: Session,
    runtime: Any,
    app: Any,
    client: Any,
    sendgrid: SandboxSendGrid,
    people: int,
    english: str,
    japanese: str,
) -> None:
    shop, campaign = _campaign(db, [Person() for _ in range(people)])
    _start(db, app, shop, campaign)
    sendgrid.fail_next(400)
    with app.app_context():
        assert sending.send_campaign(runtime, campaign.id)["sent:failed"] == people
    words = {
        "en": f"{english}: SendGrid refused it with HTTP status 400.",
        "ja": f"{japanese}: SendGrid が HTTP ステータス 400 で拒否しました。",
    }
    db.expire_all()
    assert db.get_one(Campaign, campaign.id).last_error == words["en"]
    report = pages_in_both_languages(
        client, runtime, db, shop.id, f"/app/campaigns/{campaign.id}/report"
    )
    status = pages_in_both_languages(client, runtime, db, shop.id)
    for language in ("en", "ja"):
        assert words[language] in report[language], language
        api = client.get(
            f"/api/v1/campaigns/{campaign.id}", headers={"Accept-Language": language}
        ).get_json()
        assert api["last_error"] == words[language]
    assert f"Campaign “{campaign.name}”: {words['en']}" in status["en"]
    assert f"キャンペーン「{campaign.name}」: {words['ja']}" in status["ja"]
    assert "1 emails" not in report["en"] + status["en"]


def test_an_email_sendgrid_would_refuse_is_failed_with_its_reason_not_its_address(
    db: Session,
    runtime: Any,
    app: Any,
    client: Any,
    sendgrid: SandboxSendGrid,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop, campaign = _campaign(db, [Person(), Person(email="not-an-email")])
    _start(db, app, shop, campaign)
    with app.app_context():
        sending.send_campaign(runtime, campaign.id)
    assert len(sendgrid.outbox) == 1
    db.expire_all()
    [refused] = db.scalars(select(Message).where(Message.status == "failed"))
    assert refused.last_error == "invalid_email"
    assert "to_email is not an email address" in caplog.text  # the field, for support
    assert "not-an-email" not in caplog.text
    outbox = pages_in_both_languages(client, runtime, db, shop.id, f"/app/outbox/{refused.id}")
    assert (
        "SendGrid would refuse it: an address or header of the email is not valid" in (outbox["en"])
    )
    assert "アドレスまたはヘッダーが正しくないため、SendGrid に受け付けられません" in outbox["ja"]


def test_an_older_campaign_failure_is_shown_as_stored(
    db: Session, runtime: Any, client: Any
) -> None:
    shop, campaign = _campaign(db, [Person()])
    campaign.status = "sent"
    campaign.last_error = "5 email(s) failed: SendGrid HTTP 400: no detail"  # no key: older row
    db.commit()
    pages = pages_in_both_languages(
        client, runtime, db, shop.id, f"/app/campaigns/{campaign.id}/report"
    )
    for language in ("en", "ja"):
        assert "5 email(s) failed: SendGrid HTTP 400: no detail" in pages[language]
        api = client.get(
            f"/api/v1/campaigns/{campaign.id}", headers={"Accept-Language": language}
        ).get_json()
        assert (api["last_error"], api["last_error_code"]) == (campaign.last_error, None)


def test_a_scheduled_campaign_starts_at_the_shops_local_time_from_the_schedulers_tick(
    db: Session, runtime: Any, app: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, campaign = _campaign(db, [Person() for _ in range(3)])
    local = datetime(2030, 1, 15, 9, 0)  # noqa: DTZ001 - 09:00 on the shop's wall clock (Tokyo)
    with app.app_context():
        service.schedule(db, shop, campaign.id, local)
    db.expire_all()
    scheduled = db.get_one(Campaign, campaign.id)
    assert scheduled.status == "scheduled"
    assert scheduled.scheduled_at is not None
    assert scheduled.scheduled_at.isoformat() == "2030-01-15T00:00:00+00:00"
    with app.app_context():
        assert sending.start_due(runtime, now=scheduled.scheduled_at - timedelta(seconds=1)) == {
            "started": 0,
            "sending": 0,
        }
        assert sending.start_due(runtime, now=scheduled.scheduled_at)["started"] == 1
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 3
    db.expire_all()
    assert db.get_one(Campaign, campaign.id).status == "sent"


def test_without_the_senders_details_the_campaign_waits_and_then_goes(
    db: Session, runtime: Any, app: Any, client: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, campaign = _campaign(db, [Person() for _ in range(3)])
    shop.sender_identity = None
    db.commit()
    _start(db, app, shop, campaign)
    drain_jobs(EMAIL)
    assert sendgrid.outbox == []
    db.expire_all()
    held = db.get_one(Campaign, campaign.id)
    assert (held.status, held.last_error_code) == ("sending", "campaign_error.waiting_for_sender")
    assert _recipients(db, campaign) == {"queued": 3}
    _assert_hold_worded(
        client,
        runtime,
        db,
        shop.id,
        campaign.id,
        "campaign_error.waiting_for_sender",
        en="Waiting for your sender details: the campaign goes out once they are set.",
        ja="送信者情報の設定待ちです。設定されるとキャンペーンが送信されます。",
    )
    from tests.factories.shops import set_sender_identity

    set_sender_identity(db, shop.id)
    with app.app_context():
        start_due_campaigns()
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 3
    db.expire_all()
    gone = db.get_one(Campaign, campaign.id)
    assert (gone.status, gone.last_error, gone.last_error_code) == ("sent", None, None)


def _assert_hold_worded(
    client: Any,
    runtime: Any,
    db: Session,
    shop_id: int,
    campaign_id: int,
    code: str,
    *,
    en: str,
    ja: str,
) -> None:
    """The campaign's hold reads `en` / `ja` on its report page and in `/api/v1/campaigns`,
    beside its stable code."""
    pages = pages_in_both_languages(
        client, runtime, db, shop_id, f"/app/campaigns/{campaign_id}/report"
    )
    for language, words in (("en", en), ("ja", ja)):
        assert words in pages[language], language
        api = client.get(
            f"/api/v1/campaigns/{campaign_id}", headers={"Accept-Language": language}
        ).get_json()
        assert (api["last_error"], api["last_error_code"]) == (words, code)


def test_a_disconnected_store_holds_the_campaign_until_it_is_back(
    db: Session, runtime: Any, app: Any, client: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, campaign = _campaign(db, [Person() for _ in range(3)])
    _start(db, app, shop, campaign)
    shop.status = "error"  # e.g. Shopify refused the token: reconnect
    db.commit()
    with app.app_context():
        assert sending.send_campaign(runtime, campaign.id) == {
            "snapshot": 3,
            "stop:shop_inactive": 1,
        }
    db.expire_all()
    assert db.get_one(Campaign, campaign.id).last_error_code == "campaign_error.shop_inactive"
    _assert_hold_worded(
        client,
        runtime,
        db,
        shop.id,
        campaign.id,
        "campaign_error.shop_inactive",
        en="The store is disconnected: the campaign goes on once it is connected again.",
        ja="ストアとの接続が切れています。接続し直すとキャンペーンの送信が再開されます。",
    )
    shop.status = "active"
    db.commit()
    with app.app_context():
        sending.send_campaign(runtime, campaign.id)
    assert len(sendgrid.outbox) == 3
    db.expire_all()
    back = db.get_one(Campaign, campaign.id)
    assert (back.status, back.last_error, back.last_error_code) == ("sent", None, None)
