"""Fixtures for browser tests inside the simulated Shopify admin.

Kizuna, the simulated Shopify (store, admin page, stand-in App Bridge) and the simulated SendGrid
listen on loopback ports. The Chromium context serves App Bridge's CDN URL with the stand-in, drops
every `Cookie` header on requests to the app, and records what the app was sent and answered
(`Traffic`): the merchant's browser in Shopify's frame has no cookies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.flows.runs import message_unsubscribe_link
from app.models import Account, Customer, Shop
from app.models.flow import FlowRun, Message, MessageEvent
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.shopify.admin import app_bridge_script
from connectors.sandbox.shopify.server import embedded_admin_url
from tests.conftest import (
    SHOPIFY_API_KEY,
    SHOPIFY_API_SECRET,
    Dispatcher,
    LiveServer,
    make_test_env,
)
from tests.factories.admin import make_customer, make_order
from tests.factories.shops import build_shop

APP_BRIDGE_CDN = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
DOMAIN = "tea-house.myshopify.com"


@dataclass
class Stack:
    app_url: str
    shopify_url: str
    shopify: SandboxShopify
    sendgrid: SandboxSendGrid

    def admin_url(self, locale: str) -> str:
        return embedded_admin_url(self.shopify_url, DOMAIN, SHOPIFY_API_KEY, locale)

    def api(self, path: str) -> Any:
        """GET /api/v1/<path> as the embedded admin's fetch would send it: a session token."""
        token = self.shopify.mint_session_token(DOMAIN)
        response = httpx.get(
            f"{self.app_url}/api/v1/{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()


@dataclass
class Traffic:
    """What the browser sent to the app and what the app answered."""

    app_url: str
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # method, url, bearer
    cookies_sent: list[str] = field(default_factory=list)
    set_cookies: list[str] = field(default_factory=list)

    def app_paths(self) -> list[str]:
        return [url.removeprefix(self.app_url) for _method, url, _bearer in self.requests]


@pytest.fixture
def servers() -> Iterator[dict[str, tuple[LiveServer, Dispatcher]]]:
    made = {}
    for name in ("app", "shopify", "sendgrid"):
        dispatcher = Dispatcher()
        made[name] = (LiveServer(dispatcher), dispatcher)
    yield made
    for server, _dispatcher in made.values():
        server.stop()


@pytest.fixture
def sendgrid(servers: dict[str, tuple[LiveServer, Dispatcher]]) -> SandboxSendGrid:
    sandbox = SandboxSendGrid()
    servers["sendgrid"][1].target = sandbox.wsgi_app
    return sandbox


@pytest.fixture
def config(
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    servers: dict[str, tuple[LiveServer, Dispatcher]],
    sendgrid: SandboxSendGrid,
) -> Config:
    env = make_test_env(
        database_url,
        redis_url,
        APP_URL=servers["app"][0].url,
        SHOPIFY_SANDBOX_URL=servers["shopify"][0].url,
        SENDGRID_SANDBOX_URL=servers["sendgrid"][0].url,
        SENDGRID_EVENT_PUBLIC_KEY=sendgrid.public_key_b64,
    )
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def stack(
    app: Flask, servers: dict[str, tuple[LiveServer, Dispatcher]], sendgrid: SandboxSendGrid
) -> Iterator[Stack]:
    shopify = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=3)
    shopify.add_shop(DOMAIN, customers=2, years=1, name="Tea House")
    app_url = servers["app"][0].url
    shopify.set_app_url(app_url)
    servers["shopify"][1].target = shopify.wsgi_app
    servers["app"][1].target = app
    yield Stack(app_url, servers["shopify"][0].url, shopify, sendgrid)
    shopify.close()


@dataclass
class World:
    account: Account
    shop: Shop
    customer: Customer
    message: Message


