"""One simulated WooCommerce store: customers, products, orders, API keys and webhooks in memory.

Layer: connectors/sandbox. Deterministic from the seed; resources in the REST v3 docs' shapes,
rendered at read time; guests exist only as billing data. All methods hold the store lock.
"""

from __future__ import annotations

import random
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

FIRST_NAMES = ("Yui", "Haruto", "Sakura", "Ren", "Aoi", "Sota", "Hina", "Yuto", "Mio", "Riku")
LAST_NAMES = ("Sato", "Suzuki", "Takahashi", "Tanaka", "Ito", "Watanabe", "Yamamoto", "Kato")
CITIES = ("Tokyo", "Osaka", "Kyoto", "Sapporo", "Fukuoka", "Nagoya")
PRODUCT_NAMES = (
    "Matcha Set",
    "Tenugui Towel",
    "Kyusu Teapot",
    "Sencha 100g",
    "Hojicha 100g",
    "Chawan Bowl",
    "Bamboo Whisk",
    "Yuzu Candle",
)
# Product categories (id, name, slug) and the products in each; ids are fixed, outside the
# store's id sequence, so that categories change no other generated id.
CATEGORIES = (
    (16, "Tea", "tea", ("Matcha Set", "Sencha 100g", "Hojicha 100g")),
    (17, "Teaware", "teaware", ("Matcha Set", "Kyusu Teapot", "Chawan Bowl", "Bamboo Whisk")),
    (18, "Home & Gifts", "home-gifts", ("Tenugui Towel", "Yuzu Candle")),
)
UNCATEGORIZED = (15, "Uncategorized", "uncategorized")
ORDER_STATUSES = ("processing", "completed", "on-hold", "cancelled", "refunded")
OPEN_CHECKOUT_STATUSES = ("pending", "failed", "checkout-draft")


def wc_time(value: datetime) -> str:
    """WooCommerce's date format: ISO 8601 without offset."""
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def _hash40() -> str:
    return secrets.token_hex(20)


def demo_birthday(customer_id: int) -> str | None:
    """A birthday (`YYYY-MM-DD`) for one customer in four, spread over the year; derived from
    the id, so no random draw of the generated store changes."""
    if customer_id % 4:
        return None
    number = customer_id // 4
    return f"{1960 + number % 45:04d}-{1 + number % 12:02d}-{1 + (number // 12) % 28:02d}"


@dataclass
class ApiKey:
    key_id: int
    consumer_key: str
    consumer_secret: str
    permissions: str
    description: str


@dataclass
class Webhook:
    id: int
    name: str
    topic: str
    delivery_url: str
    secret: str
    status: str
    created_at: datetime
    modified_at: datetime
    failure_count: int = 0


