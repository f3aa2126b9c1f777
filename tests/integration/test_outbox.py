"""The Outbox: the shop's flow emails filtered by flow, status and recipient and paged past the
first 50; one email opened with its content, its events and its flow run; another shop's email
is a 404; the customer page links to the same view. A campaign sent through the real send path
is listed beside the flows' emails (its own filter, its name linking to its report), opens with
its content (the sandbox copy, or rendered again), and is on its recipient's customer page.

Integration tests on the real app (PostgreSQL, Redis) and the simulated SendGrid over HTTP.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns import sending
from app.db import utcnow
from app.models import Account, Customer, Shop
from app.models.campaign import Campaign
from app.models.flow import FlowRun, Message, MessageEvent
from app.queueing import EMAIL, WEBHOOKS
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step
from tests.factories import cart_flow, flow_stats
from tests.factories.admin import (
    login,
    make_account,
    make_customer,
    make_shop,
    pages_in_both_languages,
    text_of,
    with_real_sendgrid,
)
from tests.factories.campaigns import Person, add_people, campaign_shop, draft, vip_segment
from tests.factories.cart_flow import deliver_checkout, runs, setup_shop

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration

EN = {"Accept-Language": "en"}


def _shop(db: Session, domain: str) -> tuple[Account, Shop]:
    account = make_account(db, domain)
    return account, make_shop(db, account, domain, locale="en")


def _email(db: Session, shop: Shop, n: int, flow_key: str = "cart", **stamps: Any) -> Message:
    customer = make_customer(db, shop, email=f"buyer{n}@example.com")
    run = flow_stats.run(db, shop, customer, "running")
    run.flow_key = flow_key
    db.commit()
    return flow_stats.message(db, run, 1, subject=f"Subject {n}", **stamps)


def _ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-message-id="(\d+)"', page)]


def test_outbox_pages_past_fifty_and_filters_by_flow_status_and_recipient(
    client: Any, db: Session, runtime: Any
) -> None:
    account, shop = _shop(db, "tea-house.myshopify.com")
    _, other = _shop(db, "other-house.myshopify.com")
    made = [_email(db, shop, n, "winback" if n % 10 == 0 else "cart") for n in range(1, 61)]
    made[4].status = "failed"
    db.commit()
    theirs = _email(db, other, 999)
    login(client, runtime, account)

    first = text_of(client.get("/app/outbox", headers=EN))
    assert _ids(first) == [m.id for m in reversed(made)][:50]
    assert "Newer" not in first
    older = re.search(r'href="([^"]*before=\d+[^"]*)"', first)
    assert older
    second = text_of(client.get(html.unescape(older[1]), headers=EN))
    assert _ids(second) == [m.id for m in reversed(made)][50:]
    assert "Older" not in second
    newer = re.search(r'href="([^"]*after=\d+[^"]*)"', second)
    assert newer
    assert _ids(text_of(client.get(html.unescape(newer[1]), headers=EN))) == _ids(first)
    assert theirs.id not in _ids(first) + _ids(second)
    assert "buyer999@example.com" not in first + second

    winback = text_of(client.get("/app/outbox?flow=winback", headers=EN))
    assert _ids(winback) == [m.id for m in reversed(made) if m.subject.endswith("0")]
    failed = text_of(client.get("/app/outbox?status=failed", headers=EN))
    assert _ids(failed) == [made[4].id]
    one = text_of(client.get("/app/outbox?to=BUYER17%40", headers=EN))
    assert _ids(one) == [made[16].id]
    none = text_of(client.get("/app/outbox?to=buyer999", headers=EN))
    assert _ids(none) == []
    assert "No emails match these filters." in none
    # Unknown filter values are ignored, not an error.
    assert client.get("/app/outbox?flow=nope&status=nope&before=x").status_code == 200


def _sandbox_mail(message: Message, shop: Shop, to: str, link: str) -> dict[str, Any]:
    return {
        "from": {"email": "shop@example.com"},
        "personalizations": [{"to": [{"email": to}]}],
        "subject": "お買い物かごに商品が残っています",
        "content": [
            {"type": "text/plain", "value": f"Hello from the sandbox copy. Unsubscribe: {link}"},
            {"type": "text/html", "value": f'<p>Sandbox HTML body</p><a href="{link}">stop</a>'},
        ],
        "categories": ["kizuna", "flow-cart", "cart-step-1"],
        "custom_args": {"kizuna_shop_id": str(shop.id), "kizuna_message_id": str(message.id)},
    }


def test_an_email_opens_with_its_content_events_and_run(
    client: Any, db: Session, runtime: Any, sendgrid: SandboxSendGrid
) -> None:
    account, shop = _shop(db, "tea-house.myshopify.com")
    message = _email(db, shop, 1, x_message_id="sg-1")
    customer = db.get_one(Customer, message.customer_id)
    later = flow_stats.message(db, db.get_one(FlowRun, message.flow_run_id), 2, "pending")
    for minutes, kind in ((1, "delivered"), (5, "open"), (7, "click")):
        db.add(
            MessageEvent(
                shop_id=shop.id,
                message_id=message.id,
                event=kind,
                occurred_at=message.sent_at + timedelta(minutes=minutes),
                natural_key=f"{kind}-{message.id}",
            )
        )
    db.commit()
    from app.flows.runs import message_unsubscribe_link

    link = message_unsubscribe_link(runtime.config, shop, customer, message)
    sendgrid.accept(_sandbox_mail(message, shop, "buyer1@example.com", link))
    _, other = _shop(db, "other-house.myshopify.com")
    theirs = _email(db, other, 2)
    login(client, runtime, account)

    listed = text_of(client.get("/app/outbox", headers=EN))
    assert f'href="/app/outbox/{message.id}"' in listed
    response = client.get(f"/app/outbox/{message.id}", headers=EN)
    assert response.status_code == 200
    page = text_of(response)
    assert "Sandbox HTML body" in page  # in the sandboxed frame's srcdoc
    assert 'sandbox=""' in page
    assert "Hello from the sandbox copy." in page
    assert link not in html.unescape(page)  # the unsubscribe link is disabled in the admin
    assert "As the simulated SendGrid accepted it." in page
    events = re.findall(r'data-event="(\w+)"', page)
    assert events == ["delivered", "open", "click"]
    assert f'href="/app/outbox/{later.id}"' in page  # the run's other email
    assert "Abandoned cart" in page
    assert f'href="/app/customers/{customer.id}"' in page

    assert client.get(f"/app/outbox/{theirs.id}", headers=EN).status_code == 404
    assert client.get("/app/outbox/2147483647", headers=EN).status_code == 404

    customer_page = text_of(client.get(f"/app/customers/{customer.id}", headers=EN))
    assert f'href="/app/outbox/{message.id}"' in customer_page


def test_with_real_sendgrid_the_email_is_rendered_again(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, monkeypatch: Any
) -> None:
    shop = setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    message = Message(
        shop_id=shop.id,
        flow_run_id=run.id,
        step=1,
        customer_id=run.customer_id,
        status="sent",
        subject="Kizuna's own record",
    )
    db.add(message)
    db.commit()
    with_real_sendgrid(monkeypatch, runtime)
    login(client, runtime, db.get_one(Account, shop.account_id))
    page = text_of(client.get(f"/app/outbox/{message.id}", headers=EN))
    assert "SendGrid keeps no copy of sent emails" in page
    assert "花子" in html.unescape(page)  # the cart email, rendered for its recipient
    assert "/unsubscribe/" not in html.unescape(page)


def _sent_campaign(db: Session, app: Any, runtime: Any, shop: Shop, first_id: int) -> Campaign:
    """A campaign to two subscribed customers (Japanese, English), sent as the job sends it."""
    add_people(
        db,
        shop,
        [Person(first="陽葵", last="森", locale="ja"), Person(first="Tom", locale="en")],
        first_id,
    )
    segment = vip_segment(db, shop)
    campaign = draft(db, shop, {"segments": [segment.id], "rfm_groups": []})
    with app.app_context():
        sending.start(db, shop, campaign, utcnow())
        db.commit()
        sending.send_campaign(runtime, campaign.id)
    db.expire_all()
    return campaign


def _campaign_messages(db: Session, campaign: Campaign) -> list[Message]:
    return list(
        db.scalars(
            select(Message).where(Message.campaign_id == campaign.id).order_by(Message.customer_id)
        )
    )


def test_a_sent_campaign_is_in_the_outbox_and_on_the_customer_page(
    client: Any, db: Session, runtime: Any, app: Any, monkeypatch: Any
) -> None:
    shop = campaign_shop(db)
    campaign = _sent_campaign(db, app, runtime, shop, 5000)
    ja_message, en_message = _campaign_messages(db, campaign)
    assert [m.status for m in (ja_message, en_message)] == ["sent", "sent"]
    assert ja_message.flow_run_id is None
    flow_email = flow_stats.message(
        db, flow_stats.run(db, shop, make_customer(db, shop, email="cart@example.jp"), "running"), 1
    )
    other = campaign_shop(db, "other-camp.myshopify.com")
    theirs = _campaign_messages(db, _sent_campaign(db, app, runtime, other, 7000))
    assert len(theirs) == 2
    login(client, runtime, db.get_one(Account, shop.account_id))

    listed = text_of(client.get("/app/outbox", headers=EN))
    newest_first = sorted((en_message.id, ja_message.id), reverse=True)
    assert _ids(listed) == [flow_email.id, *newest_first]
    assert "Campaign: Winter sale" in listed
    assert f'href="/app/campaigns/{campaign.id}/report"' in listed
    assert f"campaign-{campaign.id}" in listed  # the row's SendGrid categories
    assert 'value="campaigns"' in listed  # the filter's choice
    only_campaigns = text_of(client.get("/app/outbox?flow=campaigns", headers=EN))
    assert _ids(only_campaigns) == newest_first
    assert _ids(text_of(client.get("/app/outbox?flow=cart", headers=EN))) == [flow_email.id]
    by_recipient = text_of(client.get("/app/outbox?flow=campaigns&to=c5001", headers=EN))
    assert _ids(by_recipient) == [en_message.id]
    sent = text_of(client.get("/app/outbox?flow=campaigns&status=sent", headers=EN))
    assert _ids(sent) == newest_first
    japanese = text_of(client.get("/app/outbox", headers={"Accept-Language": "ja"}))
    assert "キャンペーン：Winter sale" in japanese

    page = text_of(client.get(f"/app/outbox/{ja_message.id}", headers=EN))
    assert f'href="/app/campaigns/{campaign.id}/report"' in page
    assert "As the simulated SendGrid accepted it." in page
    assert "冬のセール" in html.unescape(page)
    assert "森 陽葵" in html.unescape(page) or "森陽葵" in html.unescape(page)
    assert "/unsubscribe/" not in html.unescape(page)
    assert 'data-field="message-run"' not in page  # a campaign's email has no flow run
    for message in theirs:
        assert client.get(f"/app/outbox/{message.id}", headers=EN).status_code == 404

    customer_page = text_of(client.get(f"/app/customers/{en_message.customer_id}", headers=EN))
    assert f'href="/app/outbox/{en_message.id}"' in customer_page
    assert "Campaign: Winter sale" in customer_page
    assert f'href="/app/campaigns/{campaign.id}/report"' in customer_page

    # With the real SendGrid (it keeps no copy) the campaign's email is rendered again.
    with_real_sendgrid(monkeypatch, runtime)
    rendered = html.unescape(text_of(client.get(f"/app/outbox/{en_message.id}", headers=EN)))
    assert "SendGrid keeps no copy of sent emails" in rendered
    assert "Winter sale" in rendered
    assert "Tom" in rendered  # the recipient's greeting
    assert "/unsubscribe/" not in rendered


@pytest.mark.parametrize(
    ("status", "stored", "english", "japanese"),
    [
        (
            "unknown",
            "outcome_unknown",
            "SendGrid's answer was lost",
            "SendGrid からの応答が失われました",
        ),
        (
            "failed",
            "sendgrid_unavailable: 503 Service Unavailable",
            "SendGrid did not answer, even after several retries",
            "何度か再試行しましたが、SendGrid から応答がありませんでした",
        ),
        (
            "failed",
            "sendgrid_unavailable",
            "SendGrid did not answer, even after several retries",
            "何度か再試行しましたが、SendGrid から応答がありませんでした",
        ),
        ("failed", "sendgrid_refused", "SendGrid refused it", "SendGrid に拒否されました"),
        (
            "failed",
            "sendgrid_refused: status=400",
            "SendGrid refused it with HTTP status 400",
            "SendGrid が HTTP ステータス 400 で拒否しました",
        ),
        (
            "failed",
            "invalid_email: to_email is not an email address",
            "SendGrid would refuse it: an address or header of the email is not valid",
            "アドレスまたはヘッダーが正しくないため、SendGrid に受け付けられません",
        ),
        ("skipped", "no_consent", "no consent", "同意なし"),
        (
            "failed",
            "The from address does not match a verified Sender Identity.",
            "The from address does not match a verified Sender Identity.",
            "The from address does not match a verified Sender Identity.",
        ),
    ],
    ids=[
        "answer_lost",
        "sendgrid_down_older",
        "sendgrid_down",
        "sendgrid_refused",
        "sendgrid_refused_status",
        "invalid_email",
        "run_exit",
        "sendgrid_words",
    ],
)
def test_why_an_email_was_not_sent_reads_in_the_merchants_language(
    client: Any,
    db: Session,
    runtime: Any,
    drain_jobs: Any,
    status: str,
    stored: str,
    english: str,
    japanese: str,
) -> None:
    shop = setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    message = flow_stats.message(db, run, 1, status=status, last_error=stored)
    login(client, runtime, db.get_one(Account, shop.account_id))
    for language, expected in (("en", english), ("ja", japanese)):
        response = client.get(f"/app/outbox/{message.id}", headers={"Accept-Language": language})
        page = html.unescape(text_of(response))
        shown = re.search(r'data-field="message-problem">([^<]*)<', page)
        assert shown is not None, language
        assert expected in shown.group(1), (language, shown.group(1))


@pytest.mark.parametrize(
    ("status", "attempts", "outcome", "stored", "english", "japanese"),
    [
        (
            400,
            1,  # a refusal is never retried
            "failed",
            "sendgrid_refused: status=400",
            "SendGrid refused it with HTTP status 400",
            "SendGrid が HTTP ステータス 400 で拒否しました",
        ),
        (
            503,
            3,  # every attempt the client makes; the message is sent again later
            "pending",
            "sendgrid_unavailable",
            "SendGrid did not answer, even after several retries",
            "何度か再試行しましたが、SendGrid から応答がありませんでした",
        ),
    ],
    ids=["refused", "unavailable"],
)
def test_a_flow_email_sendgrid_did_not_take_says_why_in_the_outbox_not_in_sendgrids_words(
    client: Any,
    db: Session,
    runtime: Any,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
    caplog: pytest.LogCaptureFixture,
    status: int,
    attempts: int,
    outcome: str,
    stored: str,
    english: str,
    japanese: str,
) -> None:
    shop = setup_shop(db)
    deliver_checkout(client)
    drain_jobs(WEBHOOKS)
    [run] = runs(db)
    run_flow_step(run.id, 1)
    sendgrid.fail_next(status, count=attempts)
    drain_jobs(EMAIL)
    db.expire_all()
    [message] = db.scalars(select(Message))
    assert (message.status, message.last_error) == (outcome, stored)
    assert len(sendgrid.requests_to("/v3/mail/send")) == attempts
    # SendGrid's own words ("invalid request", "service unavailable") are neither stored nor
    # logged; the log keeps the error's class and HTTP status.
    words = {400: "invalid request", 503: "service unavailable"}[status]
    db.refresh(shop)
    kept = f"{message.last_error} {shop.last_error} {shop.last_error_params}"
    assert words not in kept.lower()
    assert "hanako" not in kept
    assert words not in caplog.text.lower()
    assert f"flow email not sent message_id={message.id}" in caplog.text
    assert f"status={status}" in caplog.text
    outbox = pages_in_both_languages(client, runtime, db, shop.id, f"/app/outbox/{message.id}")
    for language, expected in (("en", english), ("ja", japanese)):
        shown = re.search(r'data-field="message-problem">([^<]*)<', outbox[language])
        assert shown is not None, language
        assert shown.group(1).strip() == expected, (language, shown.group(1))
