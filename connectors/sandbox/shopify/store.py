"""One simulated Shopify store: its records, webhook subscriptions and changes.

Layer: connectors/sandbox. Every access holds `store.lock` (a GraphQL page is a snapshot); a
change emits its webhooks after the lock is released; `updated_at` strictly increases per record.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from connectors.sandbox.shopify.data import GeneratedStore, Generator
from connectors.sandbox.shopify.pagination import Keyed, Listing, sort_index
from connectors.sandbox.shopify.payloads import RestShapes
from connectors.sandbox.shopify.records import (
    Address,
    Checkout,
    Customer,
    Order,
    Product,
    Variant,
    WebhookSubscription,
    parse_gid,
    whole_seconds,
)

if TYPE_CHECKING:
    from connectors.sandbox.shopify.sandbox import SandboxShopify

MARKETING_STATES = frozenset({"SUBSCRIBED", "NOT_SUBSCRIBED", "UNSUBSCRIBED", "PENDING"})
OPT_IN_LEVELS = frozenset({"SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN"})
CUSTOMER_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "phone",
        "locale",
        "note",
        "tags",
        "state",
        "verified_email",
        "marketing_state",
        "marketing_opt_in_level",
        "birth_date",
    }
)
ADDRESS_FIELDS = frozenset(
    {"address1", "city", "province", "province_code", "country", "country_code", "zip"}
)


class SandboxStore:
    """A store's data and the merchant/buyer actions on it; created by `SandboxShopify.add_shop`."""

    def __init__(self, sandbox: SandboxShopify, generated: GeneratedStore, generator: Generator):
        self._sandbox = sandbox
        self._gen = generator
        self.info = generated.shop
        self.domain = generated.shop.domain
        self.zone = ZoneInfo(generated.shop.timezone)
        self.shapes = RestShapes(generated.shop)
        self.lock = threading.RLock()
        self.installed = False
        self.customers: list[Customer] = generated.customers
        self.orders: list[Order] = generated.orders
        self.products: list[Product] = generated.products
        self.checkouts: list[Checkout] = generated.checkouts
        self.subscriptions: dict[int, WebhookSubscription] = {}
        self.web_pixel: dict[str, Any] | None = None  # the app pixel's settings, once created
        self._next_order_number = generated.next_order_number
        self._request_ids = itertools.count(9_000_001)
        self._pick = random.Random(f"{sandbox.seed}/{self.domain}/picks")
        self._customers_by_id = {customer.id: customer for customer in self.customers}
        self._orders_by_id = {order.id: order for order in self.orders}
        self._products_by_id = {product.id: product for product in self.products}
        self._variants_by_id = {
            variant.id: (variant, product)
            for product in self.products
            for variant in product.variants
        }
        self._checkouts_by_id = {checkout.id: checkout for checkout in self.checkouts}
        self._checkouts_by_token = {checkout.token: checkout for checkout in self.checkouts}
        self._version = 0  # bumped by every change; sort indexes built at an older one are stale
        self._indexes: dict[tuple[str, str], tuple[int, Keyed[Any]]] = {}
        self._orders_by_customer: dict[int, list[Order]] = {}
        for order in self.orders:
            if order.customer_id is not None:
                self._orders_by_customer.setdefault(order.customer_id, []).append(order)

    # ---- lookups (callers hold the lock, or accept a moment's inconsistency) ---------------

    @staticmethod
    def now() -> datetime:
        return whole_seconds(datetime.now(UTC))

    def customer_by_id(self, number: int | None) -> Customer | None:
        return self._customers_by_id.get(number) if number is not None else None

    def order_by_id(self, number: int) -> Order | None:
        return self._orders_by_id.get(number)

    def product_by_id(self, number: int) -> Product | None:
        return self._products_by_id.get(number)

    def variant_by_id(self, number: int) -> tuple[Variant, Product] | None:
        return self._variants_by_id.get(number)

    def checkout_by_id(self, number: int) -> Checkout | None:
        return self._checkouts_by_id.get(number)

    def checkout_by_token(self, token: str) -> Checkout | None:
        return self._checkouts_by_token.get(token)

    def orders_of(self, customer_id: int) -> list[Order]:
        return self._orders_by_customer.get(customer_id, [])

    def customer(self, external_id: str | int) -> Customer:
        """The customer with this id (numeric string, int or GID); KeyError when unknown."""
        number = parse_gid(str(external_id), "Customer")
        customer = self.customer_by_id(number)
        if customer is None:
            raise KeyError(f"no customer {external_id!r} in {self.domain}")
        return customer

    def sorted_by(
        self, name: str, listing: Listing[Any], records: list[Any], sort_key: str
    ) -> Keyed[Any]:
        """`records` sorted by `sort_key`, cached until the store next changes (hold the lock)."""
        cached = self._indexes.get((name, sort_key))
        if cached is not None and cached[0] == self._version:
            return cached[1]
        index = sort_index(records, listing, sort_key)
        self._indexes[(name, sort_key)] = (self._version, index)
        return index

    def _changed(self) -> None:
        self._version += 1

    # ---- subscriptions ---------------------------------------------------------------------

    def add_subscription(
        self,
        topic: str,
        uri: str,
        *,
        name: str | None = None,
        filter: str | None = None,
        include_fields: list[str] | None = None,
        metafield_namespaces: list[str] | None = None,
    ) -> WebhookSubscription:
        with self.lock:
            now = self.now()
            subscription = WebhookSubscription(
                id=self._gen.ids.next("webhook"),
                topic=topic,
                uri=uri,
                created_at=now,
                updated_at=now,
                name=name,
                filter=filter,
                include_fields=include_fields or [],
                metafield_namespaces=metafield_namespaces or [],
            )
            self.subscriptions[subscription.id] = subscription
            return subscription

    def set_subscription_namespaces(self, number: int, namespaces: list[str]) -> None:
        with self.lock:
            subscription = self.subscriptions[number]
            subscription.metafield_namespaces = list(namespaces)
            subscription.updated_at = self.now()

    def remove_subscription(self, number: int) -> None:
        with self.lock:
            self.subscriptions.pop(number, None)

    # ---- customers -------------------------------------------------------------------------

    def _touch(self, previous: datetime) -> datetime:
        return max(self.now(), previous + timedelta(seconds=1))

    def create_customer(self, **fields: Any) -> dict[str, Any]:
        """A new customer (unspecified fields are generated); emits customers/create."""
        _check_fields(fields)
        with self.lock:
            now = self.now()
            customer = self._gen.customer(now)
            self._apply(customer, fields)
            customer.marketing_updated_at = (
                now if customer.marketing_state != "NOT_SUBSCRIBED" else None
            )
            self.customers.append(customer)
            self._customers_by_id[customer.id] = customer
            self._changed()
            payload = self.shapes.customer(customer)
            metafields = self.shapes.customer_metafields(customer)
        self._emit("customers/create", payload, metafields)
        return payload

    def update_customer(self, external_id: str | int, **changes: Any) -> dict[str, Any]:
        """Change a customer and bump `updated_at`; emits customers/update (and the consent
        topic as well when the marketing state or level changes)."""
        _check_fields(changes)
        with self.lock:
            customer = self.customer(external_id)
            before = (customer.marketing_state, customer.marketing_opt_in_level)
            self._apply(customer, changes)
            customer.updated_at = self._touch(customer.updated_at)
            self._changed()
            consent_changed = before != (customer.marketing_state, customer.marketing_opt_in_level)
            if consent_changed:
                customer.marketing_updated_at = customer.updated_at
            payload = self.shapes.customer(customer)
            metafields = self.shapes.customer_metafields(customer)
            consent = self.shapes.email_consent(customer) if consent_changed else None
        self._emit("customers/update", payload, metafields)
        if consent is not None:
            self._emit("customers_email_marketing_consent/update", consent)
        return payload

    def set_email_marketing(
        self, external_id: str | int, state: str, *, opt_in_level: str | None = None
    ) -> dict[str, Any]:
        """Change email marketing consent; emits customers_email_marketing_consent/update."""
        wanted = state.upper()
        if wanted not in MARKETING_STATES:
            raise ValueError(f"state must be one of {sorted(MARKETING_STATES)}: got {state!r}")
        level = opt_in_level.upper() if opt_in_level else None
        if level is not None and level not in OPT_IN_LEVELS:
            raise ValueError(f"opt_in_level must be one of {sorted(OPT_IN_LEVELS)}")
        with self.lock:
            customer = self.customer(external_id)
            customer.marketing_state = wanted
            if level is not None:
                customer.marketing_opt_in_level = level
            elif wanted == "PENDING":
                customer.marketing_opt_in_level = "CONFIRMED_OPT_IN"
            elif customer.marketing_opt_in_level is None:
                customer.marketing_opt_in_level = "SINGLE_OPT_IN"
            customer.updated_at = self._touch(customer.updated_at)
            customer.marketing_updated_at = customer.updated_at
            self._changed()
            payload = self.shapes.email_consent(customer)
        self._emit("customers_email_marketing_consent/update", payload)
        return payload

    def _apply(self, customer: Customer, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if name in ADDRESS_FIELDS:
                if customer.address is None:
                    customer.address = self._gen.address(
                        customer.first_name, customer.last_name, customer.locale == "ja"
                    )
                setattr(customer.address, name, value)
                continue
            if name == "marketing_state":
                value = str(value).upper()
                if value not in MARKETING_STATES:
                    raise ValueError(f"marketing_state must be one of {sorted(MARKETING_STATES)}")
            if name == "marketing_opt_in_level" and value is not None:
                value = str(value).upper()
                if value not in OPT_IN_LEVELS:
                    raise ValueError(
                        f"marketing_opt_in_level must be one of {sorted(OPT_IN_LEVELS)}"
                    )
            if name == "tags":
                value = [value] if isinstance(value, str) else list(value)
            setattr(customer, name, value)
        if customer.address is not None:
            customer.address.first_name = customer.first_name
            customer.address.last_name = customer.last_name

    # ---- orders and checkouts --------------------------------------------------------------

    def random_customer(self, *, repeat_buyer: bool | None = None) -> Customer:
        """A customer to act as buyer: a previous buyer when `repeat_buyer`, else anyone."""
        with self.lock:
            if repeat_buyer and self._orders_by_customer:
                number = self._pick.choice(sorted(self._orders_by_customer))
                return self._customers_by_id[number]
            return self._pick.choice(self.customers)

    def _buyer(self, customer_external_id: str | int | None, guest: bool) -> Customer | None:
        if customer_external_id is not None:
            return self.customer(customer_external_id)
        if guest or not self.customers:
            return None
        return self.random_customer(repeat_buyer=self._pick.random() < 0.6)

    def create_order(
        self,
        customer_external_id: str | int | None = None,
        *,
        paid: bool = True,
        checkout_token: str | None = None,
        guest: bool = False,
    ) -> dict[str, Any]:
        """A new order placed now; emits orders/create and, when paid, orders/paid.

        Without `customer_external_id` the buyer is a random existing customer (often a repeat
        buyer), or nobody when `guest`. With `checkout_token` of a known checkout, the order
        takes that checkout's items.
        """
        with self.lock:
            customer = self._buyer(customer_external_id, guest)
            order = self._place_order(customer, paid=paid, checkout_token=checkout_token)
            payload = self.shapes.order(order, customer)
        self._emit("orders/create", payload)
        if paid:
            self._emit("orders/paid", payload)
        return payload

    def _place_order(
        self, customer: Customer | None, *, paid: bool, checkout_token: str | None
    ) -> Order:
        now = self.now()
        checkout = self.checkout_by_token(checkout_token) if checkout_token else None
        lines = None
        address: Address | None = None
        email = None
        if checkout is not None:
            lines = [self._gen.copy_line(line) for line in checkout.lines]
            address = checkout.billing_address
            email = checkout.email
        elif customer is None:
            _, _, email, address = self._gen.guest()
        order = self._gen.order(
            self._next_order_number,
            now,
            customer,
            now=now,
            email=email,
            lines=lines,
            first=customer is not None and not self.orders_of(customer.id),
            paid=paid,
            checkout_token=checkout_token,
            address=address,
        )
        self._next_order_number += 1
        self.orders.append(order)
        self._orders_by_id[order.id] = order
        if customer is not None:
            self._orders_by_customer.setdefault(customer.id, []).append(order)
            customer.updated_at = self._touch(customer.updated_at)
        if checkout is not None:
            checkout.order_id = order.id
        self._changed()
        return order

    def create_checkout(
        self, customer_external_id: str | int | None = None, *, guest: bool = False
    ) -> dict[str, Any]:
        """A buyer reaches checkout and leaves contact details; emits checkouts/create."""
        with self.lock:
            customer = self._buyer(customer_external_id, guest)
            checkout = self._gen.checkout(self.now(), customer)
            checkout.updated_at = checkout.created_at
            self.checkouts.append(checkout)
            self._checkouts_by_id[checkout.id] = checkout
            self._checkouts_by_token[checkout.token] = checkout
            self._changed()
            payload = self.shapes.checkout(checkout, customer)
        self._emit("checkouts/create", payload)
        return payload

    def complete_checkout(self, token: str) -> dict[str, Any]:
        """The buyer pays: emits checkouts/update, then orders/create and orders/paid.

        Returns the order's payload."""
        with self.lock:
            checkout = self.checkout_by_token(token)
            if checkout is None:
                raise KeyError(f"no checkout {token!r} in {self.domain}")
            if checkout.completed_at is not None:
                raise ValueError(f"checkout {token!r} is already completed")
            customer = self.customer_by_id(checkout.customer_id)
            checkout.completed_at = self._touch(checkout.updated_at)
            checkout.updated_at = checkout.completed_at
            self._changed()
            checkout_payload = self.shapes.checkout(checkout, customer)
            order = self._place_order(customer, paid=True, checkout_token=token)
            order_payload = self.shapes.order(order, customer)
        self._emit("checkouts/update", checkout_payload)
        self._emit("orders/create", order_payload)
        self._emit("orders/paid", order_payload)
        return order_payload

    # ---- app lifecycle and privacy ---------------------------------------------------------

    def set_inventory(self, variant_id: int, available: int) -> dict[str, Any]:
        """A variant's stock at the store's one location is now `available` (its inventory
        item has the variant's number); emits inventory_levels/update."""
        with self.lock:
            found = self.variant_by_id(variant_id)
            if found is None:
                raise KeyError(variant_id)
            variant, product = found
            variant.inventory_quantity = available
            variant.updated_at = self._touch(variant.updated_at)
            product.updated_at = self._touch(product.updated_at)
            self._changed()
            payload = {
                "inventory_item_id": variant.id,
                "location_id": 1,
                "available": available,
                "updated_at": variant.updated_at.isoformat(),
                "admin_graphql_api_id": (
                    f"gid://shopify/InventoryLevel/1?inventory_item_id={variant.id}"
                ),
            }
        self._emit("inventory_levels/update", payload)
        return payload

    def uninstall_app(self) -> None:
        """The merchant uninstalls: every token is revoked, app/uninstalled is sent, and the
        shop-specific subscriptions are dropped."""
        with self.lock:
            self.installed = False
            payload = self.shapes.shop_body()
        self._sandbox.revoke_tokens(self.domain)
        self._emit("app/uninstalled", payload)
        with self.lock:
            self.subscriptions.clear()

    def request_customer_data(self, external_id: str | int) -> dict[str, Any]:
        """A customer asks for their data; emits customers/data_request."""
        with self.lock:
            customer = self.customer(external_id)
            order_ids = [order.id for order in self.orders_of(customer.id)]
            payload = self.shapes.customer_data_request(
                customer, order_ids, next(self._request_ids)
            )
        self._emit("customers/data_request", payload)
        return payload

    def redact_customer(self, external_id: str | int) -> dict[str, Any]:
        """The merchant erases a customer; emits customers/redact."""
        with self.lock:
            customer = self.customer(external_id)
            payload = self.shapes.customer_redact(
                customer, [order.id for order in self.orders_of(customer.id)]
            )
        self._emit("customers/redact", payload)
        return payload

    def redact_shop(self) -> dict[str, Any]:
        """What Shopify sends 48 hours after uninstall; emits shop/redact."""
        payload = self.shapes.shop_redact()
        self._emit("shop/redact", payload)
        return payload

    # ---- helpers ---------------------------------------------------------------------------

    def pending_checkouts(self) -> Iterable[Checkout]:
        with self.lock:
            return [checkout for checkout in self.checkouts if checkout.completed_at is None]

    def _emit(
        self, topic: str, payload: dict[str, Any], metafields: list[dict[str, Any]] | None = None
    ) -> None:
        self._sandbox.emit(self.domain, topic, payload, metafields=metafields)


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - CUSTOMER_FIELDS - ADDRESS_FIELDS
    if unknown:
        allowed = ", ".join(sorted(CUSTOMER_FIELDS | ADDRESS_FIELDS))
        raise TypeError(f"unknown customer fields {sorted(unknown)}; allowed: {allowed}")
