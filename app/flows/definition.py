"""What a flow is made of: `FlowDefinition`, the `Trigger`s it declares and the events they
answer, and the protocols of the functions it brings (renderers, exit loaders, previews).

Layer: flows, the bottom: types only, so every flow module can declare itself without importing
the registry that lists them (`registry.py`, above the flow modules).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from app.config import Config
    from app.flows.content import SharedContent
    from app.flows.form import FlowForm
    from app.flows.replay import Simulator
    from app.models import Checkout, Customer, Shop
    from app.models.flow import FlowRun, Message
    from connectors.sendgrid.mail import OutgoingEmail

# The platform events a flow's triggers answer, and what their handlers are called with:
CHECKOUTS_CHANGED = "checkouts_changed"  # (session, shop_id, checkouts: Sequence[Checkout])
ORDERS_CHANGED = "orders_changed"  # (session, shop_id, orders: Sequence[OrderRecord]), any change
DAILY_SCAN = "daily_scan"  # (session, shop: Shop, now) → ids of the runs started
# A known customer placed an order: (session, orders: Sequence[CustomerOrder]), any shops.
CUSTOMERS_ORDERED = "customers_ordered"
# Customers arrived or changed (created, consent given, a confirmed storefront opt-in):
# (session, shop_id, customer_ids: Sequence[int], now).
CUSTOMERS_CHANGED = "customers_changed"
# Shoppers viewed products or added them to a cart on the storefront, newly stored rows:
# (session, shop_id, events: Sequence[StorefrontEvent]).
STOREFRONT_EVENTS = "storefront_events"
# Products (variants) came back in stock: (session, shop_id, restocks: Sequence[Restock]).
RESTOCKED = "restocked"
EVENTS = (
    CHECKOUTS_CHANGED,
    ORDERS_CHANGED,
    DAILY_SCAN,
    CUSTOMERS_ORDERED,
    CUSTOMERS_CHANGED,
    STOREFRONT_EVENTS,
    RESTOCKED,
)

# `Trigger.order` bands: what a flow exits on an event runs before what starts on it (an order
# exits the cart runs of its checkout before the post-purchase runs start).
EXIT_ORDER = 0
START_ORDER = 100


class Restock(NamedTuple):
    """A product (one variant, or the whole product when `variant_external_id` is None) has
    `available` units for sale now (a stock update above zero): the `RESTOCKED` triggers."""

    product_external_id: str
    variant_external_id: str | None
    available: int


class CustomerOrder(NamedTuple):
    """A customer's order as the `CUSTOMERS_ORDERED` triggers see it: who, in which shop, when
    it was placed (runs started after it are not its business)."""

    shop_id: int
    customer_id: int
    placed_at: datetime


@dataclass(frozen=True)
class PreviewTarget:
    """What a run of the flow would be started for: the customer, the run's trigger key, and
    a line naming it (i18n key + values); the cart flow's checkout."""

    customer: Customer
    trigger_key: str
    detail: str
    values: dict[str, Any]
    checkout: Checkout | None = None


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


def every_step(_config: Mapping[str, Any] | None, _step: int) -> bool:
    """`shares_content` of a flow whose every step is shared content."""
    return True


@dataclass(frozen=True)
class FlowDefinition:
    """One flow. `shares_content(config, step)`: whether the step's emails are the same for
    every recipient but for substitutions (then a dispatch batch claims and sends them in one
    request); `sends_together`: a message's own send job takes the shop's other due messages
    of the step with it; `ends_on_order`: a new order of the customer exits its running runs
    (the flow declares it as a `CUSTOMERS_ORDERED` trigger, `runs.exit_on_customer_orders`);
    `requested`: the recipient asked for this very email (a back-in-stock subscription), so the
    request is its consent: it goes to a customer without marketing consent unless they
    unsubscribed, and suppression always stops it."""

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
    requested: bool = False
