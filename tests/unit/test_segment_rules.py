"""Parsing and validation of segment rules: typed values, every problem at once, limits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from app.domain.segment_rules import (
    FIELDS,
    MAX_CONDITIONS,
    MAX_PROBLEMS,
    Condition,
    Group,
    RuleError,
    parse_rule,
)


def cond(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def problems(raw: Any) -> dict[str, str]:
    with pytest.raises(RuleError) as caught:
        parse_rule(raw)
    return {p.path: p.key for p in caught.value.problems}


def test_values_are_typed_and_canonical() -> None:
    rule = parse_rule(
        {
            "match": "any",
            "rules": [
                cond("total_spent", "gte", "1200.50"),
                cond("orders_count", "eq", "3"),
                cond("last_order_at", "before", "2026-01-31"),
                cond("first_order_at", "within_days", 30),
                cond("country", "is", " jp "),
                cond("probability_alive", "lt", 0.25),
                {"match": "all", "rules": [cond("rfm_group", "is_not", "lost")]},
            ],
        }
    )
    assert rule.match == "any"
    assert rule.rules[0] == Condition("total_spent", "gte", Decimal("1200.50"))
    assert rule.rules[1] == Condition("orders_count", "eq", 3)
    assert rule.rules[2] == Condition("last_order_at", "before", date(2026, 1, 31))
    assert rule.rules[3] == Condition("first_order_at", "within_days", 30)
    assert rule.rules[4] == Condition("country", "is", "JP")
    assert rule.rules[5] == Condition("probability_alive", "lt", 0.25)
    assert rule.rules[6] == Group("all", (Condition("rfm_group", "is_not", "lost"),))
    assert rule.to_json()["rules"][0] == {"field": "total_spent", "op": "gte", "value": "1200.50"}
    assert rule.to_json()["rules"][2]["value"] == "2026-01-31"
    assert parse_rule(rule.to_json()) == rule  # the stored form parses back to the same tree
    assert len(rule.conditions()) == 7


def test_empty_top_level_group_matches_everyone_but_nested_groups_need_rules() -> None:
    assert parse_rule({"match": "all", "rules": []}) == Group("all", ())
    assert problems({"match": "all", "rules": [{"match": "any", "rules": []}]}) == {
        "r-0": "segments.rule.empty_group"
    }


def test_every_problem_is_reported_with_its_path() -> None:
    found = problems(
        {
            "match": "some",
            "rules": [
                cond("nope", "is", 1),
                cond("tag", "gt", "vip"),
                cond("total_spent", "gt", "lots"),
                {"match": "all", "rules": [cond("country", "is", "Japan"), "text"]},
                cond("consent", "is", "maybe"),
                cond("last_order_at", "after", "31/01/2026"),
                cond("orders_count", "gte", -1),
                cond("rfm_group", "is", "vip"),
                cond("tag", "has", ""),
                cond("tag", "has", ["a"]),
            ],
        }
    )
    assert found == {
        "r-match": "segments.rule.match",
        "r-0-field": "segments.rule.unknown_field",
        "r-1-op": "segments.rule.unknown_op",
        "r-2-value": "segments.rule.number",
        "r-3-0-value": "segments.rule.country",
        "r-3-1": "segments.rule.not_object",
        "r-4-value": "segments.rule.choice",
        "r-5-value": "segments.rule.date",
        "r-6-value": "segments.rule.range",
        "r-7-value": "segments.rule.choice",
        "r-8-value": "segments.rule.required",
        "r-9-value": "segments.rule.scalar",
    }


@pytest.mark.parametrize(
    "value", [True, None, "NaN", "Infinity", "1e20", float("nan"), "12,5"], ids=repr
)
def test_bad_amounts_are_refused(value: Any) -> None:
    assert problems({"match": "all", "rules": [cond("total_spent", "gt", value)]})


def test_depth_is_limited_to_three_groups() -> None:
    deepest = {"match": "all", "rules": [cond("tag", "has", "vip")]}
    three = {"match": "all", "rules": [{"match": "any", "rules": [deepest]}]}
    assert parse_rule(three).rules[0].rules[0].rules[0] == Condition("tag", "has", "vip")  # type: ignore[union-attr]
    four = {
        "match": "all",
        "rules": [{"match": "any", "rules": [{"match": "all", "rules": [deepest]}]}],
    }
    assert problems(four) == {"r-0-0-0": "segments.rule.depth"}


def test_at_most_thirty_conditions() -> None:
    rules = [cond("orders_count", "gte", n) for n in range(MAX_CONDITIONS)]
    assert len(parse_rule({"match": "all", "rules": rules}).rules) == MAX_CONDITIONS
    nested = {"match": "all", "rules": [*rules[:20], {"match": "any", "rules": rules[:11]}]}
    assert problems(nested) == {"r": "segments.rule.too_many"}


@pytest.mark.parametrize("raw", [None, [], "all", {"match": "all", "rules": "x"}], ids=repr)
def test_not_a_rule(raw: Any) -> None:
    assert problems(raw)


def test_every_field_has_operators_and_parses() -> None:
    samples = {
        "money": "10",
        "count": 2,
        "date": "2026-01-01",
        "id": 5,
        "text": "vip",
        "country": "US",
        "score": 0.5,
    }
    for name, spec in FIELDS.items():
        for op in spec.ops:
            if spec.kind == "choice":
                value: Any = spec.choices[0]
            elif spec.kind == "date" and op in ("within_days", "over_days_ago"):
                value = 30
            else:
                value = samples[spec.kind]
            parsed = parse_rule({"match": "all", "rules": [cond(name, op, value)]})
            assert parsed.rules[0].field == name  # type: ignore[union-attr]


# --- bounds: a rule that parses can run -----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "op", "value", "key"),
    [
        ("last_order_at", "after", "9999-12-31", "segments.rule.range"),
        ("first_order_at", "before", "0001-01-01", "segments.rule.range"),
        ("expected_next_order_at", "before", "1899-12-31", "segments.rule.range"),
        ("last_order_at", "before", "2201-01-01", "segments.rule.range"),
        ("total_spent", "gte", "1E-999999", "segments.rule.places"),
        ("total_spent", "gte", "10.12345", "segments.rule.places"),
        ("predicted_clv", "gt", "1E+999999", "segments.rule.number"),
        ("total_spent", "gt", "1" * 3000, "segments.rule.too_long"),
        ("total_spent", "gt", 10**40, "segments.rule.number"),
        ("orders_count", "gt", 10**400, "segments.rule.number"),
        ("probability_alive", "gt", "1e10", "segments.rule.number"),
        ("tag", "has", "vip\x00", "segments.rule.characters"),
        ("collection_bought", "is", "c-\ud800", "segments.rule.characters"),
        ("tag", "has", "x" * 256, "segments.rule.too_long"),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_values_a_column_cannot_hold_are_refused(field: str, op: str, value: Any, key: str) -> None:
    assert problems({"match": "all", "rules": [cond(field, op, value)]}) == {"r-0-value": key}


def test_values_at_the_bounds_are_accepted() -> None:
    rule = parse_rule(
        {
            "match": "all",
            "rules": [
                cond("last_order_at", "after", "2200-12-31"),
                cond("first_order_at", "before", "1900-01-01"),
                cond("total_spent", "lt", "99999999999999.9999"),
                cond("predicted_clv", "gt", "-0.0001"),
                cond("probability_alive", "gt", "1E-999999"),  # no finer than a millionth
                cond("tag", "has", "x" * 255),
            ],
        }
    )
    values = [c.value for c in rule.conditions()]
    assert values[:4] == [
        date(2200, 12, 31),
        date(1900, 1, 1),
        Decimal("99999999999999.9999"),
        Decimal("-0.0001"),
    ]
    assert values[4] == 0.0


class Untouchable(dict[str, Any]):
    """A rule item that fails the test if the parser looks into it."""

    def __contains__(self, key: object) -> bool:
        raise AssertionError("item parsed before the size was checked")

    def get(self, *args: Any) -> Any:
        raise AssertionError("item parsed before the size was checked")


def test_the_size_is_checked_before_any_item_is_parsed() -> None:
    items = [Untouchable() for _ in range(100_000)]
    with pytest.raises(RuleError) as caught:
        parse_rule({"match": "all", "rules": items})
    assert [(p.path, p.key) for p in caught.value.problems] == [("r", "segments.rule.too_many")]
    # Groups count too: no valid rule has more than two groups per condition.
    groups = [{"match": "all", "rules": [{"match": "any", "rules": []}] * 29}] * 4
    assert problems({"match": "all", "rules": groups}) == {"r": "segments.rule.too_many"}


def test_at_most_the_first_few_problems_are_reported() -> None:
    rule = {"match": "all", "rules": [cond("tag", "gt", "x")] * MAX_CONDITIONS}
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert len(caught.value.problems) == MAX_PROBLEMS < MAX_CONDITIONS
    assert caught.value.problems[0].path == "r-0-op"
