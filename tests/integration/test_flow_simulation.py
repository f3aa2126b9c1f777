"""Flow backtests on real PostgreSQL and Redis: the cart, win-back and post-purchase flows
(thank-you, review request, replenishment) replayed over a past window with the live rules
(exits, quiet hours, frequency cap, holdout, consent, paid orders), and the proof that a
simulation of any flow writes, queues and sends nothing; the `kizuna flows simulate` command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from rq import Queue
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.cli import main
from app.domain.orchestration import (
    CART,
    POST_PURCHASE_DEFAULTS,
    REPLENISHMENT,
    REVIEW_REQUEST,
    THANK_YOU,
    WINBACK,
    WINBACK_DEFAULTS,
    holdout_bucket,
)
from app.flows.simulation import (
    SIMULATORS,
    SimulatedEntry,
    SimulationResult,
    mask_email,
    parse_lookback,
    simulate,
)
from app.models import Checkout, Customer, Order, Product, Shop
from app.models.flow import FlowRun, FlowSetting, Message, Suppression
from app.models.inquiry import Inquiry
from app.models.segment import SavedSegment
from app.queueing import EMAIL, FLOWS
from tests.factories.admin import make_account, make_customer, make_order, make_shop
from tests.factories.post_purchase import (
    BOWL,
    CATALOGUE,
    CUSTOMER,
    TEA,
    TRAY,
    add_history,
    setup_shop,
)

TOKYO = ZoneInfo("Asia/Tokyo")
UNTIL = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=30)


def new_shop(db: Session, domain: str = "sim-store.myshopify.com", **values: Any) -> Shop:
    return make_shop(db, make_account(db), domain, **values)


def flow_settings(db: Session, shop: Shop, flow_key: str, **config: Any) -> None:
    db.add(FlowSetting(shop_id=shop.id, flow_key=flow_key, enabled=True, config=config))
    db.commit()


def subscriber(db: Session, shop: Shop, **values: Any) -> Customer:
    return make_customer(db, shop, **{"email_marketing_state": "SUBSCRIBED", **values})


def make_checkout(
    db: Session, shop: Shop, customer: Customer | None, token: str, created: datetime, **values: Any
) -> Checkout:
    checkout = Checkout(
        shop_id=shop.id,
        external_id=token,
        customer_id=customer.id if customer else None,
        email=customer.email if customer else None,
        currency="JPY",
        total_price=Decimal(12800),
        platform_created_at=created,
        platform_updated_at=created,
        **values,
    )
    db.add(checkout)
    db.commit()
    return checkout


def entry_for(result: SimulationResult, customer: Customer, trigger: str = "") -> SimulatedEntry:
    [entry] = [e for e in result.entries if e.customer_id == customer.id and trigger in e.trigger]
    return entry


def entry_of(result: SimulationResult, trigger: str) -> SimulatedEntry:
    [entry] = [e for e in result.entries if e.trigger == trigger]
    return entry


def reorder_label(order: Order, product: str = TEA) -> str:
    return f"product {product} of order {order.name or order.external_id}"


def test_lookback_and_masking() -> None:
    assert parse_lookback("30d") == timedelta(days=30)
    assert parse_lookback("12H") == timedelta(hours=12)
    for bad in ("", "30", "0d", "-3d", "2w", "400d"):
        try:
            parse_lookback(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
    assert mask_email("hanako@example.jp") == "h***@example.jp"
    assert mask_email(None) == "-"
    assert set(SIMULATORS) == {
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


def test_an_order_after_the_cart_exits_the_run_before_the_next_step(db: Session) -> None:
    shop = new_shop(db, timezone="UTC")
    flow_settings(db, shop, CART, holdout_percent=0, quiet_hours=None)
    quick, later = subscriber(db, shop), subscriber(db, shop)
    start = SINCE + timedelta(days=3, hours=2)
    make_checkout(db, shop, quick, "tok-quick", start)
    make_order(db, shop, quick, "#1001", [("Tea", 1, "3000")], checkout_token="tok-quick",
               processed_at=start + timedelta(minutes=30))  # fmt: skip
    make_checkout(db, shop, later, "tok-later", start)
    # An order without the token still exits: any order by the customer after the start.
    make_order(db, shop, later, "#1002", [("Tea", 1, "3000")],
               processed_at=start + timedelta(hours=5))  # fmt: skip

    result = simulate(db, shop, CART, SINCE, UNTIL)

    first = entry_for(result, quick)
    assert (first.outcome, first.exited_before_step, first.emails) == ("exited:ordered", 1, [])
    assert first.describe() == "exited:ordered before step 1"
    second = entry_for(result, later)
    assert (second.outcome, second.exited_before_step) == ("exited:ordered", 2)
    [email] = second.emails
    assert (email.step, email.would_send_at, email.deferred_by) == (
        1,
        start + timedelta(hours=1),
        "none",
    )
    assert (result.totals.entered, result.totals.exited, result.totals.emails) == (2, 2, 1)


def test_a_cart_abandoned_at_ten_at_night_waits_for_nine_in_the_morning(db: Session) -> None:
    shop = new_shop(db, timezone="Asia/Tokyo")
    flow_settings(db, shop, CART, holdout_percent=0)  # quiet hours 21:00–09:00 by default
    customer = subscriber(db, shop)
    abandoned = datetime(2026, 11, 10, 22, 0, tzinfo=TOKYO)
    make_checkout(db, shop, customer, "tok-night", abandoned.astimezone(UTC))

    result = simulate(db, shop, CART, SINCE, UNTIL)

    entry = entry_for(result, customer)
    assert entry.outcome == "entered"
    step1 = entry.emails[0]
    assert step1.step == 1
    assert step1.due_at.astimezone(TOKYO) == datetime(2026, 11, 10, 23, 0, tzinfo=TOKYO)
    assert step1.would_send_at.astimezone(TOKYO) == datetime(2026, 11, 11, 9, 0, tzinfo=TOKYO)
    assert step1.deferred_by == "quiet_hours"
    assert [e.step for e in entry.emails] == [1, 2, 3]
    assert result.totals.quiet_hours_deferred == 3  # every step falls due at 22:00 or 23:00
    assert result.timezone == "Asia/Tokyo"


def test_a_second_cart_within_sixteen_hours_is_capped_and_deferred(db: Session) -> None:
    shop = new_shop(db, timezone="UTC")
    flow_settings(db, shop, CART, holdout_percent=0, quiet_hours=None)
    customer = subscriber(db, shop)
    first_cart = SINCE + timedelta(days=5, hours=10)
    make_checkout(db, shop, customer, "tok-a", first_cart)
    make_checkout(db, shop, customer, "tok-b", first_cart + timedelta(hours=4))

    result = simulate(db, shop, CART, SINCE, UNTIL)

    first, second = entry_for(result, customer, "tok-a"), entry_for(result, customer, "tok-b")
    sent_first = first.emails[0]
    assert (sent_first.would_send_at, sent_first.deferred_by) == (
        first_cart + timedelta(hours=1),
        "none",
    )
    held = second.emails[0]
    assert held.due_at == first_cart + timedelta(hours=5)
    assert held.would_send_at == sent_first.would_send_at + timedelta(hours=16)
    assert held.deferred_by == "cap"
    sends = sorted(e.would_send_at for entry in (first, second) for e in entry.emails)
    assert all(b - a >= timedelta(hours=16) for a, b in pairwise(sends))
    assert result.totals.capped >= 1


def test_a_held_out_customer_gets_no_email_and_others_do(db: Session) -> None:
    shop = new_shop(db, timezone="UTC")
    flow_settings(db, shop, CART, holdout_percent=10, quiet_hours=None)
    customers = [subscriber(db, shop) for _ in range(3)]
    while holdout_bucket(shop.id, CART, customers[-1].id) >= 10:
        customers.append(subscriber(db, shop))
    held_out = customers[-1]
    treated = next(c for c in customers if holdout_bucket(shop.id, CART, c.id) >= 10)
    start = SINCE + timedelta(days=1)
    make_checkout(db, shop, held_out, "tok-held", start)
    make_checkout(db, shop, treated, "tok-treated", start)

    result = simulate(db, shop, CART, SINCE, UNTIL)

    assert (entry_for(result, held_out).outcome, entry_for(result, held_out).emails) == (
        "held_out",
        [],
    )
    assert entry_for(result, treated).outcome == "entered"
    assert (result.totals.held_out, result.totals.entered) == (1, 1)


def test_customers_who_may_not_be_emailed_are_not_eligible(db: Session) -> None:
    shop = new_shop(db, timezone="UTC")
    flow_settings(db, shop, CART, holdout_percent=0)
    unsubscribed = make_customer(db, shop, email_marketing_state="UNSUBSCRIBED")
    suppressed = subscriber(db, shop)
    complaining = subscriber(db, shop)
    db.add(Suppression(shop_id=shop.id, email_normalized=suppressed.email_normalized, reason="b"))
    db.add(
        Inquiry(
            shop_id=shop.id,
            customer_id=complaining.id,
            channel="email",
            kind="complaint",
            status="open",
            subject="Broken teapot",
        )
    )
    db.commit()
    start = SINCE + timedelta(days=2)
    for customer in (unsubscribed, suppressed, complaining):
        make_checkout(db, shop, customer, f"tok-{customer.id}", start)
    make_checkout(db, shop, None, "tok-anonymous", start)

    result = simulate(db, shop, CART, SINCE, UNTIL)

    assert entry_for(result, unsubscribed).outcome == "not_eligible:no_consent"
    assert entry_for(result, suppressed).outcome == "not_eligible:suppressed"
    assert entry_for(result, complaining).outcome == "not_eligible:complaint_open"
    assert result.totals.not_eligible == {
        "no_consent": 1,
        "suppressed": 1,
        "complaint_open": 1,
        "no_email": 1,
    }
    assert (result.totals.entered, result.totals.emails) == (0, 0)


def test_the_backtest_applies_the_flows_audience(db: Session) -> None:
    shop = new_shop(db, timezone="UTC")
    segment = SavedSegment(
        shop_id=shop.id,
        name="Japan",
        rule={"match": "all", "rules": [{"field": "country", "op": "is", "value": "JP"}]},
    )
    db.add(segment)
    db.commit()
    flow_settings(
        db, shop, CART, holdout_percent=0, quiet_hours=None, audience_segment_id=segment.id
    )
    inside = subscriber(db, shop, country_code="JP")
    outside = subscriber(db, shop, country_code="US")
    start = SINCE + timedelta(days=2)
    for customer in (inside, outside):
        make_checkout(db, shop, customer, f"tok-{customer.id}", start)

    result = simulate(db, shop, CART, SINCE, UNTIL)

    assert entry_for(result, inside).outcome == "entered"
    assert entry_for(result, outside).outcome == "not_eligible:not_in_audience"
    assert result.totals.not_eligible == {"not_in_audience": 1}


def test_the_backtest_lets_a_waiting_cart_email_go_first(db: Session) -> None:
    shop = new_shop(db, timezone="UTC")
    flow_settings(db, shop, THANK_YOU, step_delay_hours=[2], holdout_percent=0, quiet_hours=None,
                  caps=[])  # fmt: skip
    customer = subscriber(db, shop)
    placed = SINCE + timedelta(days=2)
    make_order(db, shop, customer, "#2001", [("Tea", 1, "3000")], financial_status="paid",
               processed_at=placed)  # fmt: skip
    # A real cart email was waiting for this customer when the thank-you fell due.
    cart_run = FlowRun(shop_id=shop.id, flow_key=CART, customer_id=customer.id,
                       trigger_key="tok-wait", status="completed", started_at=placed)  # fmt: skip
    db.add(cart_run)
    db.flush()
    db.add(Message(shop_id=shop.id, flow_run_id=cart_run.id, step=1, customer_id=customer.id,
                   status="sent", attempts=1, created_at=placed + timedelta(hours=1),
                   sent_at=placed + timedelta(hours=2, minutes=3)))  # fmt: skip
    db.commit()

    result = simulate(db, shop, THANK_YOU, SINCE, UNTIL)

    [email] = entry_for(result, customer).emails
    assert email.due_at == placed + timedelta(hours=2)
    assert email.would_send_at == placed + timedelta(hours=2, minutes=5)
    assert email.deferred_by == "priority"


def test_winback_replays_a_daily_scan_over_thirty_days(db: Session) -> None:
    shop = new_shop(db, timezone="UTC")
    flow_settings(db, shop, WINBACK, **{**WINBACK_DEFAULTS, "holdout_percent": 0})

    def ordered(customer: Customer, *days_before_until: int) -> None:
        for days in days_before_until:
            make_order(db, shop, customer, f"#{customer.id}-{days}", [("Tea", 1, "3000")],
                       processed_at=UNTIL - timedelta(days=days))  # fmt: skip

    # Every 40 days, last 95 days ago: lapsing after max(60, 2 × 40) = 80 days, 15 days ago.
    lapsing = subscriber(db, shop)
    ordered(lapsing, 175, 135, 95)
    # Lapsed long before the window, back again 25 days ago: enters on day one, then exits.
    returning = subscriber(db, shop)
    ordered(returning, 300, 250, 200, 25)
    recent = subscriber(db, shop)
    ordered(recent, 60, 30, 10)

    result = simulate(db, shop, WINBACK, SINCE, UNTIL)

    assert {e.customer_id for e in result.entries} == {lapsing.id, returning.id}
    entered = entry_for(result, lapsing)
    assert entered.outcome == "entered"
    assert entered.started_at == UNTIL - timedelta(days=14)  # first daily scan past 80 days
    assert [(e.step, e.would_send_at) for e in entered.emails] == [
        (1, UNTIL - timedelta(days=14)),
        (2, UNTIL - timedelta(days=7)),
    ]
    back = entry_for(result, returning)
    assert back.started_at == SINCE
    assert (back.outcome, back.exited_before_step) == ("exited:ordered", 2)
    assert [e.step for e in back.emails] == [1]
    assert (result.totals.entered, result.totals.exited, result.totals.emails) == (2, 1, 3)


def test_a_paid_order_gets_a_thank_you_two_hours_later_unless_cancelled_or_unpaid(
    db: Session,
) -> None:
    shop = new_shop(db, timezone="Asia/Tokyo")
    # The defaults (2 hours after payment) with quiet hours 21:00–09:00 and no holdout.
    flow_settings(
        db, shop, THANK_YOU, **{**POST_PURCHASE_DEFAULTS[THANK_YOU], "holdout_percent": 0}
    )
    noon, evening, refunded_in_part = (subscriber(db, shop) for _ in range(3))
    pending, cancelled, refunded = (subscriber(db, shop) for _ in range(3))
    day = datetime(2026, 11, 12, 12, 0, tzinfo=TOKYO)

    def ordered(customer: Customer, name: str, placed: datetime, **values: Any) -> None:
        make_order(db, shop, customer, name, [("Tea", 1, "3000")],
                   processed_at=placed.astimezone(UTC), **values)  # fmt: skip

    ordered(noon, "#2001", day, financial_status="paid")
    ordered(evening, "#2002", day.replace(hour=20, minute=30), financial_status="PAID")
    ordered(
        refunded_in_part, "#2003", day + timedelta(days=1), financial_status="partially_refunded"
    )
    ordered(pending, "#2004", day, financial_status="pending")
    ordered(cancelled, "#2005", day, financial_status="paid", cancelled_at=day.astimezone(UTC))
    ordered(refunded, "#2006", day, financial_status="refunded")
    ordered(noon, "#2007", SINCE - timedelta(hours=3), financial_status="paid")  # before the window

    result = simulate(db, shop, THANK_YOU, SINCE, UNTIL)

    assert {e.trigger for e in result.entries} == {"order #2001", "order #2002", "order #2003"}
    [at_noon] = entry_for(result, noon).emails
    assert (at_noon.step, at_noon.deferred_by) == (1, "none")
    assert at_noon.due_at == at_noon.would_send_at == day + timedelta(hours=2)
    [at_night] = entry_for(result, evening).emails
    assert at_night.due_at.astimezone(TOKYO) == datetime(2026, 11, 12, 22, 30, tzinfo=TOKYO)
    assert at_night.would_send_at.astimezone(TOKYO) == datetime(2026, 11, 13, 9, 0, tzinfo=TOKYO)
    assert at_night.deferred_by == "quiet_hours"
    assert entry_for(result, refunded_in_part).outcome == "entered"
    assert (result.totals.entered, result.totals.emails, result.totals.quiet_hours_deferred) == (
        3,
        3,
        1,
    )


def test_a_fulfilled_order_gets_a_review_request_seven_days_later(db: Session) -> None:
    shop, hanako = setup_shop(db)
    # Placed before the window, fulfilled in it: the fulfilment counts.
    shipped = add_history(db, shop, str(CUSTOMER), 35, [BOWL], base=UNTIL)
    shipped.fulfilled_at = UNTIL - timedelta(days=20)
    # Fulfilled two days before the end: its request would go after the window.
    late = add_history(db, shop, str(CUSTOMER), 4, [TRAY], base=UNTIL)
    late.fulfilled_at = UNTIL - timedelta(days=2)
    unshipped = add_history(db, shop, str(CUSTOMER), 10, [BOWL], base=UNTIL)
    earlier = add_history(db, shop, str(CUSTOMER), 50, [BOWL], base=UNTIL)
    earlier.fulfilled_at = SINCE - timedelta(days=1)
    db.commit()

    result = simulate(db, shop, REVIEW_REQUEST, SINCE, UNTIL)

    assert [e.trigger for e in result.entries] == [
        f"order {shipped.external_id} fulfilled",
        f"order {late.external_id} fulfilled",
    ]
    first, second = result.entries
    assert (first.customer_id, first.started_at, first.outcome) == (
        hanako.id,
        UNTIL - timedelta(days=20),
        "entered",
    )
    [email] = first.emails
    assert email.due_at == email.would_send_at == UNTIL - timedelta(days=13)
    [after] = second.emails
    assert after.would_send_at == UNTIL + timedelta(days=5)  # listed, though after the window
    assert unshipped.fulfilled_at is None
    assert result.totals.emails == 2


def test_replenishment_comes_before_the_expected_reorder_and_exits_on_a_reorder(
    db: Session,
) -> None:
    shop, hanako = setup_shop(db)
    quick, newcomer, regular = (subscriber(db, shop, external_id=f"80{n}") for n in range(3))
    db.scalars(select(Product).where(Product.external_id == TRAY)).one().status = "archived"
    db.commit()

    def bought(customer: Customer, days_before_until: int, products: list[str]) -> Order:
        return add_history(db, shop, customer.external_id, days_before_until, products, base=UNTIL)

    # Hanako buys tea every 20 days: after her order 20 days ago she runs out now.
    bought(hanako, 60, [TEA])
    bought(hanako, 40, [TEA])
    rhythm = bought(hanako, 20, [TEA, BOWL])
    # The same rhythm, but re-ordered before the reminder: that run exits, the new one enters.
    bought(quick, 65, [TEA])
    bought(quick, 45, [TEA])
    early = bought(quick, 25, [TEA])
    again = bought(quick, 12, [TEA])
    # Another regular (every 30 days) makes tea a consumable for a first-time buyer.
    bought(regular, 100, [TEA])
    bought(regular, 70, [TEA])
    first_time = bought(newcomer, 10, [TEA])
    # A tray re-bought every 10 days, no longer on sale.
    bought(hanako, 29, [TRAY])
    tray = bought(hanako, 19, [TRAY])

    result = simulate(db, shop, REPLENISHMENT, SINCE, UNTIL)

    reminded = entry_of(result, reorder_label(rhythm))
    assert (reminded.customer_id, reminded.outcome) == (hanako.id, "entered")
    [email] = reminded.emails
    assert email.due_at == email.would_send_at == UNTIL - timedelta(days=3)
    assert reorder_label(rhythm, BOWL) not in {e.trigger for e in result.entries}  # bought once

    exited = entry_of(result, reorder_label(early))
    assert (exited.outcome, exited.exited_before_step, exited.emails) == (
        "exited:reordered",
        1,
        [],
    )
    [next_one] = entry_of(result, reorder_label(again)).emails
    assert next_one.due_at == UNTIL - timedelta(days=12) + timedelta(days=20 - 3)

    # Repeat buyers at her order's time: Hanako, quick and regular — median gap 20 days.
    [newcomer_email] = entry_of(result, reorder_label(first_time)).emails
    assert newcomer_email.due_at == UNTIL - timedelta(days=10) + timedelta(days=20 - 3)

    gone = entry_of(result, reorder_label(tray, TRAY))
    assert (gone.outcome, gone.emails) == ("exited:product_unavailable", [])
    assert result.totals.exited == 2


def test_a_real_email_of_another_flow_counts_and_nothing_is_written_or_queued(
    db: Session, runtime: Any
) -> None:
    shop = new_shop(db, timezone="UTC")
    flow_settings(db, shop, CART, holdout_percent=0, quiet_hours=None)
    customer = subscriber(db, shop)
    make_order(db, shop, customer, "#1", [("Tea", 1, "3000")],
               processed_at=UNTIL - timedelta(days=200))  # fmt: skip
    start = SINCE + timedelta(days=4)
    make_checkout(db, shop, customer, "tok-real", start)
    real_run = FlowRun(
        shop_id=shop.id,
        flow_key=WINBACK,
        customer_id=customer.id,
        trigger_key="lapse:1",
        status="completed",
        started_at=start,
    )
    db.add(real_run)
    db.flush()
    real_sent = start + timedelta(minutes=30)
    db.add(
        Message(
            shop_id=shop.id,
            flow_run_id=real_run.id,
            step=1,
            customer_id=customer.id,
            status="sent",
            sent_at=real_sent,
        )
    )
    db.commit()
    # A tea buyer in the window gives every post-purchase flow something to replay.
    buyer = subscriber(db, shop)
    db.add(Product(shop_id=shop.id, external_id=TEA, title=CATALOGUE[TEA][0], status="active"))
    for days in (25, 15):
        tea = add_history(db, shop, buyer.external_id, days, [TEA], base=UNTIL)
        tea.fulfilled_at = UNTIL - timedelta(days=days - 1)
    db.commit()
    Queue(EMAIL, connection=runtime.redis).enqueue_at(UNTIL, "jobs.sweeper.sweep_webhook_events")

    def counts() -> tuple[int, ...]:
        models = (FlowRun, Message, FlowSetting, Checkout, Order, Customer, Suppression, Product)
        return tuple(db.scalar(select(func.count()).select_from(m)) or 0 for m in models)

    before_rows = counts()
    before_redis = sorted(runtime.redis.keys("*"))
    before_queues = [Queue(name, connection=runtime.redis).count for name in (FLOWS, EMAIL)]
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        # Only the cart has a settings row: no other flow's row is created.
        results = {flow_key: simulate(db, shop, flow_key, SINCE, UNTIL) for flow_key in SIMULATORS}
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert not db.new
    assert not db.dirty
    assert not db.deleted
    db.commit()

    assert statements
    assert set(statements) == {"SELECT"}
    assert counts() == before_rows
    assert sorted(runtime.redis.keys("*")) == before_redis
    assert [Queue(n, connection=runtime.redis).count for n in (FLOWS, EMAIL)] == before_queues
    step1 = entry_for(results[CART], customer).emails[0]
    assert (step1.would_send_at, step1.deferred_by) == (real_sent + timedelta(hours=16), "cap")
    [lapse] = results[WINBACK].entries  # the default 10 % holdout may hold this customer out
    assert (lapse.customer_id, lapse.started_at) == (customer.id, SINCE)
    replayed = {
        key: [e.customer_id for e in results[key].entries] for key in POST_PURCHASE_DEFAULTS
    }
    assert replayed == {
        THANK_YOU: [buyer.id, buyer.id],
        REVIEW_REQUEST: [buyer.id, buyer.id],
        REPLENISHMENT: [buyer.id],  # the second tea order, 10 days after the first
    }


def test_the_command_prints_a_summary_and_refuses_unknown_flows_and_shops(
    db: Session, app: Any
) -> None:
    shop = new_shop(db, timezone="Asia/Tokyo")
    flow_settings(db, shop, CART, holdout_percent=0)
    customer = subscriber(db, shop, email="hanako@example.jp")
    make_checkout(db, shop, customer, "tok-cli", datetime.now(UTC) - timedelta(days=3))
    runner = CliRunner()
    base = ["flows", "simulate", "--shop", shop.domain]

    result = runner.invoke(main, [*base, "--flow", "cart", "--since", "30d"])
    assert result.exit_code == 0, result.output
    assert "cart flow replayed for sim-store.myshopify.com" in result.output
    assert "Nothing was sent." in result.output
    assert "entered" in result.output
    assert "held out" in result.output
    assert f"customer {customer.id}" in result.output
    assert "h***@example.jp" in result.output
    assert "hanako@example.jp" not in result.output
    assert "would-be emails (Asia/Tokyo):" in result.output
    assert "step 3" in result.output

    as_json = runner.invoke(main, [*base, "--flow", "cart", "--since", "96h", "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["totals"]["entered"] == 1
    assert data["entries"][0]["masked_email"] == "h***@example.jp"

    unknown_flow = runner.invoke(main, [*base, "--flow", "anniversary"])
    assert unknown_flow.exit_code == 2
    assert "unknown flow 'anniversary'" in unknown_flow.output
    known = (
        "cart, browse, back_in_stock, welcome, birthday, winback, thank_you, review_request, "
        "replenishment"
    )
    assert known in unknown_flow.output
    usage = runner.invoke(main, ["flows", "simulate", "--help"])
    assert all(flow_key in usage.output for flow_key in SIMULATORS), usage.output
    post_purchase = runner.invoke(main, [*base, "--flow", REVIEW_REQUEST])
    assert post_purchase.exit_code == 0, post_purchase.output
    assert "review_request flow replayed for sim-store.myshopify.com" in post_purchase.output
    assert "no email would have gone" in post_purchase.output
    unknown_shop = runner.invoke(
        main, ["flows", "simulate", "--shop", "nope.myshopify.com", "--flow", "cart"]
    )
    assert unknown_shop.exit_code == 2
    assert "no shop 'nope.myshopify.com' is connected" in unknown_shop.output
    bad_window = runner.invoke(main, [*base, "--flow", "cart", "--since", "2w"])
    assert bad_window.exit_code == 2
    assert "30d or 12h" in bad_window.output
