"""The simulated WooCommerce store's pages with Kizuna's storefront script in the theme: shoppers'
product views and adds to cart, posted as the script posts them from a browser.

Layer: connectors/sandbox. The script tag the merchant adds (`kizuna shops capture-script`) is all
the store knows of Kizuna: the endpoints are read from the script Kizuna serves at that address,
and every post carries the store's own `Origin`, as a browser on the store's pages does. Each
customer browses as one visitor (the script keeps its token in localStorage); some have typed
their email at checkout once (the script's cart capture), so their later views count for them.
A failing post is logged and the shopper moves on: a demo must not stop because one did.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.sandbox.woocommerce.store import SandboxStore

log = logging.getLogger(__name__)

# `var eventsEndpoint = "https://…/storefront/events?shop=…&key=…";` in the served script.
_SCRIPT_VARIABLE = r'var {name} = ("(?:[^"\\]|\\.)*");'
CHECKOUT_SHARE = 0.3  # of a visitor's first visits: they go on to type their email at checkout
TIMEOUT = 5.0


def visitor_token(store: SandboxStore, customer_id: int) -> str:
    """The script's visitor token (also its cart token) of one customer's browser: stable."""
    return hashlib.sha256(f"{store.url_path}/{customer_id}".encode()).hexdigest()[:32]


def script_variable(script: str, name: str) -> str | None:
    """The string the served script assigns to `var <name>`, or None."""
    found = re.search(_SCRIPT_VARIABLE.format(name=re.escape(name)), script)
    if found is None:
        return None
    value = json.loads(found.group(1))
    return value if isinstance(value, str) else None


@dataclass
class StorefrontScript:
    """Kizuna's script as installed in one store's theme (`src` of the script tag)."""

    src: str
    events_endpoint: str | None = None
    capture_endpoint: str | None = None
    identified: set[int] = field(default_factory=set)  # customers who typed their email

    def load(self, client: httpx.Client) -> bool:
        """Fetch the script once, as the first page view does; whether its endpoints are known."""
        if self.events_endpoint is None:
            response = client.get(self.src)
            if response.status_code != 200:
                log.info("storefront script not served", extra={"status": response.status_code})
                return False
            self.events_endpoint = script_variable(response.text, "eventsEndpoint")
            self.capture_endpoint = script_variable(response.text, "endpoint")
        return self.events_endpoint is not None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def visit(
    script: StorefrontScript,
    store: SandboxStore,
    store_url: str,
    rng: random.Random,
    client: httpx.Client,
) -> int:
    """One customer browses a few product pages (sometimes adding one to the cart) and, on a
    first visit, may type their email at checkout; → the number of events posted."""
    with store.lock:
        customers = sorted(store.customers)
        products = [store.products[number] for number in sorted(store.products)]
    if not customers or not products or not script.load(client):
        return 0
    customer_id = rng.choice(customers)
    token = visitor_token(store, customer_id)
    viewed = rng.sample(products, k=min(len(products), rng.randint(1, 3)))
    now = datetime.now(UTC).isoformat()
    events = [
        {"id": uuid.uuid4().hex, "type": "product_viewed", "product": str(p["id"]), "at": now}
        for p in viewed
    ]
    if rng.random() < 0.2:
        events.append({**events[0], "id": uuid.uuid4().hex, "type": "product_added_to_cart"})
    headers = {"Origin": _origin(store_url)}
    body = {
        "visitor": token,
        "consent": {"analytics": True, "marketing": rng.random() < 0.8},
        "events": events,
    }
    assert script.events_endpoint is not None  # noqa: S101 - load() said so
    try:
        posted = client.post(script.events_endpoint, json=body, headers=headers)
        if posted.status_code != 202:
            log.info("storefront events refused", extra={"status": posted.status_code})
            return 0
        if customer_id not in script.identified and rng.random() < CHECKOUT_SHARE:
            _checkout(script, store, store_url, customer_id, token, viewed[0], client)
    except httpx.HTTPError:
        log.info("storefront post failed", extra={"store": store.url_path})
        return 0
    return len(events)


def _checkout(
    script: StorefrontScript,
    store: SandboxStore,
    store_url: str,
    customer_id: int,
    token: str,
    product: dict[str, Any],
    client: httpx.Client,
) -> None:
    """The shopper types their email at checkout, the opt-in box left as it is: the script
    posts the cart, and from then on the visitor's views are the customer's."""
    with store.lock:
        email = store.customers[customer_id].get("email")
    if not email or script.capture_endpoint is None:
        return
    body = {
        "email": email,
        "cart_token": token,
        "items": [
            {
                "title": product["name"],
                "quantity": 1,
                "price": str(product["price"]),
                "product_id": product["id"],
                "variant_id": None,
                "image_url": None,
            }
        ],
        "currency": store.currency,
        "cart_url": f"{store_url}/cart/",
        "marketing_consent": False,
    }
    answer = client.post(script.capture_endpoint, json=body, headers={"Origin": _origin(store_url)})
    if answer.is_success:
        script.identified.add(customer_id)
