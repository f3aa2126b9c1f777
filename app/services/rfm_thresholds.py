"""A shop's RFM score boundaries: the merchant's form, validation with field errors, saving.

Layer: services, inside the caller's transaction (the admin view commits, then rescores). A
dimension left automatic is stored as null; invalid input saves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import rfm
from app.formatting import minor_units
from app.models import RfmSnapshot, Shop

# Form prefixes per dimension; fields are `<prefix>_mode` ("auto" | "custom") and `<prefix>_1..4`.
PREFIXES: Mapping[rfm.ThresholdDimension, str] = {
    "recency_days": "r",
    "frequency_orders": "f",
    "monetary": "m",
}
AUTO, CUSTOM = "auto", "custom"
MAX_RECENCY_DAYS = 36_500
MAX_ORDERS = 1_000_000
MAX_MONEY = Decimal(10) ** 12
MONEY_PLACES = 2
# Rescoring this many customers inline takes well under a second; larger shops get a job.
INLINE_MAX_CUSTOMERS = 50_000


@dataclass(frozen=True)
class FieldError:
    """An i18n key (`rfm_thresholds.error.*`) and its values, shown next to the field."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Validated:
    thresholds: rfm.RfmThresholds
    errors: Mapping[str, FieldError]

    @property
    def ok(self) -> bool:
        return not self.errors


def field_names() -> list[str]:
    """Every field of the form, in order."""
    names = []
    for prefix in PREFIXES.values():
        names.append(f"{prefix}_mode")
        names.extend(f"{prefix}_{k}" for k in range(1, 5))
    return names


def saved(shop: Shop) -> rfm.RfmThresholds:
    """The shop's stored boundaries (all automatic when none or unreadable)."""
    try:
        return rfm.thresholds_from_json(shop.rfm_thresholds)
    except ValueError:
        return rfm.RfmThresholds()


def form_values(shop: Shop, applied: Mapping[str, Any] | None) -> dict[str, str]:
    """The form's fields: the merchant's boundaries, else those the last scoring applied.

    `applied` is `rfm_snapshots.detail["thresholds"]` of the latest snapshot (or None), so a
    merchant switching a dimension to custom starts from the boundaries in use today.
    """
    own = saved(shop)
    values: dict[str, str] = {}
    for name, prefix in PREFIXES.items():
        edges: tuple[Decimal, ...] | None = getattr(own, name)
        values[f"{prefix}_mode"] = CUSTOM if edges is not None else AUTO
        shown: list[str] = [_plain(edge) for edge in edges] if edges is not None else []
        if not shown and applied and isinstance(applied.get(name), list):
            digits = min(MONEY_PLACES, minor_units(shop.currency))
            places = Decimal(1) if name != "monetary" else Decimal(1).scaleb(-digits)
            shown = [_plain(Decimal(str(v)).quantize(places)) for v in applied[name]]
        for k in range(1, 5):
            values[f"{prefix}_{k}"] = shown[k - 1] if len(shown) == 4 else ""
    return values


def validate(form: Mapping[str, str]) -> Validated:
    """The posted form → the boundaries to save, or field errors (keyed by field name)."""
    errors: dict[str, FieldError] = {}
    chosen: dict[str, rfm.Edges | None] = {}
    for name, prefix in PREFIXES.items():
        mode = form.get(f"{prefix}_mode", AUTO)
        if mode not in (AUTO, CUSTOM):
            errors[f"{prefix}_mode"] = FieldError("rfm_thresholds.error.mode")
            continue
        if mode == AUTO:
            chosen[name] = None
            continue
        edges: list[Decimal] = []
        for k in range(1, 5):
            key = f"{prefix}_{k}"
            value = _edge(name, form.get(key, ""), key, errors)
            if value is None:
                continue
            if edges and value <= edges[-1] and f"{prefix}_{k - 1}" not in errors:
                errors[key] = FieldError("rfm_thresholds.error.ascending")
            edges.append(value)
        if len(edges) == 4 and not any(key.startswith(f"{prefix}_") for key in errors):
            chosen[name] = (edges[0], edges[1], edges[2], edges[3])
    if errors:
        return Validated(rfm.RfmThresholds(), errors)
    return Validated(
        rfm.RfmThresholds(
            recency_days=chosen.get("recency_days"),
            frequency_orders=chosen.get("frequency_orders"),
            monetary=chosen.get("monetary"),
        ),
        {},
    )


def save(session: Session, shop: Shop, form: Mapping[str, str]) -> Validated:
    """Validate and, when valid, store the shop's boundaries; does not commit."""
    result = validate(form)
    if result.ok:
        shop.rfm_thresholds = rfm.thresholds_to_json(result.thresholds)
    return result


def reset(session: Session, shop: Shop) -> None:
    """Back to automatic boundaries in every dimension; does not commit."""
    shop.rfm_thresholds = None


def small_enough_to_rescore_inline(session: Session, shop: Shop) -> bool:
    """True when the shop's latest scoring has at most `INLINE_MAX_CUSTOMERS` customers."""
    scored = session.scalar(
        select(RfmSnapshot.customers)
        .where(RfmSnapshot.shop_id == shop.id)
        .order_by(RfmSnapshot.as_of.desc())
        .limit(1)
    )
    return (scored or 0) <= INLINE_MAX_CUSTOMERS


def _edge(
    name: rfm.ThresholdDimension, text: str, key: str, errors: dict[str, FieldError]
) -> Decimal | None:
    text = text.strip().replace(",", "")
    if not text:
        errors[key] = FieldError("rfm_thresholds.error.required")
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    integer = name != "monetary"
    if not value.is_finite():
        errors[key] = FieldError(
            "rfm_thresholds.error.integer" if integer else "rfm_thresholds.error.number"
        )
        return None
    if integer and value != value.to_integral_value():
        errors[key] = FieldError("rfm_thresholds.error.integer")
        return None
    if not integer and -value.as_tuple().exponent > MONEY_PLACES:  # type: ignore[operator]
        errors[key] = FieldError("rfm_thresholds.error.places", {"places": MONEY_PLACES})
        return None
    low, high = {
        "recency_days": (Decimal(0), Decimal(MAX_RECENCY_DAYS)),
        "frequency_orders": (Decimal(1), Decimal(MAX_ORDERS)),
        "monetary": (Decimal("0.01"), MAX_MONEY),
    }[name]
    if not low <= value <= high:
        errors[key] = FieldError(
            "rfm_thresholds.error.range", {"low": _plain(low), "high": _plain(high)}
        )
        return None
    return value.quantize(Decimal(1)) if integer else value


def _plain(value: Decimal) -> str:
    """A boundary as a merchant types it: no exponent, no trailing zeros."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
