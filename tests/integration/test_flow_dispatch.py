"""Due cart steps dispatched set-wise, on PostgreSQL, Redis and the simulated SendGrid: the same
decisions and the same emails as the one-run path, one Mail Send request per batch, concurrent
jobs splitting the work without a duplicate, and failures that lose nothing."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import make_engine, utcnow
from app.flows.dispatch import dispatch_due
from app.migrate import upgrade
from app.models import Customer, Order
from app.models.flow import FlowRun, FlowSetting, Message, Suppression
from app.models.inquiry import Inquiry
from app.models.segment import SavedSegment
from app.queueing import EMAIL, FLOWS
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sendgrid.mail import build_batch
from jobs.flows import dispatch_due_steps, run_flow_step
from jobs.message_sweep import sweep_messages
from jobs.send_email import send_message
from tests.factories import cart_flow
from tests.factories.flow_dispatch import LINE_ITEMS, _cart, _shop
from tests.factories.sendgrid_mail import assert_valid
from tests.factories.shopify_webhooks import make_shop

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration


# Every exit and send-time rule the cart flow has, one customer each.
SCENARIOS = (
    "ready",
    "ready_en",
    "no_name",
    "ordered_by_token",
    "ordered_since",
    "completed",
    "no_consent",
    "suppressed",
    "deleted",
    "outside_audience",
    "complaint",
    "capped",
)


def _scenario_shop(db: Session, domain: str) -> dict[str, FlowRun]:
    shop = _shop(db, domain)
    segment = SavedSegment(
        shop_id=shop.id,
        name="Japan",
        rule={"match": "all", "rules": [{"field": "country", "op": "is", "value": "JP"}]},
    )
    db.add(segment)
    db.flush()
    setting = db.scalars(select(FlowSetting).where(FlowSetting.shop_id == shop.id)).one()
    setting.config = {**setting.config, "audience_segment_id": segment.id}
    runs: dict[str, FlowRun] = {}
    now = utcnow()
    for n, scenario in enumerate(SCENARIOS):
        customer, checkout, run = _cart(
            db,
            shop,
            n,
            name=None if scenario == "no_name" else "Tom & Jerry",
            locale="en" if scenario == "ready_en" else "ja",
        )
        runs[scenario] = run
        if scenario in ("ordered_by_token", "ordered_since"):
            db.add(
                Order(
                    shop_id=shop.id,
                    external_id=f"order-{n}",
                    customer_id=customer.id if scenario == "ordered_since" else None,
                    checkout_token=checkout.external_id if scenario == "ordered_by_token" else None,
                    currency="JPY",
                    processed_at=now - timedelta(minutes=20),
                )
            )
        elif scenario == "completed":
            checkout.completed_at = now - timedelta(minutes=10)
        elif scenario == "no_consent":
            customer.email_marketing_state = "UNSUBSCRIBED"
        elif scenario == "suppressed":
            db.add(Suppression(shop_id=shop.id, email_normalized=customer.email, reason="bounce"))
        elif scenario == "deleted":
            customer.deleted_at = now
        elif scenario == "outside_audience":
            customer.country_code = "US"
        elif scenario == "complaint":
            db.add(
                Inquiry(
                    shop_id=shop.id,
                    customer_id=customer.id,
                    channel="email",
                    kind="complaint",
                    subject="Late parcel",
                )
            )
        elif scenario == "capped":  # emailed an hour ago: the 16 h cap defers this one
            earlier = FlowRun(
                shop_id=shop.id,
                flow_key="winback",
                customer_id=customer.id,
                trigger_key="lapse:1",
                status="completed",
                started_at=now - timedelta(days=2),
            )
            db.add(earlier)
            db.flush()
            db.add(
                Message(
                    shop_id=shop.id,
                    flow_run_id=earlier.id,
                    step=1,
                    customer_id=customer.id,
                    status="sent",
                    attempts=1,
                    sent_at=now - timedelta(hours=1),
                )
            )
    db.commit()
    return runs


def _outcome(db: Session, run: FlowRun) -> tuple[Any, ...]:
    db.expire_all()
    message = db.scalars(
        select(Message).where(Message.flow_run_id == run.id, Message.step == 1)
    ).one_or_none()
    message_state = None
    if message is not None:
        waits = message.not_before is not None and message.not_before > utcnow()
        message_state = (message.status, message.last_error, waits)
    return (run.status, run.exit_reason, run.next_step, message_state)


def _normalized(text: str | None, shop: str) -> str:
    """A sent body with what must differ between two shops (their domain, the message's
    signed unsubscribe token) masked."""
    text = (text or "").replace(shop, "SHOP")
    return re.sub(r"/unsubscribe/[^\s\"<>]+", "/unsubscribe/TOKEN", text)


def _assert_same_emails(
    mine: dict[str, Any], my_shop: str, theirs: dict[str, Any], their_shop: str
) -> None:
    """Each address got the same email from both shops, but for the shop's domain and the
    message's own unsubscribe link."""
    for address, email in mine.items():
        other = theirs[address]
        assert (email.subject, email.categories) == (other.subject, other.categories)
        assert email.headers["List-Unsubscribe"] != other.headers["List-Unsubscribe"]
        for part in ("html", "text"):
            assert _normalized(getattr(email, part), f"{my_shop}.myshopify.com") == _normalized(
                getattr(other, part), f"{their_shop}.myshopify.com"
            ), (address, part)


