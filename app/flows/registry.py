"""The registry of flow definitions: what makes each flow different, in one place.

Layer: services (data plus references to the flow modules' functions). Adding a flow = one module
+ one entry in `_build`. Built on first use: the flow modules import the run helpers, which read
priorities from here.
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


@cache
def _build() -> dict[str, FlowDefinition]:
    from app.flows import cart, post_purchase, winback

    definitions = (cart.DEFINITION, winback.DEFINITION, *post_purchase.DEFINITIONS)
    return {definition.key: definition for definition in definitions}


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
