"""Saved segments: rule → one SQL filter, counts, members, flow audiences, CRUD and CSV.

Layer: services; writes in the caller's transaction. Scoped to one shop's live customers; never a
join over orders. A missing or unevaluable audience admits nobody, never everyone, and a rule that
fails runs in a savepoint and becomes a `RuleError`.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Boolean,
    ColumnElement,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.db import utcnow
from app.domain.segment_rules import (
    ROOT,
    Condition,
    Group,
    RuleError,
    RuleProblem,
    parse_rule,
    unstorable,
)
from app.formatting import minor_units
from app.i18n import translate
from app.models import (
    Customer,
    CustomerProduct,
    CustomerScore,
    Product,
    ProductCollection,
    SavedSegment,
    Shop,
)
from app.models.flow import FlowSetting
from app.models.segment import MAX_NAME
from app.services.shop_errors import nested, record_shop_error

log = logging.getLogger(__name__)
T = TypeVar("T")

AUDIENCE_KEY = "audience_segment_id"
CANNOT_RUN = "segments.rule.cannot_run"
EXPORT_BATCH = 1000
MAX_SEGMENTS_PER_SHOP = 200
CSV_COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "country",
    "orders",
    "total_spent",
    "last_order_at",
    "rfm_group",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_COMPARE = {
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "eq": lambda c, v: c == v,
}


# --- JSON list membership on PostgreSQL (json) and SQLite ------------------------------------


class json_list_has(FunctionElement[bool]):
    """True when the JSON array `column` holds the string `value` (NULL/absent array: false)."""

    type = Boolean()
    inherit_cache = True
    name = "json_list_has"


@compiles(json_list_has, "postgresql")
def _json_list_has_pg(element: json_list_has, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = list(element.clauses)
    return (
        f"COALESCE(CAST({compiler.process(column, **kw)} AS JSONB) @> "
        f"jsonb_build_array(CAST({compiler.process(value, **kw)} AS TEXT)), false)"
    )


@compiles(json_list_has, "sqlite")
def _json_list_has_sqlite(element: json_list_has, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = list(element.clauses)
    # Both parts are compiled SQL (a column and a bound parameter), never literal input.
    return (
        f"EXISTS (SELECT 1 FROM json_each({compiler.process(column, **kw)}) AS tag_item "  # noqa: S608
        f"WHERE tag_item.type = 'text' AND tag_item.value = {compiler.process(value, **kw)})"
    )


# --- rule → where-clause ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    shop_id: int
    zone: ZoneInfo
    now: datetime


def shop_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def live_customers(shop_id: int) -> ColumnElement[bool]:
    return and_(
        Customer.shop_id == shop_id, Customer.deleted_at.is_(None), Customer.redacted_at.is_(None)
    )


def customer_filter(
    shop_id: int,
    rule: Group | Mapping[str, Any],
    *,
    timezone: str | None = "UTC",
    now: datetime | None = None,
) -> ColumnElement[bool]:
    """The where-clause over `Customer` selecting the shop's live customers matching `rule`.

    `rule` is a parsed `Group` or its JSON (parsed here; `RuleError` when invalid). Calendar dates
    are read in `timezone` (the shop's); relative days count back from `now` (default: now).
    """
    group = rule if isinstance(rule, Group) else parse_rule(rule)
    context = _Context(shop_id, shop_zone(timezone), now or utcnow())
    return and_(live_customers(shop_id), _group_clause(group, context))


def _group_clause(group: Group, context: _Context) -> ColumnElement[bool]:
    parts = [
        _group_clause(rule, context) if isinstance(rule, Group) else _condition(rule, context)
        for rule in group.rules
    ]
    if not parts:
        return true()
    return and_(*parts) if group.match == "all" else or_(*parts)


def _day_start(day: date, context: _Context) -> datetime:
    return datetime.combine(day, time(0), tzinfo=context.zone)


def _date_clause(column: Any, op: str, value: Any, context: _Context) -> ColumnElement[bool]:
    if op == "before":
        return column < _day_start(value, context)
    if op == "after":
        return column >= _day_start(value + timedelta(days=1), context)
    moment = context.now - timedelta(days=int(value))
    if op == "within_days":
        return column >= moment
    return column < moment  # over_days_ago


def _bought(condition: ColumnElement[bool], context: _Context) -> ColumnElement[bool]:
    """The customer bought, in an order not cancelled, a product of this shop meeting
    `condition`: read from `customer_products` (kept current by the order upserts)."""
    return exists(
        select(1)
        .select_from(CustomerProduct)
        .join(
            Product,
            and_(
                Product.external_id == CustomerProduct.product_external_id,
                Product.shop_id == context.shop_id,
            ),
        )
        .where(
            CustomerProduct.shop_id == context.shop_id,
            CustomerProduct.customer_id == Customer.id,
            condition,
        )
    )


def _scored(condition: ColumnElement[bool], context: _Context) -> ColumnElement[bool]:
    return exists(
        select(1).where(
            CustomerScore.shop_id == context.shop_id,
            CustomerScore.customer_id == Customer.id,
            condition,
        )
    )


def _condition(rule: Condition, context: _Context) -> ColumnElement[bool]:
    name, op, value = rule.field, rule.op, rule.value
    if name == "total_spent":
        return _COMPARE[op](Customer.total_spent, value)
    if name == "orders_count":
        return _COMPARE[op](Customer.orders_count, value)
    if name in ("first_order_at", "last_order_at"):
        return _date_clause(getattr(Customer, name), op, value, context)
    if name == "product_bought":
        found = _bought(Product.id == value, context)
        return found if op == "is" else not_(found)
    if name == "collection_bought":
        in_collection = exists(
            select(1).where(
                ProductCollection.shop_id == context.shop_id,
                ProductCollection.product_id == Product.id,
                ProductCollection.collection_external_id == value,
            )
        )
        found = _bought(in_collection, context)
        return found if op == "is" else not_(found)
    if name == "tag":
        has = json_list_has(Customer.tags, value)
        return has if op == "has" else not_(has)
    if name == "country":
        if op == "is":
            return Customer.country_code == value
        return or_(Customer.country_code.is_(None), Customer.country_code != value)
    if name == "consent":
        state = func.upper(func.coalesce(Customer.email_marketing_state, ""))
        if value == "subscribed":
            return state == "SUBSCRIBED"
        if value == "unsubscribed":
            return state == "UNSUBSCRIBED"
        return state.not_in(("SUBSCRIBED", "UNSUBSCRIBED"))
    if name == "rfm_group":
        found = _scored(CustomerScore.rfm_group == value, context)
        return found if op == "is" else not_(found)
    if name in ("expected_orders_365", "probability_alive", "predicted_clv"):
        return _scored(_COMPARE[op](getattr(CustomerScore, name), value), context)
    if name == "expected_next_order_at":
        column = CustomerScore.expected_next_order_at
        if op == "within_days":
            window = and_(
                column >= context.now, column <= context.now + timedelta(days=int(str(value)))
            )
            return _scored(window, context)
        return _scored(_date_clause(column, op, value, context), context)
    return false()  # unreachable: parse_rule admits only the fields above


# --- counting and members --------------------------------------------------------------------


def _shop_timezone(session: Session, shop_id: int) -> str:
    return session.scalar(select(Shop.timezone).where(Shop.id == shop_id)) or "UTC"


def _where(
    session: Session, shop_id: int, rule: Group | Mapping[str, Any], now: datetime | None
) -> ColumnElement[bool]:
    """`customer_filter` in the shop's time zone; a rule that can't become SQL (a date out of
    range, say, in a rule saved before values were bounded) is a `RuleError`."""
    timezone = _shop_timezone(session, shop_id)
    try:
        return customer_filter(shop_id, rule, timezone=timezone, now=now)
    except RuleError:
        raise
    except (ArithmeticError, ValueError, TypeError) as error:
        raise RuleError([RuleProblem(ROOT, CANNOT_RUN)]) from error


def _guarded(session: Session, query: Callable[[], T]) -> T:
    """Run a rule's query in a savepoint: when the database (or binding a value) refuses it,
    only the savepoint is rolled back, and the failure is a `RuleError`."""
    try:
        with session.begin_nested():
            return query()
    except RuleError:
        raise
    except (StatementError, ArithmeticError, ValueError) as error:
        log.warning("segment rule failed to run error=%s", type(error).__name__)
        raise RuleError([RuleProblem(ROOT, CANNOT_RUN)]) from error


def count_matching(
    session: Session, shop_id: int, rule: Group | Mapping[str, Any], *, now: datetime | None = None
) -> int:
    """How many of the shop's live customers match `rule` (`RuleError` when invalid or when it
    can't be evaluated)."""
    where = _where(session, shop_id, rule, now)
    query = select(func.count()).select_from(Customer).where(where)
    return _guarded(session, lambda: session.scalar(query) or 0)


def matching_customer_ids(
    session: Session,
    shop_id: int,
    rule: Group | Mapping[str, Any],
    *,
    after: int | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Ids of the matching customers in id order, from after `after` (keyset), `limit` of them."""
    where = _where(session, shop_id, rule, now)
    query = select(Customer.id).where(where).order_by(Customer.id)
    if after is not None:
        query = query.where(Customer.id > after)
    if limit is not None:
        query = query.limit(limit)
    return _guarded(session, lambda: list(session.scalars(query)))


def matching_customers(
    session: Session,
    shop_id: int,
    rule: Group | Mapping[str, Any],
    *,
    after: int | None,
    limit: int,
) -> list[Customer]:
    """One keyset page of matching customers, in id order."""
    where = _where(session, shop_id, rule, None)
    query = select(Customer).where(where).order_by(Customer.id).limit(limit)
    if after is not None:
        query = query.where(Customer.id > after)
    return _guarded(session, lambda: list(session.scalars(query)))


@dataclass(frozen=True)
class Audience:
    """A flow's audience among some customers: `members` None is everyone; `unavailable` holds
    why the flow's segment can't be evaluated (then nobody is in it)."""

    members: set[int] | None
    unavailable: tuple[RuleProblem, ...] = ()

    def exit_reason(self, customer_id: int) -> str | None:
        """Why this customer may not be (or stay) in the flow, or None."""
        if self.unavailable:
            return "audience_unavailable"
        if self.members is not None and customer_id not in self.members:
            return "not_in_audience"
        return None


def in_audience(session: Session, shop_id: int, flow_key: str, customer_id: int) -> bool:
    """Whether the customer may enter the flow: everyone when the flow has no audience segment,
    nobody when its segment was deleted or can't be evaluated, else the segment's members."""
    audience = flow_audience(session, shop_id, flow_key, [customer_id])
    return audience.exit_reason(customer_id) is None


def flow_audience(
    session: Session,
    shop_id: int,
    flow_key: str,
    customer_ids: Collection[int],
    *,
    report: bool = True,
) -> Audience:
    """The flow's audience among `customer_ids`, in one query. A deleted segment admits nobody;
    a segment that can't be evaluated admits nobody either, and — with `report` (not for a
    read-only backtest) — the shop's last error says why (the caller's transaction is left
    usable and commits it)."""
    config = session.scalar(
        select(FlowSetting.config).where(
            FlowSetting.shop_id == shop_id, FlowSetting.flow_key == flow_key
        )
    )
    segment_id = (config or {}).get(AUDIENCE_KEY)
    if segment_id is None:
        return Audience(None)
    segment = get_segment(session, shop_id, segment_id) if isinstance(segment_id, int) else None
    if segment is None or not customer_ids:
        return Audience(set())
    try:
        where = _where(session, shop_id, segment.rule, None)
        query = select(Customer.id).where(where, Customer.id.in_(customer_ids))
        return Audience(_guarded(session, lambda: set(session.scalars(query))))
    except RuleError as error:
        if report:
            _report_unavailable(session, shop_id, flow_key, segment, error.problems)
        return Audience(set(), error.problems)


def unavailable_text(language: str, problems: Collection[RuleProblem]) -> str:
    """The reasons a segment can't be evaluated, as one line in `language`."""
    return " ".join(translate(language, p.key, **p.values) for p in list(problems)[:3])


