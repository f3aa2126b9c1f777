"""Internal records of a simulated Shopify store, and the money, time and id formats Shopify uses.

Layer: connectors/sandbox. Records are plain mutable dataclasses owned by one `SandboxStore` and
changed only under its lock. Times are timezone-aware UTC with whole seconds (Shopify's
precision); money is `Decimal` in the shop currency, quantized to the currency's minor unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal

# Currencies Shopify formats without a fractional part.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})


def quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded to the currency's minor unit (whole yen, cents elsewhere)."""
    unit = Decimal(1) if currency in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    return amount.quantize(unit, rounding=ROUND_HALF_UP)


def money(amount: Decimal, currency: str) -> str:
    """The decimal string Shopify puts in payloads: "3480" for JPY, "24.50" for USD."""
    return str(quantize(amount, currency))


def iso_utc(moment: datetime) -> str:
    """GraphQL `DateTime`: UTC with a `Z` suffix, whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def iso_local(moment: datetime, zone: tzinfo) -> str:
    """REST/webhook timestamps: the shop's local time with its offset, as Shopify sends them."""
    return moment.astimezone(zone).replace(microsecond=0).isoformat()


def whole_seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str, kind: str) -> int | None:
    """The number in `gid://shopify/{kind}/{n}` (or a bare number); None when it is not one."""
    text = str(value)
    prefix = f"gid://shopify/{kind}/"
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return int(text) if text.isdigit() else None


@dataclass(slots=True)
class Address:
    id: int
    first_name: str
    last_name: str
    address1: str
    city: str
    province: str | None
    province_code: str | None
    country: str
    country_code: str
    zip: str
    phone: str | None = None
    address2: str | None = None
    company: str | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(slots=True)
class Customer:
    id: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    locale: str
    created_at: datetime
    updated_at: datetime
    # CustomerEmailAddressMarketingState / CustomerMarketingOptInLevel enum values
    marketing_state: str
    marketing_opt_in_level: str | None
    marketing_updated_at: datetime | None
    address: Address | None
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    state: str = "DISABLED"  # CustomerState: no customer account until invited
    verified_email: bool = True
    # Shopify's standard birth-date metafield (`facts.birth_date`, type date), when set.
    birth_date: date | None = None

    @property
    def external_id(self) -> str:
        return str(self.id)

    @property
    def gid(self) -> str:
        return gid("Customer", self.id)


@dataclass(slots=True)
class Variant:
    id: int
    product_id: int
    title: str
    sku: str
    price: Decimal
    grams: int
    position: int
    inventory_quantity: int
    created_at: datetime
    updated_at: datetime
    compare_at_price: Decimal | None = None

    @property
    def gid(self) -> str:
        return gid("ProductVariant", self.id)


@dataclass(slots=True)
class Collection:
    """A custom collection of the catalogue (membership is listed on each product)."""

    id: int
    title: str
    handle: str
    created_at: datetime
    updated_at: datetime

    @property
    def gid(self) -> str:
        return gid("Collection", self.id)


@dataclass(slots=True)
class Product:
    id: int
    title: str
    handle: str
    product_type: str
    vendor: str
    status: str  # ProductStatus: ACTIVE / ARCHIVED / DRAFT
    description: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    image_id: int
    image_url: str
    variants: list[Variant] = field(default_factory=list)
    collections: list[Collection] = field(default_factory=list)

    @property
    def external_id(self) -> str:
        return str(self.id)

    @property
    def gid(self) -> str:
        return gid("Product", self.id)


@dataclass(slots=True)
class LineItem:
    id: int
    product_id: int
    variant_id: int
    title: str
    variant_title: str
    sku: str
    vendor: str
    quantity: int
    price: Decimal
    grams: int
    image_url: str | None = None

    @property
    def line_total(self) -> Decimal:
        return self.price * self.quantity


@dataclass(slots=True)
class Order:
    id: int
    number: int  # order_number: 1001, 1002, ...
    token: str
    customer_id: int | None
    email: str | None
    locale: str
    created_at: datetime
    processed_at: datetime
    updated_at: datetime
    lines: list[LineItem]
    shipping: Decimal
    discount: Decimal
    discount_code: str | None
    taxes_included: bool
    tax_rate: Decimal
    financial_status: str  # REST value: paid, pending, refunded, partially_refunded
    fulfillment_status: str | None  # REST value: fulfilled or None
    checkout_token: str | None
    cart_token: str | None
    source_name: str
    billing_address: Address | None
    shipping_address: Address | None
    buyer_accepts_marketing: bool = False
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def external_id(self) -> str:
        return str(self.id)

    @property
    def gid(self) -> str:
        return gid("Order", self.id)

    @property
    def line_items_total(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal(0))

    @property
    def subtotal(self) -> Decimal:
        return self.line_items_total - self.discount

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping

    def total_tax(self, currency: str) -> Decimal:
        """Tax contained in the total (prices include tax) or added on top of it."""
        if self.taxes_included:
            return quantize(self.total * self.tax_rate / (1 + self.tax_rate), currency)
        return quantize(self.total * self.tax_rate, currency)

    @property
    def total_weight(self) -> int:
        return sum(line.grams * line.quantity for line in self.lines)


@dataclass(slots=True)
class Checkout:
    id: int  # AbandonedCheckout GraphQL id; checkout webhooks carry only the token
    token: str
    cart_token: str
    recovery_key: str
    customer_id: int | None
    email: str | None
    locale: str
    created_at: datetime
    updated_at: datetime
    lines: list[LineItem]
    billing_address: Address | None = None
    completed_at: datetime | None = None
    order_id: int | None = None

    @property
    def external_id(self) -> str:
        return self.token

    @property
    def gid(self) -> str:
        return gid("AbandonedCheckout", self.id)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal(0))

    @property
    def total_weight(self) -> int:
        return sum(line.grams * line.quantity for line in self.lines)


@dataclass(slots=True)
class WebhookSubscription:
    id: int
    topic: str  # "orders/create"
    uri: str
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    filter: str | None = None
    include_fields: list[str] = field(default_factory=list)
    # The namespaces whose metafields the resource's payloads carry (`metafieldNamespaces`).
    metafield_namespaces: list[str] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return gid("WebhookSubscription", self.id)


@dataclass(slots=True)
class ShopInfo:
    id: int
    domain: str
    name: str
    email: str
    currency: str
    timezone: str
    created_at: datetime
    plan: str
    owner_name: str
    address: Address

    @property
    def handle(self) -> str:
        return self.domain.split(".", 1)[0]

    @property
    def gid(self) -> str:
        return gid("Shop", self.id)
