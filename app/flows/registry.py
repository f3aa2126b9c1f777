"""The registry of flow definitions: what makes each flow different, in one place.

Layer: services (data plus references to the flow modules' functions). Adding a flow = one module
+ one entry in `_build`; its `triggers` name the events that start or exit it. Built on first use:
the flow modules import the run helpers, which read priorities from here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from app.config import Config
    from app.flows.preview import PreviewTarget
    from app.flows.runs import SharedContent
    from app.flows.settings import FlowForm
    from app.flows.simulation import Simulator
    from app.models import Customer, Shop
    from app.models.flow import FlowRun, Message
    from connectors.sendgrid.mail import OutgoingEmail

# Lower wins when two flows compete for the same customer at the same time. `browse` and
# `welcome` are ranked ahead of the flows that exist so that their place is already decided.
UNKNOWN_PRIORITY = 1000
PLANNED_PRIORITIES: Mapping[str, int] = {"browse": 10, "welcome": 20}


# The platform events a flow's triggers answer, and what their handlers are called with:
CHECKOUTS_CHANGED = "checkouts_changed"  # (session, shop_id, checkouts: Sequence[Checkout])
ORDERS_CHANGED = "orders_changed"  # (session, shop_id, orders: Sequence[OrderRecord]), any change
DAILY_SCAN = "daily_scan"  # (session, shop: Shop, now) → ids of the runs started
EVENTS = (CHECKOUTS_CHANGED, ORDERS_CHANGED, DAILY_SCAN)

# `Trigger.order` bands: what a flow exits on an event runs before what starts on it (an order
# exits the cart runs of its checkout before the post-purchase runs start).
EXIT_ORDER = 0
START_ORDER = 100


@dataclass(frozen=True)
class Trigger:
    """An event the flow answers and the function that answers it (see `EVENTS` for its
    arguments). Handlers of one event run in (`order`, flow key) order, inside the caller's
    transaction, and must be safe to run twice for the same data."""

    event: str
    handle: Callable[..., Any]
    order: int = START_ORDER


class ExitLoader(Protocol):
    def __call__(
        self, session: Session, shop_id: int, runs: Sequence[FlowRun]
    ) -> dict[int, tuple[str, ...]]: ...


class Renderer(Protocol):
    def __call__(
        self,
        config: Config,
        session: Session,
        shop: Shop,
        customer: Customer,
        run: FlowRun,
        msg: Message,
        lang: str,
        now: datetime,
        *,
        discount_code: str | None,
    ) -> OutgoingEmail: ...


class SharedRenderer(Protocol):
    def __call__(self, session: Session, shop: Shop, step: int, lang: str) -> SharedContent: ...


class SharedEmail(Protocol):
    def __call__(
        self,
        config: Config,
        shop: Shop,
        customer: Customer,
        run: FlowRun,
        msg: Message,
        content: SharedContent,
        context: Mapping[str, Any],
    ) -> OutgoingEmail | None: ...


class ContextLoader(Protocol):
    def __call__(
        self, session: Session, shop_id: int, runs: Sequence[FlowRun]
    ) -> Mapping[str, Any]: ...


class CodeMaker(Protocol):
    def __call__(self, session: Session, shop: Shop, run: FlowRun, msg: Message) -> str | None: ...


@dataclass(frozen=True)
class FlowDefinition:
    """One flow. `shares_content(config, step)`: whether the step's emails are the same for
    every recipient but for substitutions (then a dispatch batch claims and sends them in one
    request); `sends_together`: a message's own send job takes the shop's other due messages
    of the step with it; `ends_on_order`: a new order of the customer exits its running runs."""

    key: str
    form: FlowForm  # the settings form (`settings.FlowForm`)
    priority: int
    ends_on_order: bool
    load_exits: ExitLoader
    render: Renderer
    simulate: Simulator
    preview_missing: str  # i18n key shown when the chosen customer has nothing to preview
    # Customers the preview can be shown for, newest trigger first (a select of Customer).
    preview_query: Callable[[Shop], Select[Any]]
    preview_target: Callable[[Session, Shop, Customer], PreviewTarget | None]
    shares_content: Callable[[Mapping[str, Any] | None, int], bool] = lambda _config, _step: False
    sends_together: bool = False
    render_shared: SharedRenderer | None = None
    shared_email: SharedEmail | None = None
    # What `shared_email` reads for a whole batch, loaded once (the cart: checkouts by token).
    load_context: ContextLoader | None = None
    create_code: CodeMaker | None = None
    triggers: tuple[Trigger, ...] = ()


@cache
def _build() -> dict[str, FlowDefinition]:
    from app.flows import cart, replenishment, review_request, thank_you, winback

    definitions = (
        cart.DEFINITION,
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
    from app.flows import cart, replenishment, review_request, thank_you, winback

    built_in = (cart, winback, thank_you, review_request, replenishment)
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