def _report_unavailable(
    session: Session,
    shop_id: int,
    flow_key: str,
    segment: SavedSegment,
    problems: Collection[RuleProblem],
) -> None:
    log.warning(
        "flow audience unavailable shop_id=%s flow=%s segment_id=%s reason=%s",
        shop_id,
        flow_key,
        segment.id,
        ",".join(p.key for p in problems),
    )
    shop = session.get(Shop, shop_id)
    if shop is None:
        return
    code, params = (
        "flows.audience.unavailable_error",
        {
            "flow_key": f"flows.name.{flow_key}",
            "segment": segment.name,
            "reason_sentences": [
                nested(problem.key, **_plain_values(problem.values))
                for problem in list(problems)[:3]
            ],
        },
    )
    # One write per new problem, not one per webhook.
    if (shop.last_error_code, shop.last_error_params) != (code, params):
        record_shop_error(shop, code, **params)


def _plain_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A rule problem's values as JSON keeps them (numbers and text)."""
    return {
        name: value if isinstance(value, int | float | str) else str(value)
        for name, value in values.items()
    }


def missing_audience(session: Session, shop_id: int, config: Mapping[str, Any] | None) -> bool:
    """True when the flow names an audience segment that this shop no longer has."""
    segment_id = (config or {}).get(AUDIENCE_KEY)
    if segment_id is None:
        return False
    return not isinstance(segment_id, int) or get_segment(session, shop_id, segment_id) is None