def test_dispatch_decides_and_renders_exactly_as_the_one_run_path(
    db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    one_by_one = _scenario_shop(db, "one-by-one.myshopify.com")
    set_wise = _scenario_shop(db, "set-wise.myshopify.com")

    for run in one_by_one.values():
        run_flow_step(run.id, 1)
    drain_jobs(EMAIL)
    sent_one_by_one = {m.to_email: m for m in sendgrid.outbox}
    sendgrid.clear_outbox()
    requests_before = len(sendgrid.requests_to("/v3/mail/send"))

    outcomes = dispatch_due_steps(set_wise["ready"].shop_id, "cart", 1)
    drain_jobs(EMAIL)

    assert outcomes["created"] == 5  # ready ×3, complaint (skipped), capped (deferred)
    assert outcomes["sent:sent"] == 3
    # One request per language: the Japanese and the English content.
    assert len(sendgrid.requests_to("/v3/mail/send")) == requests_before + 2
    for scenario in SCENARIOS:
        assert _outcome(db, set_wise[scenario]) == _outcome(db, one_by_one[scenario]), scenario
    assert _outcome(db, set_wise["ready"])[:3] == ("running", None, 2)
    assert _outcome(db, set_wise["ordered_by_token"])[:2] == ("exited", "ordered")
    assert _outcome(db, set_wise["outside_audience"])[:2] == ("exited", "not_in_audience")
    assert _outcome(db, set_wise["complaint"])[3] == ("skipped", "complaint_open", False)
    assert _outcome(db, set_wise["capped"])[3] == ("pending", None, True)

    sent_set_wise = {m.to_email: m for m in sendgrid.outbox}
    assert sorted(sent_set_wise) == sorted(sent_one_by_one) == ["c0@example.jp", "c1@example.jp",
                                                                "c2@example.jp"]  # fmt: skip
    _assert_same_emails(sent_set_wise, "set-wise", sent_one_by_one, "one-by-one")
    ready = sent_set_wise["c0@example.jp"]
    assert "Tom &amp; Jerry 様、" in (ready.html or "")
    assert "Tom & Jerry 様、" in (ready.text or "")
    assert "Tea &lt;b&gt;&amp; Cups" in (ready.html or "")
    assert "key=k&amp;n=0" in (ready.html or "")
    assert "key=k&n=0" in (ready.text or "")
    assert "¥12,800" in (ready.html or "")
    assert sent_set_wise["c1@example.jp"].subject == "You left something in your cart"


def test_a_batch_is_one_valid_request_with_each_recipients_own_cart(
    db: Session, runtime: Any, app: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, "batch.myshopify.com")
    for n in range(30):
        _cart(db, shop, n, line_items=[{**LINE_ITEMS[0], "title": f"商品 {n}"}])
    db.commit()
    with app.app_context(), runtime.db.session() as session:
        batch = dispatch_due(session, runtime.config, shop.id, "cart", 1, utcnow())
        bodies = build_batch(batch.emails)
        session.rollback()  # only the bodies are wanted here
    assert batch.claimed == 30
    assert len(bodies) == 1
    assert len(bodies[0]["personalizations"]) == 30
    assert_valid(bodies[0])  # SendGrid's own OpenAPI
    for personalization in bodies[0]["personalizations"]:
        n = int(personalization["to"][0]["email"].removeprefix("c").split("@")[0])
        assert f"商品 {n}" in personalization["substitutions"]["-cart_items_html-"]
        assert set(personalization["custom_args"]) == {"kizuna_message_id", "kizuna_shop_id"}


def test_concurrent_jobs_split_the_due_runs_and_send_each_once(
    db: Session, runtime: Any, app: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, "busy.myshopify.com")
    for n in range(2500):
        _cart(db, shop, n)
    db.commit()

    results: list[dict[str, int]] = []

    def job() -> None:
        with app.app_context():
            results.append(dispatch_due_steps(shop.id, "cart", 1))

    threads = [threading.Thread(target=job) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert sum(r.get("created", 0) for r in results) == 2500
    assert sum(r.get("sent:sent", 0) for r in results) == 2500
    ids = [m.kizuna_message_id for m in sendgrid.outbox]
    assert len(ids) == len(set(ids)) == 2500
    assert 3 <= len(sendgrid.requests_to("/v3/mail/send")) <= 6  # ≤ 1,000 per request
    statuses = db.scalars(select(Message.status).where(Message.shop_id == shop.id)).all()
    assert set(statuses) == {"sent"}
    assert dispatch_due_steps(shop.id, "cart", 1) == {}  # nothing is due twice


def test_a_dispatch_job_past_its_time_budget_hands_the_rest_to_a_new_job(
    db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, "long.myshopify.com")
    for n in range(1100):
        _cart(db, shop, n)
    db.commit()

    first = dispatch_due_steps(shop.id, "cart", 1, budget_s=0)

    assert first["created"] == 1000  # one batch, then the rest handed on
    assert first["continued"] == 1
    assert len(sendgrid.outbox) == 1000
    drain_jobs(FLOWS, EMAIL)
    ids = [m.kizuna_message_id for m in sendgrid.outbox]
    assert len(ids) == len(set(ids)) == 1100
    statuses = db.scalars(select(Message.status).where(Message.shop_id == shop.id)).all()
    assert statuses.count("sent") == 1100


def test_a_refused_batch_fails_every_message_and_tells_the_merchant(
    db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, "refused.myshopify.com")
    for n in range(3):
        _cart(db, shop, n)
    db.commit()
    sendgrid.fail_next(400)
    assert dispatch_due_steps(shop.id, "cart", 1) == {"created": 3, "sent:failed": 3}
    drain_jobs(EMAIL)
    messages = db.scalars(select(Message).where(Message.shop_id == shop.id)).all()
    assert {(m.status, m.attempts) for m in messages} == {("failed", 1)}
    assert sendgrid.outbox == []
    db.refresh(shop)
    assert shop.last_error_code == "shop_error.email_refused"
    assert "was not sent: SendGrid refused it with HTTP status 400." in (shop.last_error or "")


def test_a_throttled_batch_is_retried_and_sent_once(
    db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, "throttled.myshopify.com")
    for n in range(3):
        _cart(db, shop, n)
    db.commit()
    sendgrid.fail_next(429, reset_in=0.5)
    assert dispatch_due_steps(shop.id, "cart", 1) == {"created": 3, "sent:sent": 3}
    assert [r.status for r in sendgrid.requests_to("/v3/mail/send")] == [429, 202]
    assert len(sendgrid.outbox) == 3


def test_a_batch_whose_answer_never_came_is_never_resent(
    db: Session, runtime: Any, app: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    """The worker dies after the claim: the rows stay `sending`; nothing sends them again and
    the message sweeper settles them as `unknown`."""
    shop = _shop(db, "lost.myshopify.com")
    for n in range(3):
        _cart(db, shop, n)
    db.commit()
    with app.app_context(), runtime.db.session() as session:
        batch = dispatch_due(session, runtime.config, shop.id, "cart", 1, utcnow())
        session.commit()  # claimed; the request is never made (the worker is gone)
    assert len(batch.emails) == 3
    messages = db.scalars(select(Message).where(Message.shop_id == shop.id)).all()
    assert {m.status for m in messages} == {"sending"}

    assert dispatch_due_steps(shop.id, "cart", 1) == {}
    for message in messages:
        assert send_message(message.id) == "skipped"
    drain_jobs(EMAIL)
    later = datetime.now(UTC) + timedelta(hours=1)
    db.execute(
        Message.__table__.update()
        .where(Message.shop_id == shop.id)
        .values(sent_at=later - timedelta(hours=3))
    )
    db.commit()
    assert sweep_messages()["unknown"] == 3
    assert sendgrid.outbox == []


def test_carts_that_cannot_share_content_are_sent_on_their_own(
    db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, "own.myshopify.com")
    _cart(db, shop, 0)
    huge = [{**LINE_ITEMS[0], "title": f"とても長い商品名 {n} " * 8} for n in range(40)]
    _, _, big_run = _cart(db, shop, 1, line_items=huge)  # over 10,000 bytes of substitutions
    db.commit()
    assert dispatch_due_steps(shop.id, "cart", 1) == {"created": 2, "sent:sent": 1}
    drain_jobs(EMAIL)
    assert len(sendgrid.requests_to("/v3/mail/send")) == 2
    [big] = [m for m in sendgrid.outbox if m.to_email == "c1@example.jp"]
    assert "とても長い商品名 39" in (big.html or "")
    message = db.scalars(select(Message).where(Message.flow_run_id == big_run.id)).one()
    assert message.status == "sent"


def test_the_discount_step_takes_the_one_run_path(
    db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, "discount.myshopify.com", discount_percent=0)
    _, _, run = _cart(db, shop, 0)
    run.next_step = 2
    db.commit()
    assert dispatch_due_steps(shop.id, "cart", 2) == {"created": 1, "sent:sent": 1}

    shop2 = _shop(db, "discount2.myshopify.com")
    _, _, run2 = _cart(db, shop2, 0)
    run2.next_step = 2
    db.commit()
    # A step with a code: messages created here, each sent by its own job (its own code).
    assert dispatch_due_steps(shop2.id, "cart", 2) == {"created": 1}
    message = db.scalars(select(Message).where(Message.flow_run_id == run2.id)).one()
    assert message.status == "pending"


def test_quiet_hours_defer_the_whole_batch_to_the_morning(
    db: Session, runtime: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, "night.myshopify.com", quiet_hours=["21:00", "08:00"])
    shop.timezone = "Asia/Tokyo"
    for n in range(3):
        _cart(db, shop, n)
    db.commit()
    night = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)  # 23:00 in Tokyo
    db.execute(
        FlowRun.__table__.update()
        .where(FlowRun.shop_id == shop.id)
        .values(next_step_at=night - timedelta(seconds=5))
    )
    db.commit()
    assert dispatch_due_steps(shop.id, "cart", 1, now=night) == {"created": 3}
    morning = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo
    messages = db.scalars(select(Message).where(Message.shop_id == shop.id)).all()
    assert {(m.status, m.not_before) for m in messages} == {("pending", morning)}
    assert sendgrid.outbox == []


def test_two_carts_of_one_customer_in_one_batch_send_one_email(
    db: Session, runtime: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, "twice.myshopify.com")
    customer, _, first = _cart(db, shop, 0)
    _, second_checkout, second = _cart(db, shop, 1)
    second_checkout.customer_id = second.customer_id = customer.id
    db.commit()
    assert dispatch_due_steps(shop.id, "cart", 1) == {"created": 2, "sent:sent": 1}
    assert len(sendgrid.outbox) == 1
    states = {_outcome(db, run)[3] for run in (first, second)}
    assert states == {("sent", None, False), ("pending", None, True)}  # the cap defers one


WINBACK_SCENARIOS = ("ready", "ready_en", "ordered_since", "no_consent", "cart_waiting", "capped")


def _winback_shop(db: Session, domain: str) -> dict[str, FlowRun]:
    shop = make_shop(db, domain=domain)
    shop.timezone, shop.locale, shop.name = "UTC", "ja", "絆ストア"
    db.add(
        FlowSetting(
            shop_id=shop.id,
            flow_key="winback",
            config={"holdout_percent": 0, "quiet_hours": None},
        )
    )
    now = utcnow()
    runs: dict[str, FlowRun] = {}
    for n, scenario in enumerate(WINBACK_SCENARIOS):
        customer, _, cart_run = _cart(
            db, shop, n, name="Tom & Jerry", locale="en" if scenario == "ready_en" else "ja"
        )
        cart_run.status, cart_run.next_step = "completed", None  # only the win-back is due
        run = FlowRun(
            shop_id=shop.id,
            flow_key="winback",
            customer_id=customer.id,
            trigger_key=f"lapse:{n}",
            status="running",
            next_step=1,
            next_step_at=now - timedelta(seconds=5),
            started_at=now - timedelta(minutes=1),
        )
        db.add(run)
        db.flush()
        runs[scenario] = run
        if scenario == "ordered_since":
            db.add(
                Order(
                    shop_id=shop.id,
                    external_id=f"order-{n}",
                    customer_id=customer.id,
                    currency="JPY",
                    processed_at=now - timedelta(seconds=20),
                )
            )
        elif scenario == "no_consent":
            customer.email_marketing_state = "NOT_SUBSCRIBED"
        elif scenario in ("cart_waiting", "capped"):  # a cart email due now, or sent an hour ago
            db.add(
                Message(
                    shop_id=shop.id,
                    flow_run_id=cart_run.id,
                    step=1,
                    customer_id=customer.id,
                    status="pending" if scenario == "cart_waiting" else "sent",
                    attempts=0 if scenario == "cart_waiting" else 1,
                    sent_at=None if scenario == "cart_waiting" else now - timedelta(hours=1),
                )
            )
    db.commit()
    return runs


def test_winback_dispatch_decides_and_renders_as_the_one_run_path(
    db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    one_by_one = _winback_shop(db, "wb-one.myshopify.com")
    set_wise = _winback_shop(db, "wb-set.myshopify.com")
    for run in one_by_one.values():
        run_flow_step(run.id, 1)
    for message in db.scalars(select(Message).where(Message.status == "pending")).all():
        if message.flow_run_id in {run.id for run in one_by_one.values()}:
            send_message(message.id)
    sent_one_by_one = {m.to_email: m for m in sendgrid.outbox}
    sendgrid.clear_outbox()

    outcomes = dispatch_due_steps(set_wise["ready"].shop_id, "winback", 1)

    assert outcomes == {"created": 4, "exited:ordered": 1, "exited:no_consent": 1, "sent:sent": 2}
    for scenario in WINBACK_SCENARIOS:
        assert _outcome(db, set_wise[scenario]) == _outcome(db, one_by_one[scenario]), scenario
    assert _outcome(db, set_wise["cart_waiting"])[3] == ("pending", None, True)  # cart first
    sent_set_wise = {m.to_email: m for m in sendgrid.outbox}
    assert sorted(sent_set_wise) == sorted(sent_one_by_one) == ["c0@example.jp", "c1@example.jp"]
    _assert_same_emails(sent_set_wise, "wb-set", sent_one_by_one, "wb-one")
    assert "Tom &amp; Jerry" in (sent_set_wise["c0@example.jp"].html or "")


def test_dispatch_works_on_the_embedded_sqlite_database(
    tmp_path: Any, app: Any, runtime: Any
) -> None:
    """The demo's database: no SKIP LOCKED (SQLite has one writer), the same batch."""
    url = f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"
    upgrade(url)
    with Session(make_engine(url)) as session:
        shop = _shop(session, "embedded.myshopify.com")
        for n in range(3):
            _cart(session, shop, n)
        session.commit()
        with app.app_context():
            batch = dispatch_due(session, runtime.config, shop.id, "cart", 1, utcnow())
            session.commit()
            again = dispatch_due(session, runtime.config, shop.id, "cart", 1, utcnow())
        assert (batch.claimed, len(batch.emails), again.claimed) == (3, 3, 0)
        assert batch.outcomes == {"created": 3}
        statuses = session.scalars(select(Message.status)).all()
        assert statuses == ["sending"] * 3
        [body] = build_batch(batch.emails)
        assert_valid(body)


def test_a_malformed_address_fails_its_own_message_and_the_batch_goes_out(
    db: Session,
    runtime: Any,
    drain_jobs: Any,
    sendgrid: SandboxSendGrid,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop = _shop(db, "typo.myshopify.com")
    for n in range(3):
        customer, _, _ = _cart(db, shop, n)
    customer.email = customer.email_normalized = "c2@example"  # no top-level domain
    _, _, one_run = _cart(db, _shop(db, "typo-one.myshopify.com"), 9)
    typo = db.get(Customer, one_run.customer_id)
    assert typo is not None
    typo.email = typo.email_normalized = "c9@example"
    db.commit()

    assert dispatch_due_steps(shop.id, "cart", 1) == {"created": 3, "sent:sent": 2}
    assert sorted(m.to_email for m in sendgrid.outbox) == ["c0@example.jp", "c1@example.jp"]
    refused = db.scalars(
        select(Message).where(Message.shop_id == shop.id, Message.status == "failed")
    ).one()
    # The message keeps the code; the log names the field for support, never the address.
    assert refused.last_error == "invalid_email"
    assert f"message_id={refused.id} reason=invalid_email: to_email is not" in caplog.text
    assert "c2@example" not in caplog.text

    assert run_flow_step(one_run.id, 1) == "created"  # the one-run path does the same
    drain_jobs(EMAIL)
    message = db.scalars(select(Message).where(Message.flow_run_id == one_run.id)).one()
    assert (message.status, message.last_error) == ("failed", "invalid_email")
    assert "c9@example" not in caplog.text


def test_cart_and_winback_batches_at_once_send_each_customer_the_cart_email_only(
    db: Session, runtime: Any, app: Any, sendgrid: SandboxSendGrid
) -> None:
    """Two flows' batches over the same customers at the same moment: the win-back batch sees
    each due cart step, before or after the cart batch commits, and waits its turn."""
    shop = _shop(db, "both.myshopify.com")
    db.add(
        FlowSetting(
            shop_id=shop.id, flow_key="winback", config={"holdout_percent": 0, "quiet_hours": None}
        )
    )
    now = utcnow()
    for n in range(300):
        customer, _, _ = _cart(db, shop, n)
        db.add(
            FlowRun(
                shop_id=shop.id,
                flow_key="winback",
                customer_id=customer.id,
                trigger_key=f"lapse:{n}",
                status="running",
                next_step=1,
                next_step_at=now - timedelta(seconds=5),
                started_at=now - timedelta(minutes=1),
            )
        )
    db.commit()

    def dispatch(flow_key: str) -> None:
        with app.app_context():
            dispatch_due_steps(shop.id, flow_key, 1)

    threads = [threading.Thread(target=dispatch, args=(key,)) for key in ("winback", "cart")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert len(sendgrid.outbox) == 300
    assert {m.categories[1] for m in sendgrid.outbox} == {"flow-cart"}
    rows = db.execute(
        select(FlowRun.flow_key, Message.status, Message.not_before)
        .join(FlowRun, FlowRun.id == Message.flow_run_id)
        .where(Message.shop_id == shop.id)
    ).all()
    assert sorted({(key, status) for key, status, _ in rows}) == [
        ("cart", "sent"),
        ("winback", "pending"),
    ]
    assert all(wait is not None and wait > now for key, _, wait in rows if key == "winback")
