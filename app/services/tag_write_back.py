"""Segments written back to the platform: RFM group, predicted-value band and chosen saved
segments as Shopify customer tags or WooCommerce customer meta.

Layer: services. A run walks the shop's customers in id order, a page at a time, and sends only
the difference between the tags a customer should carry and those Kizuna last wrote
(`CustomerPlatformTags`), so tags of the merchant's own are never touched and a customer who
leaves a segment loses its tag. Progress is committed per page: a run interrupted anywhere (a
lost worker, a platform outage) resumes after the last finished page. Rate limits are the
clients' (Shopify's cost bucket) plus a pause between WooCommerce writes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.segment_rules import RuleError
from app.kizuna import Kizuna
from app.models import Customer, CustomerScore, SavedSegment, Shop
from app.models.tag_write_back import MAX_PREFIX, CustomerPlatformTags, TagWriteBack
from app.queueing import enqueue_after_commit, job_id
from app.services.segments import customer_filter
from app.services.shop_errors import nested, problem_columns, record_shop_error, store_refusal
from app.services.shop_tokens import shopify_client
from app.services.woocommerce_install import woocommerce_client
from app.tasks import TAG_WRITE_BACK
from connectors.base import AuthenticationError, ConnectorError, RetryableError
from connectors.shopify.consent import customer_gid
from connectors.shopify.tags import MAX_TAG_LENGTH, add_tags, remove_tags
from connectors.woocommerce.consent import is_registered
from connectors.woocommerce.tags import write_segment_tags

log = logging.getLogger(__name__)

PAGE_SIZE = 200
RUN_BUDGET_SECONDS = 300.0  # then the run continues in a fresh job, so other work gets a turn
WOOCOMMERCE_PAUSE_SECONDS = 0.05  # at most ~20 customer writes a second to a merchant's server
# Predicted-value bands: the top fifth of predicted lifetime value is "high", the next
# three tenths "medium", the rest "low".
VALUE_BANDS = (("high", 0.2), ("medium", 0.5))
_PREFIX = re.compile(rf"^[^\s,]{{1,{MAX_PREFIX}}}$")
_SPACES = re.compile(r"\s+")


class SettingsError(ValueError):
    """A setting the merchant must correct; `problem` is a key of `app.i18n` messages."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class Settings:
    enabled: bool
    prefix: str
    include_rfm: bool
    include_value_band: bool
    segment_ids: tuple[int, ...]


class TagWriter(Protocol):
    """Writes one customer's Kizuna tags to the platform (`desired` is the whole new set)."""

    def __call__(
        self, external_id: str, add: set[str], remove: set[str], desired: set[str]
    ) -> None: ...


# ---- settings and starting a run ------------------------------------------------------------


def settings_row(session: Session, shop_id: int) -> TagWriteBack:
    """The shop's write-back row, created (with write-back off) on first use; not committed."""
    row = session.get(TagWriteBack, shop_id)
    if row is None:
        row = TagWriteBack(shop_id=shop_id, enabled=False, segment_ids=[], value_thresholds={})
        session.add(row)
        session.flush()
    return row


def save_settings(session: Session, shop_id: int, settings: Settings) -> TagWriteBack:
    """Validate and store `settings`; the caller starts a run. `SettingsError` on bad input."""
    prefix = settings.prefix.strip()
    if not _PREFIX.match(prefix):
        raise SettingsError("write_back.bad_prefix")
    owned = set(
        session.scalars(
            select(SavedSegment.id).where(
                SavedSegment.shop_id == shop_id, SavedSegment.id.in_(settings.segment_ids)
            )
        )
    )
    if owned != set(settings.segment_ids):
        raise SettingsError("write_back.unknown_segment")
    row = settings_row(session, shop_id)
    row.enabled = settings.enabled
    row.prefix = prefix
    row.include_rfm = settings.include_rfm
    row.include_value_band = settings.include_value_band
    row.segment_ids = sorted(owned)
    return row