def audience_problems(
    session: Session, shop_id: int, config: Mapping[str, Any] | None
) -> tuple[SavedSegment | None, tuple[RuleProblem, ...]]:
    """The flow's audience segment and why it can't be evaluated (no problems: it can, or the
    flow has none). Reads one member at most; writes nothing."""
    segment_id = (config or {}).get(AUDIENCE_KEY)
    segment = get_segment(session, shop_id, segment_id) if isinstance(segment_id, int) else None
    if segment is None:
        return None, ()
    try:
        matching_customer_ids(session, shop_id, segment.rule, limit=1)
    except RuleError as error:
        return segment, error.problems
    return segment, ()


# --- saved segments --------------------------------------------------------------------------


@dataclass
class SaveResult:
    segment: SavedSegment | None = None
    problems: list[RuleProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.segment is not None and not self.problems


def list_segments(session: Session, shop_id: int) -> list[SavedSegment]:
    return list(
        session.scalars(
            select(SavedSegment)
            .where(SavedSegment.shop_id == shop_id)
            .order_by(SavedSegment.name, SavedSegment.id)
        )
    )


def get_segment(session: Session, shop_id: int, segment_id: int) -> SavedSegment | None:
    if not 0 < segment_id < 2**31:
        return None
    return session.scalars(
        select(SavedSegment).where(SavedSegment.shop_id == shop_id, SavedSegment.id == segment_id)
    ).one_or_none()


def _name_problems(
    session: Session, shop_id: int, name: str, segment_id: int | None
) -> list[RuleProblem]:
    if not name:
        return [RuleProblem("name", "segments.rule.required")]
    if len(name) > MAX_NAME:
        return [RuleProblem("name", "segments.rule.too_long", {"max": MAX_NAME})]
    if unstorable(name):
        return [RuleProblem("name", "segments.rule.characters")]
    taken = session.scalar(
        select(SavedSegment.id).where(SavedSegment.shop_id == shop_id, SavedSegment.name == name)
    )
    if taken is not None and taken != segment_id:
        return [RuleProblem("name", "segments.saved.name_taken")]
    return []


def save_segment(
    session: Session,
    shop_id: int,
    name: str,
    rule: Any,
    segment_id: int | None = None,
) -> SaveResult:
    """Create (or, with `segment_id`, update) a saved segment; flushes, never commits."""
    name = " ".join(str(name or "").split())
    problems = _name_problems(session, shop_id, name, segment_id)
    group: Group | None = None
    try:
        group = parse_rule(rule)
    except RuleError as error:
        problems.extend(error.problems)
    segment = get_segment(session, shop_id, segment_id) if segment_id is not None else None
    if segment_id is not None and segment is None:
        problems.append(RuleProblem("segment", "segments.saved.not_found"))
    if segment_id is None:
        existing = session.scalar(
            select(func.count()).select_from(SavedSegment).where(SavedSegment.shop_id == shop_id)
        )
        if (existing or 0) >= MAX_SEGMENTS_PER_SHOP:
            problems.append(
                RuleProblem("name", "segments.saved.too_many", {"max": MAX_SEGMENTS_PER_SHOP})
            )
    if problems or group is None:
        return SaveResult(None, problems)
    if segment is None:
        segment = SavedSegment(shop_id=shop_id)
        session.add(segment)
    segment.name = name
    segment.rule = group.to_json()
    segment.updated_at = utcnow()
    try:
        session.flush()
    except IntegrityError:  # the same name saved concurrently
        session.rollback()
        return SaveResult(None, [RuleProblem("name", "segments.saved.name_taken")])
    return SaveResult(segment, [])


def delete_segment(session: Session, shop_id: int, segment_id: int) -> bool:
    """Delete the shop's segment; False when there is none. Flows using it then reach nobody."""
    segment = get_segment(session, shop_id, segment_id)
    if segment is None:
        return False
    session.delete(segment)
    session.flush()
    return True


def flows_using(session: Session, shop_id: int, segment_id: int) -> list[str]:
    """Keys of the shop's flows whose audience is this segment."""
    rows = session.execute(
        select(FlowSetting.flow_key, FlowSetting.config).where(FlowSetting.shop_id == shop_id)
    )
    return [key for key, config in rows if (config or {}).get(AUDIENCE_KEY) == segment_id]


# --- CSV export ------------------------------------------------------------------------------


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will not run as a formula: text starting with = + - @ is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()


def export_csv(
    session: Session,
    shop_id: int,
    rule: Group | Mapping[str, Any],
    *,
    batch_size: int = EXPORT_BATCH,
    now: datetime | None = None,
) -> Iterator[str]:
    """The matching customers as CSV lines (header first), read in keyset batches of ids.

    The first batch is read before this returns, so a rule that can't be evaluated is a
    `RuleError` here rather than a broken download. Text cells from the store's data go through
    `csv_safe`; numbers and times are written by us.
    """
    where = _where(session, shop_id, rule, now)

    def batch(after: int) -> list[Any]:
        query = (
            select(
                Customer.id,
                Customer.email,
                Customer.first_name,
                Customer.last_name,
                Customer.country_code,
                Customer.orders_count,
                Customer.total_spent,
                Customer.currency,
                Customer.last_order_at,
                CustomerScore.rfm_group,
            )
            .outerjoin(
                CustomerScore,
                and_(CustomerScore.customer_id == Customer.id, CustomerScore.shop_id == shop_id),
            )
            .where(where, Customer.id > after)
            .order_by(Customer.id)
            .limit(batch_size)
        )
        return _guarded(session, lambda: list(session.execute(query).all()))

    return _csv_lines(batch(0), batch, batch_size)


def _csv_lines(
    rows: list[Any], batch: Callable[[int], list[Any]], batch_size: int
) -> Iterator[str]:
    yield _csv_line(list(CSV_COLUMNS))
    while True:
        for row in rows:
            spent = Decimal(row.total_spent if row.total_spent is not None else 0)
            cents = Decimal(1).scaleb(-minor_units(row.currency or "USD"))
            yield _csv_line(
                [
                    str(row.id),
                    csv_safe(row.email),
                    csv_safe(row.first_name),
                    csv_safe(row.last_name),
                    csv_safe(row.country_code),
                    str(row.orders_count or 0),
                    str(spent.quantize(cents, rounding=ROUND_HALF_UP)),
                    row.last_order_at.isoformat() if row.last_order_at else "",
                    csv_safe(row.rfm_group),
                ]
            )
        if len(rows) < batch_size:
            return
        rows = batch(rows[-1].id)