@dataclass
class SandboxStore:
    """A WooCommerce store under `/{url_path}/` with its own clock offset and currency."""

    url_path: str
    currency: str
    utc_offset: timedelta
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)  # consumer_key → key
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Product pictures from this store's own uploads (the demo), else from a far host.
    serve_images: bool = False
    _next_id: int = 100
    _next_key_id: int = 1
    _next_webhook_id: int = 1

    # --- ids and keys ---------------------------------------------------------------------

    def next_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def create_key(self, app_name: str, permissions: str) -> ApiKey:
        with self.lock:
            key = ApiKey(
                self._next_key_id,
                "ck_" + _hash40(),
                "cs_" + _hash40(),
                permissions,
                f"{app_name[:170]} - API ({wc_time(datetime.now(UTC))})",
            )
            self._next_key_id += 1
            self.keys[key.consumer_key] = key
            return key

    def delete_key(self, consumer_key: str) -> None:
        with self.lock:
            self.keys.pop(consumer_key, None)

    def new_webhook(self, **values: Any) -> Webhook:
        with self.lock:
            now = datetime.now(UTC)
            hook = Webhook(id=self._next_webhook_id, created_at=now, modified_at=now, **values)
            self._next_webhook_id += 1
            self.webhooks[hook.id] = hook
            return hook

    # --- rendering ------------------------------------------------------------------------

    def _dates(self, name: str, value: datetime | None) -> dict[str, Any]:
        if value is None:
            return {name: None, f"{name}_gmt": None}
        return {name: wc_time(value + self.utc_offset), f"{name}_gmt": wc_time(value)}

    def _links(self, base_url: str, kind: str, resource_id: int) -> dict[str, Any]:
        root = f"{base_url}/wp-json/wc/v3/{kind}"
        return {
            "self": [{"href": f"{root}/{resource_id}"}],
            "collection": [{"href": root}],
        }

    def render_customer(self, customer: dict[str, Any], base_url: str) -> dict[str, Any]:
        return {
            "id": customer["id"],
            **self._dates("date_created", customer["created"]),
            **self._dates("date_modified", customer["modified"]),
            "email": customer["email"],
            "first_name": customer["first_name"],
            "last_name": customer["last_name"],
            "role": "customer",
            "username": customer["email"].split("@")[0],
            "billing": dict(customer["billing"]),
            "shipping": {
                k: v for k, v in customer["billing"].items() if k not in ("email", "phone")
            },
            "is_paying_customer": customer.get("is_paying_customer", False),
            "avatar_url": "https://secure.gravatar.com/avatar/0?s=96",
            "meta_data": [dict(entry) for entry in customer.get("meta_data", ())],
            "_links": self._links(base_url, "customers", customer["id"]),
        }

    def render_product(self, product: dict[str, Any], base_url: str) -> dict[str, Any]:
        return {
            "id": product["id"],
            "name": product["name"],
            "slug": product["slug"],
            "permalink": f"{base_url}/product/{product['slug']}/",
            **self._dates("date_created", product["created"]),
            **self._dates("date_modified", product["modified"]),
            "type": "variable" if product["variations"] else "simple",
            "status": "publish",
            "sku": product["sku"],
            "price": product["price"],
            "regular_price": product["price"],
            "sale_price": "",
            **_stock(product.get("stock_quantity")),
            "images": [{"id": product["id"] + 1000, "src": _absolute(product["image"], base_url)}],
            "variations": [v["id"] for v in product["variations"]],
            "categories": [dict(category) for category in product.get("categories", [])],
            "_links": self._links(base_url, "products", product["id"]),
        }

    def render_order(self, order: dict[str, Any], base_url: str) -> dict[str, Any]:
        lines = []
        for line in order["lines"]:
            total = f"{line['price'] * line['quantity']:.2f}"
            lines.append(
                {
                    "id": line["id"],
                    "name": line["name"],
                    "product_id": line["product_id"],
                    "variation_id": line["variation_id"],
                    "quantity": line["quantity"],
                    "tax_class": "",
                    "subtotal": total,
                    "subtotal_tax": "0.00",
                    "total": total,
                    "total_tax": "0.00",
                    "taxes": [],
                    "meta_data": [],
                    "sku": line["sku"],
                    "price": line["price"],
                }
            )
        total = sum(line["price"] * line["quantity"] for line in order["lines"])
        paid = order.get("paid")
        billing = dict(order["billing"])
        return {
            "id": order["id"],
            "parent_id": 0,
            "number": str(order["id"]),
            "order_key": order["order_key"],
            "created_via": "checkout",
            "version": "9.4.0",
            "status": order["status"],
            "currency": self.currency,
            **self._dates("date_created", order["created"]),
            **self._dates("date_modified", order["modified"]),
            "discount_total": "0.00",
            "discount_tax": "0.00",
            "shipping_total": "0.00",
            "shipping_tax": "0.00",
            "cart_tax": "0.00",
            "total": f"{total:.2f}",
            "total_tax": "0.00",
            "prices_include_tax": True,
            "customer_id": order["customer_id"],
            "customer_ip_address": "",
            "customer_user_agent": "",
            "customer_note": "",
            "billing": billing,
            "shipping": {k: v for k, v in billing.items() if k not in ("email", "phone")},
            "payment_method": "stripe",
            "payment_method_title": "Credit card",
            "transaction_id": "",
            **self._dates("date_paid", paid),
            **self._dates("date_completed", order.get("completed")),
            "cart_hash": "",
            "meta_data": [dict(entry) for entry in order.get("meta_data", ())],
            "line_items": lines,
            "tax_lines": [],
            "shipping_lines": [],
            "fee_lines": [],
            "coupon_lines": [],
            "refunds": [],
            "payment_url": (
                f"{base_url}/checkout/order-pay/{order['id']}/"
                f"?pay_for_order=true&key={order['order_key']}"
            ),
            "_links": self._links(base_url, "orders", order["id"]),
        }

    # --- data -----------------------------------------------------------------------------

    def add_customer(
        self, rng: random.Random, created: datetime, email: str | None = None, **names: str
    ) -> dict[str, Any]:
        with self.lock:
            customer_id = self.next_id()
            first = names.get("first_name") or rng.choice(FIRST_NAMES)
            last = names.get("last_name") or rng.choice(LAST_NAMES)
            email = email or f"{first.lower()}.{last.lower()}.{customer_id}@example.jp"
            customer = {
                "id": customer_id,
                "created": created,
                "modified": created,
                "email": email,
                "first_name": first,
                "last_name": last,
                "billing": _billing(rng, first, last, email),
            }
            birthday = demo_birthday(customer_id)
            if birthday is not None:  # as a birthday plugin keeps it
                customer["meta_data"] = [{"id": customer_id, "key": "birthday", "value": birthday}]
            self.customers[customer_id] = customer
            return customer

    def add_order(
        self,
        rng: random.Random,
        created: datetime,
        *,
        status: str,
        customer: dict[str, Any] | None = None,
        guest_email: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            order_id = self.next_id()
            if customer is not None:
                billing = dict(customer["billing"])
            else:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                email = guest_email if guest_email is not None else f"guest.{order_id}@example.jp"
                billing = _billing(rng, first, last, email)
            lines = []
            for product in rng.sample(
                sorted(self.products.values(), key=lambda p: p["id"]),
                k=min(len(self.products), rng.randint(1, 3)),
            ):
                variation = rng.choice(product["variations"]) if product["variations"] else None
                lines.append(
                    {
                        "id": self.next_id(),
                        "name": product["name"] + (f" - {variation['name']}" if variation else ""),
                        "product_id": product["id"],
                        "variation_id": variation["id"] if variation else 0,
                        "quantity": rng.randint(1, 3),
                        "sku": variation["sku"] if variation else product["sku"],
                        "price": int(variation["price"] if variation else product["price"]),
                    }
                )
            paid = created + timedelta(minutes=2) if status not in OPEN_CHECKOUT_STATUSES else None
            order = {
                "id": order_id,
                "order_key": "wc_order_" + secrets.token_hex(6),
                "status": status,
                "created": created,
                "modified": paid or created,
                "paid": paid,
                "completed": created + timedelta(days=2) if status == "completed" else None,
                "customer_id": customer["id"] if customer else 0,
                "billing": billing,
                "lines": lines,
            }
            self.orders[order_id] = order
            return order

    def add_product(self, rng: random.Random, name: str, created: datetime) -> dict[str, Any]:
        with self.lock:
            product_id = self.next_id()
            price = rng.choice((800, 1200, 1800, 2400, 3600))
            slug = name.lower().replace(" ", "-")
            variations = []
            if rng.random() < 0.4:
                for size in ("S", "M", "L"):
                    variations.append(
                        {
                            "id": self.next_id(),
                            "name": size,
                            "sku": f"{slug}-{size}".upper(),
                            "price": price,
                        }
                    )
            product = {
                "id": product_id,
                "name": name,
                "slug": slug,
                "sku": slug.upper(),
                "price": str(price),
                "created": created,
                "modified": created,
                "image": (
                    f"/wp-content/uploads/{slug}.png"
                    if self.serve_images
                    else f"https://example.jp/wp-content/uploads/{slug}.jpg"
                ),
                "variations": variations,
                "categories": categories_for(name),
            }
            self.products[product_id] = product
            return product


def _stock(quantity: int | None) -> dict[str, Any]:
    """REST v3's stock fields: unmanaged stock (in stock) unless a quantity was set."""
    if quantity is None:
        return {"manage_stock": False, "stock_quantity": None, "stock_status": "instock"}
    status = "instock" if quantity > 0 else "outofstock"
    return {"manage_stock": True, "stock_quantity": quantity, "stock_status": status}


def categories_for(name: str) -> list[dict[str, Any]]:
    """A product's categories as REST v3 lists them; WooCommerce files the rest under
    "Uncategorized"."""
    found = [
        {"id": number, "name": title, "slug": slug}
        for number, title, slug, names in CATEGORIES
        if name in names
    ]
    number, title, slug = UNCATEGORIZED
    return found or [{"id": number, "name": title, "slug": slug}]


def _billing(rng: random.Random, first: str, last: str, email: str) -> dict[str, str]:
    return {
        "first_name": first,
        "last_name": last,
        "company": "",
        "address_1": f"{rng.randint(1, 9)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}",
        "address_2": "",
        "city": rng.choice(CITIES),
        "state": "",
        "postcode": f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        "country": "JP",
        "email": email,
        "phone": f"090-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
    }


def _absolute(src: str, base_url: str) -> str:
    """A picture the store serves itself is a path under its address."""
    return base_url + src if src.startswith("/") else src


def generate_store(
    rng: random.Random,
    url_path: str,
    *,
    customers: int,
    years: int,
    currency: str,
    utc_offset: timedelta,
    now: datetime,
    serve_images: bool = False,
) -> SandboxStore:
    """A store with `customers` registered customers, about as many guests, and their orders."""
    store = SandboxStore(
        url_path=url_path, currency=currency, utc_offset=utc_offset, serve_images=serve_images
    )
    start = now - timedelta(days=365 * max(years, 0) or 30)
    span = (now - start).total_seconds()

    def moment() -> datetime:
        return (start + timedelta(seconds=rng.uniform(0, span))).replace(microsecond=0)

    for name in PRODUCT_NAMES:
        store.add_product(rng, name, start)
    registered = [store.add_customer(rng, moment()) for _ in range(customers)]
    for customer in registered:
        for _ in range(rng.randint(0, 3)):
            created = max(moment(), customer["created"])
            store.add_order(rng, created, status=rng.choice(ORDER_STATUSES), customer=customer)
    for index in range(max(customers // 2, 1)):
        email = f"guest.{index}@example.jp"
        for _ in range(rng.randint(1, 2)):
            store.add_order(rng, moment(), status=rng.choice(ORDER_STATUSES), guest_email=email)
    for status in OPEN_CHECKOUT_STATUSES:
        buyer = rng.choice(registered) if registered else None
        store.add_order(rng, now - timedelta(hours=2), status=status, customer=buyer)
        store.add_order(rng, now - timedelta(hours=3), status=status, guest_email=None)
    return store