def start_run(session: Session, runtime: Kizuna, shop_id: int) -> TagWriteBack:
    """Begin a run from the first customer (a running one is superseded) and enqueue it once
    the caller commits. A run with write-back off removes every tag Kizuna wrote."""
    row = settings_row(session, shop_id)
    started = utcnow()
    row.status = "running"
    row.cursor_customer_id = 0
    row.customers_checked = row.customers_changed = row.customers_failed = 0
    row.total_customers = (
        session.scalar(select(func.count()).where(Customer.shop_id == shop_id)) or 0
    )
    row.value_thresholds = _value_thresholds(session, shop_id)
    row.run_started_at, row.run_finished_at, row.last_error = started, None, None
    token = run_token(started)
    enqueue_after_commit(
        session,
        runtime.redis,
        TAG_WRITE_BACK,
        shop_id,
        token,
        job_id=job_id("tag-write-back", shop_id, token, 0),
    )
    return row


def start_if_enabled(session: Session, runtime: Kizuna, shop_id: int) -> bool:
    """After nightly scoring: a fresh run for a shop that writes back; the caller commits."""
    row = session.get(TagWriteBack, shop_id)
    if row is None or not row.enabled:
        return False
    start_run(session, runtime, shop_id)
    return True


def run_token(started: datetime) -> str:
    """Names one run: a job of an older run stops at its next page."""
    return started.strftime("%Y%m%dT%H%M%S%f")


# ---- which tags a customer should carry ---------------------------------------------------------


def tag_name(prefix: str, kind: str, key: str) -> str:
    """`kizuna-rfm-champions`, `kizuna-value-high`, `kizuna-segment-vip-tokyo`."""
    slug = _SPACES.sub("-", key.strip().lower().replace("_", "-")).replace(",", "")
    return f"{prefix}{kind}-{slug}"[:MAX_TAG_LENGTH]


def _value_thresholds(session: Session, shop_id: int) -> dict[str, str]:
    """The predicted lifetime value at the top of each band's share, fixed for the whole run."""
    scored = select(CustomerScore.predicted_clv).where(CustomerScore.shop_id == shop_id)
    count = session.scalar(select(func.count()).select_from(scored.subquery())) or 0
    thresholds: dict[str, str] = {}
    if count == 0:
        return thresholds
    for band, share in VALUE_BANDS:
        offset = min(count - 1, max(0, int(count * share) - 1))
        value = session.scalar(
            scored.order_by(CustomerScore.predicted_clv.desc()).offset(offset).limit(1)
        )
        thresholds[band] = str(value if value is not None else 0)
    return thresholds


def value_band(clv: Decimal | None, thresholds: Mapping[str, str]) -> str | None:
    if clv is None or not thresholds:
        return None
    for band, _share in VALUE_BANDS:
        limit = Decimal(thresholds.get(band, "0"))
        if clv > 0 and clv >= limit:
            return band
    return "low"


def desired_tags(
    session: Session, shop: Shop, row: TagWriteBack, customer_ids: Sequence[int]
) -> tuple[dict[int, set[str]], list[str]]:
    """The tags each of `customer_ids` (live customers of `shop`) should carry, and the names
    of chosen segments whose rule could not be evaluated (their tags are left as they are)."""
    wanted: dict[int, set[str]] = {customer_id: set() for customer_id in customer_ids}
    broken: list[str] = []
    if not row.enabled or not customer_ids:
        return wanted, broken
    if row.include_rfm or row.include_value_band:
        scores = session.execute(
            select(
                CustomerScore.customer_id, CustomerScore.rfm_group, CustomerScore.predicted_clv
            ).where(CustomerScore.shop_id == shop.id, CustomerScore.customer_id.in_(customer_ids))
        )
        for customer_id, group, clv in scores:
            if row.include_rfm and group:
                wanted[customer_id].add(tag_name(row.prefix, "rfm", group))
            band = value_band(clv, row.value_thresholds) if row.include_value_band else None
            if band:
                wanted[customer_id].add(tag_name(row.prefix, "value", band))
    segments = session.scalars(
        select(SavedSegment).where(
            SavedSegment.shop_id == shop.id, SavedSegment.id.in_(row.segment_ids or [])
        )
    ).all()
    for segment in segments:
        try:
            where = customer_filter(shop.id, segment.rule, timezone=shop.timezone)
            members = session.scalars(
                select(Customer.id).where(where, Customer.id.in_(customer_ids))
            ).all()
        except RuleError:
            broken.append(segment.name)
            continue
        for customer_id in members:
            wanted[customer_id].add(tag_name(row.prefix, "segment", segment.name))
    return wanted, broken


