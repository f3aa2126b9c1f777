"""Bad data from a platform is stored as far as it is valid and reported, never crashes a sync.

Real PostgreSQL and Redis, HTTP to the simulated stores. Records the stores' Python APIs cannot
make (a malformed amount, a five-letter currency, a line item without id) are produced by a
WSGI middleware that rewrites the simulator's JSON answers for chosen ids: what a misbehaving
plugin or a hand-edited database would send.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import jobs.sync
from app.config import Config, load_config
from app.kizuna import Kizuna
from app.models import Customer, Order, Shop
from app.services import woocommerce_sync
from app.services.install_shop import connect_custom_app
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.woocommerce import SandboxWooCommerce
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET, LiveServer, make_test_env
from tests.factories.admin import pages_in_both_languages
from tests.factories.sync_resume import connect_woo_store

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

DOMAIN = "bad-data-store.myshopify.com"
WOO_STORE = "bad-data-store"


class Rewriter:
    """WSGI middleware: JSON answers pass through `edit` (which changes them in place)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.edit: Callable[[Any], None] = lambda body: None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            raw = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers = captured["headers"]
        types = [v for k, v in headers if k.lower() == "content-type"]
        if types and "json" in types[0]:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if body is not None:
                self.edit(body)
                raw = json.dumps(body).encode()
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(raw))))
        start_response(captured["status"], headers)
        return [raw]


def _shop(db: Session, shop_id: int) -> Shop:
    db.expire_all()
    shop = db.get(Shop, shop_id)
    assert shop is not None
    return shop


def _order_ids(db: Session, shop_id: int) -> set[str]:
    db.expire_all()
    return set(db.scalars(select(Order.external_id).where(Order.shop_id == shop_id)))


def _no_personal_data(skipped: Any) -> None:
    text = json.dumps(skipped)
    assert "@" not in text
    assert len(text) < 1000


def _skipped_orders_shown(
    client: Any, runtime: Kizuna, db: Session, shop: Shop, platform: str
) -> None:
    """The three broken orders are reported on the status page in the merchant's language."""
    assert shop.last_error_code == "shop_error.records_skipped"
    _no_personal_data(shop.last_error_params)
    pages = pages_in_both_languages(client, runtime, db, shop.id)
    assert (
        f"The sync left out 3 records from {platform} that Kizuna could not read: "
        "Orders: 3 (unreadable amount, unreadable currency code, no id)"
    ) in pages["en"]
    assert (
        f"{platform} から届いた 3 件のレコードを Kizuna が読み取れなかったため、"
        "同期から除外しました: "
        "注文: 3 件（金額を読み取れない、通貨コードを読み取れない、ID がない）"
    ) in pages["ja"]
    assert "The sync left out" not in pages["ja"]


# --- WooCommerce -----------------------------------------------------------------------------


@pytest.fixture
def woo(serve: Any) -> Iterator[tuple[SandboxWooCommerce, Rewriter, LiveServer]]:
    platform = SandboxWooCommerce(seed=31)
    platform.add_store(WOO_STORE, customers=12, years=1, currency="JPY")
    rewriter = Rewriter(platform.wsgi_app)
    yield platform, rewriter, serve(rewriter)
    platform.close()


def test_woocommerce_bad_records_are_skipped_counted_and_the_rest_stored(
    app: Any,
    client: Any,
    runtime: Kizuna,
    db: Session,
    woo: tuple[SandboxWooCommerce, Rewriter, LiveServer],
) -> None:
    platform, rewriter, server = woo
    store = platform.store(WOO_STORE)
    shop_id = connect_woo_store(runtime, platform, server.url, WOO_STORE)

    # Valid but thin: a customer with no email and no name, an order with no line items.
    nameless = platform.create_customer(WOO_STORE)
    with store.lock:
        nameless.update(email="", first_name="", last_name="")
        nameless["billing"] = dict.fromkeys(nameless["billing"], "")
    no_lines = platform.create_order(WOO_STORE, customer_id=min(store.customers))
    with store.lock:
        no_lines["lines"] = []
    # An order whose customer was deleted in WooCommerce meanwhile.
    doomed = platform.create_customer(WOO_STORE)
    orphan = platform.create_order(WOO_STORE, customer_id=doomed["id"])
    with store.lock:
        del store.customers[doomed["id"]]
    # Broken: a malformed amount, a five-letter currency, a line item without an id.
    bad_amount = platform.create_order(WOO_STORE, customer_id=min(store.customers))
    bad_currency = platform.create_order(WOO_STORE, customer_id=min(store.customers))
    bad_line = platform.create_order(WOO_STORE, customer_id=min(store.customers))
    odd_currency = platform.create_order(WOO_STORE, customer_id=min(store.customers))
    tamper: dict[int, Callable[[dict[str, Any]], None]] = {
        bad_amount["id"]: lambda o: o.update(total="1.234,50"),
        bad_currency["id"]: lambda o: o.update(currency="BITCN"),
        bad_line["id"]: lambda o: o["line_items"][0].pop("id"),
        odd_currency["id"]: lambda o: o.update(currency="XTS"),  # well-formed, not a real one
    }

    def edit(body: Any) -> None:
        for item in body if isinstance(body, list) else []:
            if isinstance(item, dict) and item.get("id") in tamper and "line_items" in item:
                tamper[item["id"]](item)

    rewriter.edit = edit

    done = woocommerce_sync.run_sync(runtime, shop_id, incremental=False)

    shop = _shop(db, shop_id)
    state = shop.sync_state
    assert state["status"] == "done", state
    stored = _order_ids(db, shop_id)
    broken = {str(o["id"]) for o in (bad_amount, bad_currency, bad_line)}
    assert not broken & stored
    assert {str(no_lines["id"]), str(orphan["id"]), str(odd_currency["id"])} <= stored
    valid = {
        str(number)
        for number, order in store.orders.items()
        if order["status"] not in ("pending", "failed", "checkout-draft")
    } - broken
    assert valid <= stored
    nameless_row = db.scalars(
        select(Customer).where(
            Customer.shop_id == shop_id, Customer.external_id == str(nameless["id"])
        )
    ).one()
    assert nameless_row.email is None
    assert nameless_row.first_name is None
    orphan_row = db.scalars(
        select(Order).where(Order.shop_id == shop_id, Order.external_id == str(orphan["id"]))
    ).one()
    assert orphan_row.customer_id is not None  # a row for the vanished customer, linked
    # Reported: counts and short reasons, no personal data.
    skipped = state["skipped"]
    assert skipped["orders"]["count"] == 3
    assert skipped["orders"]["reasons"] == {"bad_amount": 1, "bad_currency": 1, "no_id": 1}
    _no_personal_data(skipped)
    _skipped_orders_shown(client, runtime, db, shop, "WooCommerce")
    assert done["orders"] >= len(valid)


