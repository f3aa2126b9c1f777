"""A living store for the demo: orders, checkouts, customer changes, storefront visits and
restocks arriving over time.

Layer: connectors/sandbox. Runs in the caller's thread until its stop event is set; every action
goes through the store's public methods, so each one emits exactly the webhooks Shopify would;
shoppers' product views and back-in-stock requests are posted to the app as the web pixel
(extensions/kizuna-pixel) and the theme block post them. A failing action is logged and the loop
carries on: a demo must not stop because one did.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from connectors.sandbox.shopify.sandbox import SandboxShopify
    from connectors.sandbox.shopify.store import SandboxStore

log = logging.getLogger(__name__)

PROFILE_CHANGES = (
    {"note": "Prefers gift wrapping"},
    {"note": "Asked about matcha grades"},
    {"city": "品川区", "province": "Tokyo", "province_code": "JP-13", "zip": "140-0001"},
    {"city": "Kyoto", "province": "Kyoto", "province_code": "JP-26", "zip": "604-8001"},
    {"tags": ["VIP"]},
    {"locale": "en"},
)


@dataclass
class _ReturningBuyer:
    """A buyer who left a checkout and will come back to pay after `ticks` more rounds."""

    domain: str
    token: str
    ticks: int


def run_activity(sandbox: SandboxShopify, stop: threading.Event, *, interval: float = 5.0) -> None:
    """Every `interval` seconds, act on each store where the app is installed."""
    rng = random.Random(f"{sandbox.seed}/activity")
    returning: list[_ReturningBuyer] = []
    while not stop.wait(interval):
        for store in sandbox.shops:
            if not store.installed:
                continue
            try:
                _tick(store, rng, returning)
                _visit(sandbox.app_url, store, rng)
            except Exception:
                log.exception("sandbox activity failed", extra={"shop": store.domain})
        for buyer in returning:
            buyer.ticks -= 1
        due = [buyer for buyer in returning if buyer.ticks <= 0]
        returning[:] = [buyer for buyer in returning if buyer.ticks > 0]
        for buyer in due:
            shop = sandbox.find_shop(buyer.domain)
            if shop is None or not shop.installed:
                continue
            try:
                shop.complete_checkout(buyer.token)
            except (KeyError, ValueError):
                log.info("returning buyer found the checkout gone", extra={"shop": buyer.domain})


def _tick(store: SandboxStore, rng: random.Random, returning: list[_ReturningBuyer]) -> None:
    if rng.random() < 0.45:
        buyer = None
        if rng.random() < 0.25:
            buyer = store.create_customer()["id"]
        store.create_order(buyer, guest=buyer is None and rng.random() < 0.15)
    if rng.random() < 0.35:
        checkout = store.create_checkout(guest=rng.random() < 0.15)
        if rng.random() < 0.3:  # some buyers come back and pay a little later
            returning.append(_ReturningBuyer(store.domain, checkout["token"], rng.randint(1, 4)))
    if rng.random() < 0.25:
        customer = store.random_customer()
        store.update_customer(customer.id, **rng.choice(PROFILE_CHANGES))
    if rng.random() < 0.08:
        customer = store.random_customer()
        store.set_email_marketing(
            customer.id, rng.choice(("SUBSCRIBED", "UNSUBSCRIBED", "SUBSCRIBED", "PENDING"))
        )
    if rng.random() < 0.1:
        store.create_customer()


def _post(app_url: str | None, path: str, store: SandboxStore, body: dict[str, Any]) -> None:
    if app_url is None:
        return
    url = f"{app_url}/storefront/{path}?shop_domain={store.domain}"
    try:
        httpx.post(url, json=body, timeout=5.0)
    except httpx.HTTPError:
        log.info("storefront post failed", extra={"shop": store.domain})


def _visit(app_url: str | None, store: SandboxStore, rng: random.Random) -> None:
    """Shoppers browse: a signed-in customer views a few products (and sometimes adds one to a
    cart); now and then a sold-out variant gets a back-in-stock request, and one comes back."""
    if not store.products:
        return
    if rng.random() < 0.4:
        customer = store.random_customer()
        viewed = rng.sample(store.products, k=min(len(store.products), rng.randint(1, 3)))
        events = [
            {
                "id": uuid.uuid4().hex,
                "type": "product_viewed",
                "product": str(product.id),
                "variant": str(product.variants[0].id) if product.variants else None,
                "at": datetime.now(UTC).isoformat(),
            }
            for product in viewed
        ]
        if rng.random() < 0.2:
            events.append({**events[0], "id": uuid.uuid4().hex, "type": "product_added_to_cart"})
        _post(
            app_url,
            "events",
            store,
            {
                "visitor": f"demo-visitor-{customer.id}",
                "customer": str(customer.id),
                "consent": {"analytics": True, "marketing": rng.random() < 0.8},
                "events": events,
            },
        )
    if rng.random() < 0.1:
        product = rng.choice(store.products)
        if product.variants:
            variant = product.variants[0]
            if variant.inventory_quantity > 0:
                store.set_inventory(variant.id, 0)
            customer = store.random_customer()
            if customer.email:
                body = {"email": customer.email, "product": str(product.id), "locale": "ja"}
                _post(app_url, "back-in-stock", store, body)
    if rng.random() < 0.05:
        sold_out = [
            variant
            for product in store.products
            for variant in product.variants
            if variant.inventory_quantity == 0
        ]
        if sold_out:
            store.set_inventory(rng.choice(sold_out).id, rng.randint(1, 5))
