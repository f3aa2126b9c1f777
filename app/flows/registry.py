"""The registry of flow definitions: every flow, its priority, and the triggers of each event.

Layer: flows, above the flow modules (it lists them; they import only `definition`, never this).
Adding a flow = one module + one entry in `_build`; its `triggers` name the events that start or
exit it. The definition types are named here too (`definition.py` holds them).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache

# The definition types, named here as well (flows and tests import them from either).
from app.flows.definition import (
    CHECKOUTS_CHANGED as CHECKOUTS_CHANGED,
)
from app.flows.definition import (
    CUSTOMERS_CHANGED as CUSTOMERS_CHANGED,
)
from app.flows.definition import (
    CUSTOMERS_ORDERED as CUSTOMERS_ORDERED,
)
from app.flows.definition import (
    DAILY_SCAN as DAILY_SCAN,
)
from app.flows.definition import (
    EVENTS,
    FlowDefinition,
)
from app.flows.definition import (
    EXIT_ORDER as EXIT_ORDER,
)
from app.flows.definition import (
    ORDERS_CHANGED as ORDERS_CHANGED,
)
from app.flows.definition import (
    RESTOCKED as RESTOCKED,
)
from app.flows.definition import (
    START_ORDER as START_ORDER,
)
from app.flows.definition import (
    STOREFRONT_EVENTS as STOREFRONT_EVENTS,
)
from app.flows.definition import (
    CustomerOrder as CustomerOrder,
)
from app.flows.definition import (
    PreviewTarget as PreviewTarget,
)
from app.flows.definition import (
    Trigger as Trigger,
)

# Lower wins when two flows compete for the same customer at the same time. `browse` and
# `welcome` are ranked ahead of the flows that exist so that their place is already decided.
UNKNOWN_PRIORITY = 1000
PLANNED_PRIORITIES: Mapping[str, int] = {"browse": 10, "welcome": 20}


@cache
def _build() -> dict[str, FlowDefinition]:
    from app.flows import (
        back_in_stock,
        birthday,
        browse,
        cart,
        replenishment,
        review_request,
        thank_you,
        welcome,
        winback,
    )

    definitions = (
        cart.DEFINITION,
        browse.DEFINITION,
        back_in_stock.DEFINITION,
        welcome.DEFINITION,
        birthday.DEFINITION,
        winback.DEFINITION,
        thank_you.DEFINITION,
        review_request.DEFINITION,
        replenishment.DEFINITION,
    )
    for definition in definitions:
        _check_triggers(definition)
    return {definition.key: definition for definition in definitions}


def _check_triggers(definition: FlowDefinition) -> None:
    for trigger in definition.triggers:
        if trigger.event not in EVENTS:
            raise ValueError(f"flow {definition.key}: unknown trigger event {trigger.event!r}")


def register(definition: FlowDefinition) -> None:
    """Add a flow after the built-in ones (a plug-in, a test); ValueError if its key is taken."""
    built = _build()
    if definition.key in built:
        raise ValueError(f"flow {definition.key} is already registered")
    _check_triggers(definition)
    built[definition.key] = definition


def unregister(key: str) -> None:
    """Remove a flow added with `register`; the built-in flows stay."""
    from app.flows import (
        back_in_stock,
        birthday,
        browse,
        cart,
        replenishment,
        review_request,
        thank_you,
        welcome,
        winback,
    )

    built_in = (
        cart,
        browse,
        back_in_stock,
        welcome,
        birthday,
        winback,
        thank_you,
        review_request,
        replenishment,
    )
    if key in {module.DEFINITION.key for module in built_in}:
        raise ValueError(f"flow {key} is built in")
    _build().pop(key, None)


def triggers_for(event: str) -> list[tuple[str, Trigger]]:
    """(flow key, trigger) of every flow answering `event`, in the order they must run: by
    `Trigger.order`, then by registry order (a flow's own triggers keep their listed order)."""
    if event not in EVENTS:
        raise ValueError(f"unknown trigger event {event!r}")
    found = [
        (trigger.order, position, index, key, trigger)
        for position, (key, definition) in enumerate(_build().items())
        for index, trigger in enumerate(definition.triggers)
        if trigger.event == event
    ]
    return [
        (key, trigger)
        for _order, _position, _index, key, trigger in sorted(found, key=lambda row: row[:3])
    ]


def definitions() -> Mapping[str, FlowDefinition]:
    """Every flow, in the order the admin lists them."""
    return _build()


def keys() -> tuple[str, ...]:
    return tuple(_build())


def get(key: str) -> FlowDefinition:
    """The flow's definition; KeyError for an unknown key."""
    return _build()[key]


def priority(key: str) -> int:
    definition = _build().get(key)
    if definition is not None:
        return definition.priority
    return PLANNED_PRIORITIES.get(key, UNKNOWN_PRIORITY)


def priorities() -> dict[str, int]:
    """Every ranked flow key → its priority (lower wins)."""
    return {**PLANNED_PRIORITIES, **{key: d.priority for key, d in _build().items()}}


def outranking(key: str) -> list[str]:
    """The flows that go before `key` when both have something due for a customer."""
    rank = priority(key)
    return [other for other, value in priorities().items() if value < rank]


def pick_flow(candidates: Collection[str]) -> str | None:
    """The flow that wins when several would message the same customer (cart beats win-back)."""
    ranked = sorted(set(candidates), key=lambda key: (priority(key), key))
    return ranked[0] if ranked else None


def not_ended_by_orders() -> Collection[str]:
    """Flows a new order does not stop (the post-purchase ones)."""
    return [key for key, definition in _build().items() if not definition.ends_on_order]
