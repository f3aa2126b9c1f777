"""Durable goods and days of supply, end to end: after buying one microwave a customer is
offered no microwave (any product of that durable collection) for the hold period, in the
thank-you email actually sent and in the recommendation function every email uses; consumables
still come back when due; a product with days of supply starts replenishment from its first
order, and its learned interval takes over once there is data. Real PostgreSQL and Redis, order
webhooks, the simulated SendGrid over HTTP.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.campaigns.recommend import recommended_ids
from app.domain.durable_goods import CONSUMABLE, DURABLE
from app.domain.orchestration import REPLENISHMENT, THANK_YOU
from app.flows import preview
from app.flows.post_purchase import refresh_history_stats
from app.flows.simulation import simulate
from app.models import Customer, Order
from app.models.recommendation_settings import ProductGroup
from app.queueing import EMAIL
from app.services import recommendation_settings
from app.services.recommendations import Request, recommend, recommend_one
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step
from tests.factories import cart_flow
from tests.factories.durable_goods import (
    FILTER,
    FILTERS,
    MICROWAVES,
    MINI,
    OVEN,
    RICE,
    RICE_COOKERS,
    SOAP,
    add_appliances,
    appliance_history,
)
from tests.factories.post_purchase import (
    CUSTOMER,
    add_history,
    deliver_order,
    now,
    order_body,
    runs,
    setup_shop,
)

sendgrid = cart_flow.sendgrid
config = cart_flow.config


def _shop_with_history(db: Session) -> Any:
    shop, hanako = setup_shop(db)
    add_appliances(db, shop)
    appliance_history(db, shop)
    # Hanako bought filters 40 days ago: due again (every 30 days).
    add_history(db, shop, str(CUSTOMER), 40, [FILTER])
    refresh_history_stats(db, shop.id)  # as the shop's daily job does
    return shop, hanako


def _mark(db: Session, shop_id: int, collection: str, kind: str | None) -> None:
    collections, types = recommendation_settings.groups(db, shop_id)
    form, errors = recommendation_settings.validate_groups(
        {
            "durable_hold_days": "365",
            "grouping": "collection",
            f"kind:collection:{collection}": kind or "",
        },
        [*collections, *types],
    )
    assert form is not None, errors
    recommendation_settings.save_groups(db, shop_id, form)
    db.commit()


def test_defaults_come_from_the_rebuy_rates(db: Session) -> None:
    shop, _hanako = _shop_with_history(db)
    collections, types = recommendation_settings.groups(db, shop.id)
    by_key = {row.key: row for row in collections}
    # Microwaves: 20 buyers, a1 bought a second one later: 1/20 = 5 % < 10 % → durable.
    microwaves = by_key[MICROWAVES]
    assert (microwaves.counts.buyers, microwaves.counts.repeat_buyers) == (20, 1)
    assert (microwaves.default, microwaves.effective, microwaves.products) == (DURABLE, DURABLE, 2)
    # Filters: a1…a4 every 30 days and Hanako once: 4 of 5, but 5 buyers are too few.
    filters = by_key[FILTERS]
    assert (filters.counts.buyers, filters.counts.repeat_buyers) == (5, 4)
    assert filters.default is None
    assert by_key[RICE_COOKERS].counts.buyers == 2
    # The type "家電" holds both microwaves and the rice cooker: the 20 microwave buyers (a5 and
    # a6 bought the rice cooker too); a1, a5 and a6 bought from it again: 3/20 = 15 % → consumable.
    appliances = {row.key: row for row in types}["家電"]
    assert (appliances.counts.buyers, appliances.counts.repeat_buyers) == (20, 3)
    assert appliances.counts.rate == 0.15
    assert appliances.default == CONSUMABLE
    # The merchant's mark wins, and the daily refresh keeps it.
    _mark(db, shop.id, MICROWAVES, CONSUMABLE)
    refresh_history_stats(db, shop.id)
    collections, _types = recommendation_settings.groups(db, shop.id)
    microwaves = {row.key: row for row in collections}[MICROWAVES]
    assert (microwaves.mark, microwaves.default, microwaves.effective) == (
        CONSUMABLE,
        DURABLE,
        CONSUMABLE,
    )


def test_after_a_microwave_the_thank_you_offers_no_microwave_but_the_due_filters(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, hanako = _shop_with_history(db)
    deliver_order(client, drain_jobs, order_body(880101, [OVEN]))
    [run] = runs(db, THANK_YOU)
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [sent] = sendgrid.outbox
    for body in (sent.html or "", sent.text or ""):
        assert "コーヒーフィルター 100枚" in body  # consumable, due again
        assert "炊飯器 RC-3" in body  # another collection
        assert "単機能レンジ MW-2" not in body  # the best seller, but a microwave
        assert "オーブンレンジ ER-1" not in body  # the order's own product
    assert "https://cdn.example/mini-mw2.jpg" not in (sent.html or "")

    # The same function, any caller: a customer without a microwave is offered the small one.
    moment = now()
    assert recommend_one(db, shop.id, Request(None, (RICE,)), moment) == [FILTER, MINI, OVEN]
    assert recommend_one(db, shop.id, Request(hanako.id, ()), moment) == [FILTER, RICE]
    # After the hold (365 days by default) microwaves come back.
    later = moment + timedelta(days=366)
    assert MINI in recommend_one(db, shop.id, Request(hanako.id, ()), later)
    # The hold is the shop's setting.
    recommendation_settings.save(db, shop.id, recommendation_settings.Settings(30, "collection"))
    db.commit()
    assert MINI not in recommend_one(db, shop.id, Request(hanako.id, ()), moment)
    assert MINI in recommend_one(db, shop.id, Request(hanako.id, ()), moment + timedelta(days=31))


def test_the_merchants_mark_wins_over_the_default(db: Session) -> None:
    shop, hanako = _shop_with_history(db)
    add_history(db, shop, str(CUSTOMER), 0, [OVEN])
    moment = now()
    assert MINI not in recommend_one(db, shop.id, Request(hanako.id, ()), moment)
    _mark(db, shop.id, MICROWAVES, CONSUMABLE)
    assert MINI in recommend_one(db, shop.id, Request(hanako.id, ()), moment)
    # Filters marked durable: bought 40 days ago, within the hold, so not offered though due.
    assert FILTER in recommend_one(db, shop.id, Request(hanako.id, ()), moment)
    _mark(db, shop.id, FILTERS, DURABLE)
    assert FILTER not in recommend_one(db, shop.id, Request(hanako.id, ()), moment)
    stored = db.scalars(
        select(ProductGroup).where(
            ProductGroup.shop_id == shop.id, ProductGroup.group_key == FILTERS
        )
    ).one()
    assert (stored.kind, stored.buyers) == (DURABLE, 5)  # the mark kept the counts


def test_a_batch_of_requests_costs_the_queries_of_one(db: Session) -> None:
    shop, _hanako = _shop_with_history(db)
    buyers = db.scalars(
        select(Customer.id).where(Customer.shop_id == shop.id).order_by(Customer.id)
    ).all()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        recommend(db, shop.id, {0: Request(buyers[0], (OVEN,))}, now())
        one = len(statements)
        statements.clear()
        many = {n: Request(customer_id, (OVEN,)) for n, customer_id in enumerate(buyers)}
        answers = recommend(db, shop.id, many, now())
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(answers) == len(buyers) > 20
    assert len(statements) == one


def test_days_of_supply_start_replenishment_and_the_learned_interval_replaces_them(
    client: Any, db: Session, drain_jobs: Any
) -> None:
    shop, _hanako = setup_shop(db)
    add_appliances(db, shop)
    recommendation_settings.save_supply(db, shop.id, {SOAP: 30})
    db.commit()
    # A first order of a product nobody has re-bought: two bottles, 30 days each.
    placed = now() - timedelta(hours=2)
    deliver_order(client, drain_jobs, order_body(880201, [SOAP], placed=placed, quantity=2))
    [first] = runs(db, REPLENISHMENT)
    order = db.scalars(select(Order).where(Order.external_id == "880201")).one()
    assert first.trigger_key == f"replenish:{SOAP}:{order.id}"
    lead = timedelta(days=3)
    assert first.next_step_at == placed + timedelta(days=60) - lead

    # The backtest replays the same decision.
    result = simulate(db, shop, REPLENISHMENT, placed - timedelta(hours=1), now())
    [entry] = [e for e in result.entries if e.trigger == f"product {SOAP} of order #880201"]
    [email] = entry.emails
    assert email.due_at == placed + timedelta(days=60) - lead

    # Three customers now re-buy it every 20 days: the learned interval replaces the supply.
    moment = now()
    for n in range(3):
        for days in (80, 60, 40):
            add_history(db, shop, f"s{n}", days, [SOAP], base=moment)
    refresh_history_stats(db, shop.id)
    body = order_body(880202, [SOAP], quantity=2)
    body["customer"] = {"id": 7002, "email": "taro@example.jp", "first_name": "太郎"}
    body["email"] = "taro@example.jp"
    deliver_order(client, drain_jobs, body)
    taro_order = db.scalars(select(Order).where(Order.external_id == "880202")).one()
    [taro_run] = [r for r in runs(db, REPLENISHMENT) if r.trigger_key.endswith(f":{taro_order.id}")]
    taro_placed = taro_order.processed_at
    assert taro_placed is not None
    taro = db.get_one(Customer, taro_order.customer_id)
    taro.email_marketing_state = "SUBSCRIBED"  # so the backtest replays a send
    db.commit()
    assert taro_run.next_step_at == taro_placed + timedelta(days=20) - lead
    result = simulate(db, shop, REPLENISHMENT, taro_placed - timedelta(hours=1), now())
    [entry] = [e for e in result.entries if e.trigger == f"product {SOAP} of order #880202"]
    assert entry.outcome == "entered", entry.outcome
    assert [email.due_at for email in entry.emails] == [taro_placed + timedelta(days=20) - lead]


def test_without_days_of_supply_a_first_order_starts_no_replenishment_nor_preview(
    client: Any, db: Session, drain_jobs: Any, runtime: Any, app: Any
) -> None:
    shop, hanako = setup_shop(db)
    add_appliances(db, shop)
    deliver_order(client, drain_jobs, order_body(880301, [SOAP]))
    assert runs(db, REPLENISHMENT) == []
    assert preview.preview_candidates(db, shop, REPLENISHMENT) == []
    # With days of supply, the flow's page previews the reminder for that first order.
    recommendation_settings.save_supply(db, shop.id, {SOAP: 30})
    db.commit()
    assert [c.id for c in preview.preview_candidates(db, shop, REPLENISHMENT)] == [hanako.id]
    target = preview.preview_target(db, shop, REPLENISHMENT, hanako)
    assert target is not None
    order = db.scalars(select(Order).where(Order.external_id == "880301")).one()
    assert target.trigger_key == f"replenish:{SOAP}:{order.id}"
    with app.app_context():
        [step] = preview.render_previews(db, runtime.config, shop, REPLENISHMENT, target, now())
    assert "食器用洗剤 500ml" in step.subject


def test_a_campaigns_recommended_grid_holds_back_the_durable_group_too(
    client: Any, db: Session, drain_jobs: Any
) -> None:
    shop, hanako = _shop_with_history(db)
    deliver_order(client, drain_jobs, order_body(880101, [OVEN]))

    [chosen] = recommended_ids(db, shop, [hanako.id], 3, now()).values()

    assert chosen
    assert MINI not in chosen  # another microwave, held back like in the thank-you
    assert OVEN not in chosen  # her own
    assert RICE in chosen  # another collection