# ---- running ------------------------------------------------------------------------------------


@dataclass
class PageResult:
    checked: int = 0
    changed: int = 0
    failed: int = 0
    last_customer_id: int = 0


def write_page(
    session: Session,
    shop: Shop,
    row: TagWriteBack,
    customers: Sequence[tuple[int, str, bool]],
    write: TagWriter,
) -> PageResult:
    """Bring one page of customers (id, external id, live) to their desired tags. A refusal for
    one customer is counted and the page goes on; a retryable error propagates after the
    customers already written are recorded (the caller commits them)."""
    live_ids = [customer_id for customer_id, _external, live in customers if live]
    wanted, broken = desired_tags(session, shop, row, live_ids)
    written = {
        tags.customer_id: tags
        for tags in session.scalars(
            select(CustomerPlatformTags).where(
                CustomerPlatformTags.customer_id.in_([c[0] for c in customers])
            )
        )
    }
    if broken:
        _set_problem(row, "write_back.error.broken_segments", segments=sorted(broken))
    prefix_of_broken = tuple(tag_name(row.prefix, "segment", name) for name in broken)
    result = PageResult()
    for customer_id, external_id, live in customers:
        result.checked += 1
        stored = written.get(customer_id)
        before = set(stored.tags) if stored is not None else set()
        if not live:  # deleted or redacted: nothing left to write to on the platform
            if stored is not None:
                session.delete(stored)
            result.last_customer_id = customer_id
            continue
        desired = wanted.get(customer_id, set()) | {t for t in before if t in prefix_of_broken}
        add, remove = desired - before, before - desired
        if add or remove:
            try:
                write(external_id, add, remove, desired)
            except (RetryableError, AuthenticationError):
                raise
            except ValueError:
                result.failed += 1  # a guest without a platform record, or an unusable id
            except ConnectorError as error:
                result.failed += 1
                _set_problem(row, "write_back.error.customer_refused", reason=store_refusal(error))
            else:
                result.changed += 1
                if stored is None:
                    session.add(
                        CustomerPlatformTags(
                            customer_id=customer_id, shop_id=shop.id, tags=sorted(desired)
                        )
                    )
                else:
                    stored.tags, stored.written_at = sorted(desired), utcnow()
        result.last_customer_id = customer_id
    return result


def _page(session: Session, shop_id: int, after: int, size: int) -> list[tuple[int, str, bool]]:
    rows = session.execute(
        select(
            Customer.id,
            Customer.external_id,
            Customer.deleted_at.is_(None) & Customer.redacted_at.is_(None),
        )
        .where(Customer.shop_id == shop_id, Customer.id > after)
        .order_by(Customer.id)
        .limit(size)
    )
    return [(customer_id, external, bool(live)) for customer_id, external, live in rows]


def _shopify_writer(client: object) -> TagWriter:
    def write(external_id: str, add: set[str], remove: set[str], desired: set[str]) -> None:
        gid = customer_gid(external_id)
        remove_tags(client, gid, remove)  # type: ignore[arg-type]
        add_tags(client, gid, add)  # type: ignore[arg-type]

    return write


def _woocommerce_writer(client: object, pause: float) -> TagWriter:
    def write(external_id: str, add: set[str], remove: set[str], desired: set[str]) -> None:
        if not is_registered(external_id):
            raise ValueError("a WooCommerce guest has no customer record")
        write_segment_tags(client, external_id, desired)  # type: ignore[arg-type]
        if pause:
            time.sleep(pause)

    return write


