"""Segment rules: parse and validate a rule JSON into a typed tree of groups and conditions.

Layer: domain (pure). Size is checked before any item is parsed and every value is bounded, so a
rule that parses can run; problems are `RuleProblem`s (node path and i18n key), the first
`MAX_PROBLEMS` at once. `Group.to_json()` is the canonical stored form.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from app.domain.rfm import GROUP_KEYS

MAX_DEPTH = 3
MAX_CONDITIONS = 30
# Groups and conditions together: a valid rule has at most two groups above each condition.
MAX_NODES = 3 * MAX_CONDITIONS
MAX_PROBLEMS = 20
MAX_DAYS = 36_500
# Money columns are NUMERIC(18, 4) (`app.db.Money`): 14 digits before the point, 4 after.
MAX_AMOUNT = Decimal("1e14")
AMOUNT_PLACES = 4
# Scores are floats between 0 and a few thousand; finer than six places means nothing.
MAX_SCORE = Decimal("1e9")
SCORE_PLACES = Decimal("1e-6")
MAX_COUNT = 10_000_000
MAX_TEXT = 255
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2200, 12, 31)
ROOT = "r"

Match = Literal["all", "any"]
Value = Decimal | int | float | date | str

COMPARISONS = ("gt", "gte", "lt", "lte", "eq")
SCORE_COMPARISONS = ("gt", "gte", "lt", "lte")
ORDER_DATE_OPS = ("before", "after", "within_days", "over_days_ago")
NEXT_ORDER_OPS = ("before", "after", "within_days")
DAY_OPS = ("within_days", "over_days_ago")
CONSENT_STATES = ("subscribed", "not_subscribed", "unsubscribed")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_INTEGER = re.compile(r"^-?[0-9]{1,12}$")
# C0/C1 controls (NUL is refused by PostgreSQL text) and lone surrogates (not encodable in UTF-8).
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class FieldSpec:
    """What a field accepts: its operators and the kind of value each operator takes."""

    ops: tuple[str, ...]
    kind: Literal["money", "count", "date", "id", "text", "country", "choice", "score"]
    choices: tuple[str, ...] = ()


FIELDS: dict[str, FieldSpec] = {
    "total_spent": FieldSpec(COMPARISONS, "money"),
    "orders_count": FieldSpec(COMPARISONS, "count"),
    "first_order_at": FieldSpec(ORDER_DATE_OPS, "date"),
    "last_order_at": FieldSpec(ORDER_DATE_OPS, "date"),
    "product_bought": FieldSpec(("is", "is_not"), "id"),
    "collection_bought": FieldSpec(("is", "is_not"), "text"),
    "tag": FieldSpec(("has", "has_not"), "text"),
    "country": FieldSpec(("is", "is_not"), "country"),
    "consent": FieldSpec(("is",), "choice", CONSENT_STATES),
    "rfm_group": FieldSpec(("is", "is_not"), "choice", GROUP_KEYS),
    "expected_orders_365": FieldSpec(SCORE_COMPARISONS, "score"),
    "probability_alive": FieldSpec(SCORE_COMPARISONS, "score"),
    "predicted_clv": FieldSpec(SCORE_COMPARISONS, "money"),
    "expected_next_order_at": FieldSpec(NEXT_ORDER_OPS, "date"),
}
FIELD_NAMES = tuple(FIELDS)


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Value

    def to_json(self) -> dict[str, Any]:
        value: Any = self.value
        if isinstance(value, Decimal | date):
            value = str(value) if isinstance(value, Decimal) else value.isoformat()
        return {"field": self.field, "op": self.op, "value": value}


@dataclass(frozen=True)
class Group:
    match: Match
    rules: tuple[Group | Condition, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"match": self.match, "rules": [rule.to_json() for rule in self.rules]}

    def conditions(self) -> list[Condition]:
        """Every condition of the tree, depth first."""
        found: list[Condition] = []
        for rule in self.rules:
            found.extend(rule.conditions() if isinstance(rule, Group) else [rule])
        return found


EVERYONE = Group("all", ())


@dataclass(frozen=True)
class RuleProblem:
    """`path` names the node and part (`r-0-value`, `r-1-match`, `r` for the whole rule)."""

    path: str
    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


class RuleError(ValueError):
    """The rule is not valid; `problems` lists the reasons (at most `MAX_PROBLEMS` of them)."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.problems = tuple(problems[:MAX_PROBLEMS])
        super().__init__("; ".join(f"{p.path}: {p.key}" for p in self.problems))