# --- Shopify ---------------------------------------------------------------------------------


@pytest.fixture
def shopify(serve: Any) -> Iterator[tuple[SandboxShopify, Rewriter, LiveServer]]:
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=31, plan="plus")
    platform.add_shop(DOMAIN, customers=12, years=1, name="Bad Data Store")
    platform.webhook_retry_delays = ()
    rewriter = Rewriter(platform.wsgi_app)
    yield platform, rewriter, serve(rewriter)
    platform.close()


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Any, request: Any) -> Config:
    extra: dict[str, str] = {}
    if "shopify" in request.fixturenames:
        extra["SHOPIFY_SANDBOX_URL"] = request.getfixturevalue("shopify")[2].url
    return load_config(make_test_env(database_url, redis_url, **extra), tmp_path / "instance")


def _gid_tail(value: Any) -> str:
    return str(value).rsplit("/", 1)[-1]


def test_shopify_bad_records_are_skipped_counted_and_the_rest_stored(
    app: Any,
    client: Any,
    runtime: Kizuna,
    db: Session,
    shopify: tuple[SandboxShopify, Rewriter, LiveServer],
) -> None:
    platform, rewriter, _server = shopify
    store = platform.shop(DOMAIN)
    token = platform.install_app(DOMAIN, expiring=False)["access_token"]
    shop_id = connect_custom_app(runtime, DOMAIN, token)

    with platform.webhooks_muted(DOMAIN):
        nameless = store.create_customer(email=None, first_name="", last_name="")
        buyer = store.customers[0].id
        no_lines = store.create_order(buyer)
        doomed = store.create_customer()
        orphan = store.create_order(doomed["id"])
        bad_amount = store.create_order(buyer)
        bad_currency = store.create_order(buyer)
        bad_line = store.create_order(buyer)
    with store.lock:
        order = store.order_by_id(int(no_lines["id"]))
        assert order is not None
        order.lines = []
        gone = store.customer_by_id(int(doomed["id"]))
        store.customers.remove(gone)
        store._customers_by_id.pop(int(doomed["id"]))  # deleted in Shopify meanwhile
    amount = {"amount": "1.234,50", "currencyCode": "JPY"}
    tamper: dict[str, Callable[[dict[str, Any]], None]] = {
        str(bad_amount["id"]): lambda n: n["totalPriceSet"].update(shopMoney=amount),
        str(bad_currency["id"]): lambda n: n["totalPriceSet"]["shopMoney"].update(
            currencyCode="BITCN"
        ),
        str(bad_line["id"]): lambda n: n["lineItems"]["nodes"][0].pop("id"),
    }

    def edit(body: Any) -> None:
        orders = ((body or {}).get("data") or {}).get("orders") if isinstance(body, dict) else None
        for node in (orders or {}).get("nodes") or []:
            change = tamper.get(_gid_tail(node.get("id")))
            if change is not None and "totalPriceSet" in node:
                change(node)

    rewriter.edit = edit

    jobs.sync.backfill_shop(shop_id, True, False)

    shop = _shop(db, shop_id)
    state = shop.sync_state
    assert state["status"] == "done", state
    stored = _order_ids(db, shop_id)
    broken = {str(o["id"]) for o in (bad_amount, bad_currency, bad_line)}
    assert not broken & stored
    with store.lock:
        valid = {str(o.id) for o in store.orders} - broken
    assert stored == valid
    assert {str(no_lines["id"]), str(orphan["id"])} <= stored
    nameless_row = db.scalars(
        select(Customer).where(
            Customer.shop_id == shop_id, Customer.external_id == str(nameless["id"])
        )
    ).one()
    assert nameless_row.email is None
    orphan_row = db.scalars(
        select(Order).where(Order.shop_id == shop_id, Order.external_id == str(orphan["id"]))
    ).one()
    assert orphan_row.customer_id is None  # Shopify no longer names a customer
    skipped = state["skipped"]
    assert skipped["orders"]["count"] == 3
    assert skipped["orders"]["reasons"] == {"bad_amount": 1, "bad_currency": 1, "no_id": 1}
    _no_personal_data(skipped)
    _skipped_orders_shown(client, runtime, db, shop, "Shopify")