def build_world(db: Session, stack: Stack, config: Config, locale: str) -> World:
    """The installed store (an offline token held), a customer with an order, and one cart
    email sent to her through the simulated SendGrid, delivered and opened."""
    shop = build_shop(
        db,
        DOMAIN,
        account_name="Tea House",
        name="Tea House",
        install_method="managed",
        scopes="read_customers,write_customers,read_orders,read_products,read_checkouts",
        access_token_encrypted=b"held-by-the-test",
        installed_at=datetime.now(UTC) - timedelta(hours=2),
        timezone="Asia/Tokyo",
        currency="JPY",
        locale=locale,
    )
    hanako = make_customer(
        db,
        shop,
        first_name="Hanako",
        last_name="Tanaka",
        email="hanako@example.jp",
        email_marketing_state="SUBSCRIBED",
        country_code="JP",
        orders_count=1,
    )
    for n in range(3):
        make_customer(db, shop, first_name=f"Other{n}", country_code="JP" if n else "US")
    when = datetime.now(UTC) - timedelta(days=20)
    make_order(db, shop, hanako, "#1001", [("Sencha 100g", 2, "1200")], processed_at=when)
    run = FlowRun(
        shop_id=shop.id,
        flow_key="cart",
        customer_id=hanako.id,
        trigger_key="checkout-token-1",
        status="completed",
        started_at=when,
        ended_at=when + timedelta(hours=2),
    )
    db.add(run)
    db.flush()
    sent_at = when + timedelta(hours=1)
    message = Message(
        shop_id=shop.id,
        flow_run_id=run.id,
        step=1,
        customer_id=hanako.id,
        status="sent",
        subject="Your cart at Tea House",
        x_message_id="sg-tour-1",
        sent_at=sent_at,
        delivered_at=sent_at + timedelta(minutes=1),
        opened_at=sent_at + timedelta(minutes=9),
    )
    db.add(message)
    db.flush()
    for minutes, kind in ((1, "delivered"), (9, "open")):
        db.add(
            MessageEvent(
                shop_id=shop.id,
                message_id=message.id,
                event=kind,
                occurred_at=sent_at + timedelta(minutes=minutes),
                natural_key=f"{kind}-{message.id}",
            )
        )
    db.commit()
    link = message_unsubscribe_link(config, shop, hanako, message)
    stack.sendgrid.accept(
        {
            "from": {"email": "shop@tea-house.example", "name": "Tea House"},
            "personalizations": [{"to": [{"email": "hanako@example.jp"}]}],
            "subject": "Your cart at Tea House",
            "content": [
                {"type": "text/plain", "value": f"Your sencha is waiting. Unsubscribe: {link}"},
                {
                    "type": "text/html",
                    "value": f'<h1>Your sencha is waiting</h1><p><a href="{link}">Unsubscribe</a>',
                },
            ],
            "categories": ["kizuna", "flow-cart", "cart-step-1"],
            "custom_args": {"kizuna_shop_id": str(shop.id), "kizuna_message_id": str(message.id)},
        }
    )
    account = db.get_one(Account, shop.account_id)
    return World(account, shop, hanako, message)


def open_context(browser: Any, app_url: str, locale: str) -> tuple[Any, Traffic]:
    """A context as the merchant's browser in Shopify's frame: App Bridge from its CDN URL (the
    stand-in), no Cookie header ever reaching the app; the traffic is recorded."""
    context = browser.new_context(
        locale="ja-JP" if locale == "ja" else "en-US", viewport={"width": 1280, "height": 900}
    )
    traffic = Traffic(app_url)
    script = app_bridge_script()
    context.route(
        APP_BRIDGE_CDN,
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=script),
    )

    def without_cookie(route: Any) -> None:
        headers = route.request.all_headers()
        if "cookie" in headers:
            traffic.cookies_sent.append(route.request.url)
        route.continue_(headers={k: v for k, v in headers.items() if k != "cookie"})

    app_pattern = re.compile("^" + re.escape(app_url) + "/")
    context.route(app_pattern, without_cookie)

    def on_request(request: Any) -> None:
        if app_pattern.match(request.url):
            bearer = (request.all_headers().get("authorization") or "").startswith("Bearer ")
            traffic.requests.append((request.method, request.url, bearer))

    def on_response(response: Any) -> None:
        if app_pattern.match(response.url) and response.header_value("set-cookie"):
            traffic.set_cookies.append(response.url)

    context.on("request", on_request)
    context.on("response", on_response)
    return context, traffic