def unstorable(text: str) -> bool:
    """Whether `text` holds characters a text column can't store (control, lone surrogate)."""
    return _UNSTORABLE.search(text) is not None


def parse_rule(raw: Any) -> Group:
    """The rule JSON → a `Group` tree, or `RuleError` with the problems found.

    The size is checked first, without parsing any item: a rule with too many conditions or
    groups is refused for that alone, so its cost never grows with what was sent."""
    conditions, nodes = _size(raw, 1)
    if conditions > MAX_CONDITIONS or nodes > MAX_NODES:
        raise RuleError(
            [
                RuleProblem(
                    ROOT, "segments.rule.too_many", {"max": MAX_CONDITIONS, "count": conditions}
                )
            ]
        )
    problems: list[RuleProblem] = []
    group = _parse_group(raw, ROOT, 1, problems)
    if problems or group is None:
        raise RuleError(problems or [RuleProblem(ROOT, "segments.rule.not_object")])
    return group


def _is_group(item: Any) -> bool:
    return isinstance(item, Mapping) and ("rules" in item or "match" in item)


def _size(raw: Any, depth: int) -> tuple[int, int]:
    """(conditions, nodes) of a rule, counted without parsing and without going deeper than
    `MAX_DEPTH`; a list longer than the limits counts as its length and is not looked into."""
    rules = raw.get("rules") if isinstance(raw, Mapping) else None
    if not isinstance(rules, list):
        return 0, 0
    if len(rules) > MAX_NODES:
        return len(rules), len(rules)
    conditions = nodes = 0
    for item in rules:
        nodes += 1
        if not _is_group(item):
            conditions += 1
        elif depth < MAX_DEPTH:
            inner_conditions, inner_nodes = _size(item, depth + 1)
            conditions, nodes = conditions + inner_conditions, nodes + inner_nodes
        if nodes > MAX_NODES:
            break
    return conditions, nodes


def _parse_group(raw: Any, path: str, depth: int, problems: list[RuleProblem]) -> Group | None:
    if not isinstance(raw, Mapping):
        problems.append(RuleProblem(path, "segments.rule.not_object"))
        return None
    match = raw.get("match")
    if match not in ("all", "any"):
        problems.append(RuleProblem(f"{path}-match", "segments.rule.match"))
    rules = raw.get("rules", [])
    if not isinstance(rules, list):
        problems.append(RuleProblem(path, "segments.rule.not_list"))
        return None
    if not rules and path != ROOT:
        problems.append(RuleProblem(path, "segments.rule.empty_group"))
    parsed: list[Group | Condition] = []
    for index, item in enumerate(rules):
        child = f"{path}-{index}"
        if _is_group(item):
            if depth >= MAX_DEPTH:
                problems.append(RuleProblem(child, "segments.rule.depth", {"max": MAX_DEPTH}))
                continue
            group = _parse_group(item, child, depth + 1, problems)
            if group is not None:
                parsed.append(group)
        else:
            condition = _parse_condition(item, child, problems)
            if condition is not None:
                parsed.append(condition)
    if match not in ("all", "any"):
        return None
    return Group(match, tuple(parsed))


