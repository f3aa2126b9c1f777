"""The durable-goods rule and days of supply on small, hand-computable histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.durable_goods import (
    BY_COLLECTION,
    BY_PRODUCT_TYPE,
    CONSUMABLE,
    DURABLE,
    DefaultRule,
    DurableRule,
    RebuyCounts,
    default_kind,
    effective_kind,
    groups_of_product,
    rebuy_counts,
)
from app.domain.recommendations import (
    Purchase,
    choose,
    expected_reorder,
    recommend,
    supply_interval,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def test_rebuy_counts_count_customers_who_bought_from_a_group_on_two_occasions() -> None:
    groups = {
        "oven": ("collection:microwaves",),
        "mini": ("collection:microwaves",),
        "filter": ("collection:filters", "type:paper"),
    }
    history = [
        # Customer 1: an oven, then a different microwave a year later: a repeat of the group.
        Purchase(1, 1, "oven", day(0)),
        Purchase(1, 2, "mini", day(365)),
        # Customer 2: two microwaves in orders half a day apart: one occasion.
        Purchase(2, 3, "oven", day(10)),
        Purchase(2, 4, "mini", day(10.5)),
        # Customer 3: one microwave; filters twice.
        Purchase(3, 5, "mini", day(20)),
        Purchase(3, 5, "filter", day(20)),
        Purchase(3, 6, "filter", day(50)),
        # A guest buying microwaves counts for nothing.
        Purchase(None, 7, "oven", day(1)),
        Purchase(None, 8, "oven", day(90)),
        # A product in no group is ignored.
        Purchase(4, 9, "gift card", day(3)),
    ]
    counts = rebuy_counts(history, groups)
    assert counts == {
        "collection:microwaves": RebuyCounts(buyers=3, repeat_buyers=1),
        "collection:filters": RebuyCounts(buyers=1, repeat_buyers=1),
        "type:paper": RebuyCounts(buyers=1, repeat_buyers=1),
    }
    assert counts["collection:microwaves"].rate == 1 / 3


def test_defaults_follow_the_rebuy_rate_over_enough_buyers_and_the_merchant_wins() -> None:
    rule = DefaultRule(min_buyers=20, durable_below=0.1)
    assert default_kind(RebuyCounts(20, 1), rule) == DURABLE  # 5 %
    assert default_kind(RebuyCounts(20, 2), rule) == CONSUMABLE  # exactly 10 %
    assert default_kind(RebuyCounts(19, 0), rule) is None  # not enough data
    assert default_kind(None, rule) is None
    assert effective_kind(CONSUMABLE, RebuyCounts(40, 0), rule) == CONSUMABLE
    assert effective_kind(DURABLE, RebuyCounts(0, 0), rule) == DURABLE
    assert effective_kind("nonsense", RebuyCounts(40, 0), rule) == DURABLE
    assert effective_kind(None, RebuyCounts(3, 0), rule) is None


def test_a_product_is_grouped_by_its_collections_else_its_type() -> None:
    assert groups_of_product(["9", "3", "9"], "Oven", BY_COLLECTION) == (
        "collection:3",
        "collection:9",
    )
    assert groups_of_product([], " Oven ", BY_COLLECTION) == ("type:Oven",)
    assert groups_of_product(["9"], "Oven", BY_PRODUCT_TYPE) == ("type:Oven",)
    assert groups_of_product([], None, BY_COLLECTION) == ()
    assert groups_of_product([], "  ", BY_PRODUCT_TYPE) == ()


RULE = DurableRule(
    groups={
        "oven": ("collection:microwaves",),
        "mini": ("collection:microwaves",),
        "combi": ("collection:microwaves", "collection:sale"),
        "kettle": ("collection:sale",),
        "filter": ("collection:filters",),
    },
    durable=frozenset({"collection:microwaves"}),
    hold=timedelta(days=365),
)


def test_a_durable_purchase_holds_back_its_whole_group_for_the_period() -> None:
    owned = {"oven": day(0), "filter": day(0)}
    candidates = ["mini", "combi", "kettle", "filter", "oven"]
    intervals = {"filter": timedelta(days=30)}
    # Within the year: no microwave at all (not the oven, nor another one); the kettle is fine
    # though it shares a (consumable) collection with a microwave; the filters are not due.
    picks = choose(["oven"], candidates, owned, day(10), intervals=intervals, durables=RULE)
    assert picks == ["kettle"]
    # The filters come back when due, the microwaves still held back.
    picks = choose([], candidates, owned, day(30), intervals=intervals, durables=RULE)
    assert picks == ["kettle", "filter"]
    # After the hold: other microwaves again; the oven itself is owned and not consumable.
    picks = choose([], candidates, owned, day(365), intervals=intervals, durables=RULE, limit=5)
    assert picks == ["mini", "combi", "kettle", "filter"]
    # The control: without the rule a microwave follows a microwave.
    picks = choose(["oven"], candidates, owned, day(10), intervals=intervals)
    assert picks[:2] == ["mini", "combi"]


def test_the_hold_counts_from_the_latest_durable_purchase_of_the_group() -> None:
    owned = {"oven": day(0), "mini": day(200)}
    assert RULE.held_until(owned) == {"collection:microwaves": day(565)}
    assert RULE.holds_back("combi", RULE.held_until(owned), day(564))
    assert not RULE.holds_back("combi", RULE.held_until(owned), day(565))


def test_recommend_applies_the_rule_to_its_history() -> None:
    history = [
        Purchase(1, 1, "oven", day(0)),
        Purchase(1, 1, "mini", day(0)),
        Purchase(2, 2, "mini", day(1)),
        Purchase(3, 3, "kettle", day(2)),
    ]
    owned = {"oven": day(3)}
    assert recommend(["oven"], history, owned, day(3), intervals={}) == ["mini", "kettle"]
    assert recommend(["oven"], history, owned, day(3), intervals={}, durables=RULE) == ["kettle"]


def test_days_of_supply_start_replenishment_until_a_learned_interval_exists() -> None:
    assert supply_interval(30, 2) == timedelta(days=60)
    assert supply_interval(30, None) == timedelta(days=30)
    assert supply_interval(30, 0) == timedelta(days=30)
    assert supply_interval(None, 2) is None
    assert supply_interval(0, 2) is None
    supply = timedelta(days=60)
    # A first order: days of supply times the units.
    assert expected_reorder([day(5)], None, supply) == day(65)
    # The product's learned interval replaces it.
    assert expected_reorder([day(5)], timedelta(days=20), supply) == day(25)
    # The customer's own rhythm comes first.
    assert expected_reorder([day(0), day(10), day(20)], timedelta(days=20), supply) == day(30)
    assert expected_reorder([day(0), day(10)], None, supply) == day(20)