def run(
    runtime: Kizuna,
    shop_id: int,
    token: str,
    *,
    budget_seconds: float = RUN_BUDGET_SECONDS,
    page_size: int = PAGE_SIZE,
    woocommerce_pause: float = WOOCOMMERCE_PAUSE_SECONDS,
    client_options: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Continue run `token` of the shop: → "done", "continue" (budget spent: the caller
    enqueues the next part), "superseded" (a newer run owns the shop) or "stopped" (the shop
    is gone or uninstalled). `RetryableError` propagates with the progress committed.
    `client_options` go to the platform client (its retry and backoff settings)."""
    deadline = clock() + budget_seconds
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
        row = session.get(TagWriteBack, shop_id)
        if row is None or row.run_started_at is None or run_token(row.run_started_at) != token:
            return "superseded"
        if shop is None or shop.status != "active":
            row.status, row.run_finished_at = "idle", utcnow()
            session.commit()
            return "stopped"
        client_factory = (
            (lambda: woocommerce_client(runtime, shop, **(client_options or {})))
            if shop.platform == "woocommerce"
            else (lambda: shopify_client(runtime, shop, **(client_options or {})))
        )
        with client_factory() as client:
            write = (
                _woocommerce_writer(client, woocommerce_pause)
                if shop.platform == "woocommerce"
                else _shopify_writer(client)
            )
            while True:
                customers = _page(session, shop_id, row.cursor_customer_id, page_size)
                if not customers:
                    row.status, row.run_finished_at = "done", utcnow()
                    session.commit()
                    log.info(
                        "tag write-back done shop=%s changed=%s failed=%s",
                        shop_id,
                        row.customers_changed,
                        row.customers_failed,
                    )
                    return "done"
                try:
                    result = write_page(session, shop, row, customers, write)
                except RetryableError:
                    session.rollback()
                    _note_unavailable(session, shop_id)
                    raise
                _advance(row, result)
                session.commit()
                session.refresh(row)
                if row.run_started_at is None or run_token(row.run_started_at) != token:
                    return "superseded"
                if clock() >= deadline:
                    return "continue"


def _advance(row: TagWriteBack, result: PageResult) -> None:
    row.cursor_customer_id = result.last_customer_id
    row.customers_checked += result.checked
    row.customers_changed += result.changed
    row.customers_failed += result.failed


def _set_problem(row: TagWriteBack, code: str, **params: Any) -> None:
    for column, value in problem_columns(code, **params).items():
        setattr(row, column, value)


def _note_unavailable(session: Session, shop_id: int) -> None:
    row = session.get(TagWriteBack, shop_id)
    if row is not None:
        _set_problem(row, "write_back.error.unavailable")
        session.commit()


def mark_failed(runtime: Kizuna, shop_id: int, token: str, error: BaseException) -> None:
    """The run gave up on `error` (retries spent, or the platform refused our credentials):
    visible on the write-back page and on the shop's status, worded from its class."""
    reason = (
        nested("store_refusal.gave_up")
        if isinstance(error, RetryableError)
        else store_refusal(error)
    )
    with runtime.db.session() as session:
        row = session.get(TagWriteBack, shop_id)
        shop = session.get(Shop, shop_id)
        if row is None or row.run_started_at is None or run_token(row.run_started_at) != token:
            return
        row.status, row.run_finished_at = "failed", utcnow()
        _set_problem(row, "write_back.error.failed", reason=reason)
        if shop is not None:
            record_shop_error(shop, "shop_error.write_back_failed", reason=reason)
        session.commit()


def managed_tags(
    session: Session, shop_id: int, customer_ids: Collection[int]
) -> dict[int, list[str]]:
    """The Kizuna tags each customer carries on the platform, as last written."""
    rows = session.scalars(
        select(CustomerPlatformTags).where(
            CustomerPlatformTags.shop_id == shop_id,
            CustomerPlatformTags.customer_id.in_(list(customer_ids)),
        )
    )
    return {row.customer_id: list(row.tags) for row in rows}