def _parse_condition(raw: Any, path: str, problems: list[RuleProblem]) -> Condition | None:
    if not isinstance(raw, Mapping):
        problems.append(RuleProblem(path, "segments.rule.not_object"))
        return None
    name = raw.get("field")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None or not isinstance(name, str):
        problems.append(RuleProblem(f"{path}-field", "segments.rule.unknown_field"))
        return None
    op = raw.get("op")
    if not isinstance(op, str) or op not in spec.ops:
        problems.append(RuleProblem(f"{path}-op", "segments.rule.unknown_op"))
        return None
    value, problem = parse_value(spec, op, raw.get("value"))
    if problem is not None:
        key, values = problem
        problems.append(RuleProblem(f"{path}-value", key, values))
        return None
    if value is None:
        return None
    return Condition(name, op, value)


def parse_value(
    spec: FieldSpec, op: str, raw: Any
) -> tuple[Value | None, tuple[str, dict[str, Any]] | None]:
    """One condition's value → (typed value, None) or (None, (i18n key, values)).

    Lengths and magnitudes are checked before a value is converted, and every accepted value
    fits the column it is compared with."""
    if raw is None or isinstance(raw, bool) or (isinstance(raw, str) and not raw.strip()):
        return None, ("segments.rule.required", {})
    if isinstance(raw, list | dict):
        return None, ("segments.rule.scalar", {})
    if isinstance(raw, int) and not -MAX_AMOUNT < raw < MAX_AMOUNT:
        return None, ("segments.rule.number", {})
    if isinstance(raw, float) and not math.isfinite(raw):
        return None, ("segments.rule.number", {})
    if not isinstance(raw, str | int | float):
        return None, ("segments.rule.scalar", {})
    if isinstance(raw, str) and len(raw) > MAX_TEXT:
        return None, ("segments.rule.too_long", {"max": MAX_TEXT})
    text = str(raw).strip()
    if unstorable(text):
        return None, ("segments.rule.characters", {})
    if spec.kind == "date" and op in DAY_OPS:
        return _integer(text, 0, MAX_DAYS)
    if spec.kind == "date":
        return _date(text)
    if spec.kind == "money":
        return _decimal(text, MAX_AMOUNT, AMOUNT_PLACES)
    if spec.kind == "score":
        score, problem = _decimal(text, MAX_SCORE, None)
        return (None, problem) if score is None else (float(score.quantize(SCORE_PLACES)), None)
    if spec.kind == "count":
        return _integer(text, 0, MAX_COUNT)
    if spec.kind == "id":
        return _integer(text, 1, 2**31 - 1)
    if spec.kind == "country":
        code = text.upper()
        if not _COUNTRY.match(code):
            return None, ("segments.rule.country", {})
        return code, None
    if spec.kind == "choice":
        if text not in spec.choices:
            return None, ("segments.rule.choice", {})
        return text, None
    return text, None


def _date(text: str) -> tuple[date | None, tuple[str, dict[str, Any]] | None]:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None, ("segments.rule.date", {})
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        low, high = EARLIEST_DATE.isoformat(), LATEST_DATE.isoformat()
        return None, ("segments.rule.range", {"low": low, "high": high})
    return day, None


def _decimal(
    text: str, limit: Decimal, places: int | None
) -> tuple[Decimal | None, tuple[str, dict[str, Any]] | None]:
    """A number below `limit` in magnitude with at most `places` decimals (when given), so that
    `1E-999999` is refused here rather than by the database."""
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None, ("segments.rule.number", {})
    if not number.is_finite() or abs(number) >= limit:
        return None, ("segments.rule.number", {})
    # Below `limit`, with `places` decimals, is at most 20 digits: quantize stays exact.
    if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
        return None, ("segments.rule.places", {"max": places})
    return number, None


def _integer(
    text: str, low: int, high: int
) -> tuple[int | None, tuple[str, dict[str, Any]] | None]:
    if not _INTEGER.match(text):
        return None, ("segments.rule.integer", {})
    number = int(text)
    if not low <= number <= high:
        return None, ("segments.rule.range", {"low": low, "high": high})
    return number, None
