"""What a flow's checks read about a shop, once per transaction: the shop, its flow settings,
suppression, a cart's checkout, consent. A flow's settings row, written with its defaults on
first use. The session listeners that keep those reads honest (`install`, called by
`create_app`).

Layer: flows, the bottom of the package (after `definition`, `form` and `rules`): every other
flow module may read through it; it imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.domain.orchestration import FlowConfig
from app.models import Checkout, Customer, Shop
from app.models.flow import FlowSetting
from app.services.unsubscribe import is_suppressed
from app.services.upsert import dialect_insert, normalize_email


def is_subscribed(customer: Customer | None) -> bool:
    """Marketing needs explicit consent: Shopify's SUBSCRIBED (REST spells it lowercase)."""
    state = (customer.email_marketing_state or "") if customer else ""
    return state.upper() == "SUBSCRIBED"


def may_receive(customer: Customer | None, *, requested: bool) -> bool:
    """Whether the customer's consent allows the email: marketing needs `is_subscribed`; an
    email they requested themselves (`FlowDefinition.requested`) needs only that they have not
    unsubscribed."""
    if not requested:
        return is_subscribed(customer)
    state = (customer.email_marketing_state or "") if customer else ""
    return customer is not None and state.upper() != "UNSUBSCRIBED"


# --- reads shared by the checks of one transaction ------------------------------------------
#
# A step and a send check the same settings, suppression and checkout several times (exit
# reasons, block reasons, rendering). Each is read once per transaction and kept in
# `session.info`; any flush, commit, rollback, write to one of these tables or new row of
# theirs added to the session drops them, so a check never answers from before a change its
# own transaction made (a row found missing included).

_READS = "kizuna.flows.reads"
SCHEDULED = "kizuna.flows.scheduled"  # the step jobs this transaction enqueues (`scheduling`)
_READ_TABLES = frozenset({"shops", "flow_settings", "suppressions", "checkouts"})


def _reads(session: Session) -> dict[tuple[Any, ...], Any]:
    ensure_installed()
    reads: dict[tuple[Any, ...], Any] = session.info.setdefault(_READS, {})
    return reads


def ensure_installed() -> None:
    if not _installed:
        install()  # a session used outside `create_app` (a script) still forgets stale reads


def _forget_reads_at_end(session: Session, _transaction: Any) -> None:
    session.info.pop(_READS, None)
    session.info.pop(SCHEDULED, None)


def _forget_reads_after_flush(session: Session, _context: Any) -> None:
    session.info.pop(_READS, None)


def _forget_reads_on_write(state: Any) -> None:
    if state.is_select:
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table is None or table in _READ_TABLES:
        state.session.info.pop(_READS, None)


def _forget_reads_on_add(session: Session, instance: Any) -> None:
    table = getattr(getattr(instance, "__table__", None), "name", None)
    if table in _READ_TABLES:
        session.info.pop(_READS, None)


_LISTENERS = (
    ("after_transaction_end", _forget_reads_at_end),
    ("after_flush", _forget_reads_after_flush),
    ("do_orm_execute", _forget_reads_on_write),
    ("after_attach", _forget_reads_on_add),
)


def install() -> None:
    """Keep the per-transaction reads honest: drop them at the end of a transaction, after a
    flush, on a write to one of their tables and when a row of theirs is added. Called once by
    `create_app` (and so by every worker); safe to call again. Importing this module installs
    nothing."""
    global _installed
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
    _installed = True


_installed = False


def shop_row(session: Session, shop_id: int) -> Shop | None:
    """The shop, held for the rest of the transaction (the identity map alone holds it weakly,
    so a later `session.get` would read it again)."""
    key = ("shop", shop_id)
    reads = _reads(session)
    if key not in reads:
        reads[key] = session.get(Shop, shop_id)
    shop: Shop | None = reads[key]
    return shop


def _setting_key(shop_id: int, flow_key: str) -> tuple[str, int, str]:
    return ("flow_setting", shop_id, flow_key)


def flow_setting(session: Session, shop_id: int, flow_key: str) -> FlowSetting | None:
    """The shop's settings row for a flow (None: defaults), read once per transaction; a
    missing row too, until a write to `flow_settings` (a flow's first use inserts its row)."""
    key = _setting_key(shop_id, flow_key)
    reads = _reads(session)
    if key not in reads:
        reads[key] = session.scalars(
            select(FlowSetting).where(
                FlowSetting.shop_id == shop_id, FlowSetting.flow_key == flow_key
            )
        ).one_or_none()
    row: FlowSetting | None = reads[key]
    return row


def ensure_flow_setting(
    session: Session, shop_id: int, flow_key: str, defaults: Mapping[str, Any], *, enabled: bool
) -> FlowSetting:
    """The shop's settings row for a flow, written on first use with `defaults` and `enabled`
    (so the flow runs on its own steps and the merchant sees what runs). An existing row is read
    once per transaction (`flow_setting`) and not written again; a new one is kept as that read."""
    row = flow_setting(session, shop_id, flow_key)
    if row is not None:
        return row
    session.execute(
        dialect_insert(session, FlowSetting)
        .values(shop_id=shop_id, flow_key=flow_key, enabled=enabled, config=dict(defaults))
        .on_conflict_do_nothing(index_elements=["shop_id", "flow_key"])
    )
    row = session.scalars(
        select(FlowSetting).where(FlowSetting.shop_id == shop_id, FlowSetting.flow_key == flow_key)
    ).one()
    _reads(session)[_setting_key(shop_id, flow_key)] = row
    return row


def flow_config(session: Session, shop_id: int, flow_key: str) -> tuple[bool, FlowConfig]:
    """(enabled, config): a shop without a settings row runs the flow on the defaults."""
    row = flow_setting(session, shop_id, flow_key)
    if row is None:
        return True, FlowConfig()
    return row.enabled, FlowConfig.from_overrides(row.config)


def suppressed(session: Session, shop_id: int, email: str | None) -> bool:
    """`is_suppressed`, read once per transaction."""
    key = ("suppressed", shop_id, normalize_email(email))
    reads = _reads(session)
    if key not in reads:
        reads[key] = is_suppressed(session, shop_id, email)
    return bool(reads[key])


def cart_checkout(session: Session, shop_id: int, token: str) -> Checkout | None:
    """The checkout a cart run was started for, read once per transaction."""
    key = ("checkout", shop_id, token)
    reads = _reads(session)
    if key not in reads:
        reads[key] = session.scalars(
            select(Checkout).where(Checkout.shop_id == shop_id, Checkout.external_id == token)
        ).one_or_none()
    checkout: Checkout | None = reads[key]
    return checkout
