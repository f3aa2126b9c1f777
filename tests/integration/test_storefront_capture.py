"""WooCommerce storefront cart capture: the script, and the endpoint it posts to."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Account, Checkout, Shop
from app.storefront import MAX_BODY_BYTES, capture_key

STORE = "https://tea.example.com"


@pytest.fixture
def store(db: Session, runtime: Any) -> Shop:
    account = Account(name="Tea")
    db.add(account)
    db.flush()
    shop = Shop(
        account_id=account.id,
        platform="woocommerce",
        domain=STORE,
        status="active",
        currency="JPY",
        timezone="Asia/Tokyo",
    )
    db.add(shop)
    db.commit()
    return shop


def _url(shop: Shop, runtime: Any, key: str | None = None) -> str:
    key = key or capture_key(runtime.config.secret_key, shop.id)
    return f"/storefront/woocommerce/capture?shop={shop.id}&key={key}"


def _cart(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "Hanako@Example.com",
        "cart_token": "cart0123456789",
        "currency": "JPY",
        "cart_url": f"{STORE}/cart/",
        "items": [
            {"title": "Sencha", "quantity": 2, "price": "1800", "product_id": 11},
            {"title": "Kyusu teapot", "quantity": 1, "price": "6400", "product_id": 12},
        ],
    }
    body.update(overrides)
    return body


def test_a_captured_cart_becomes_an_abandoned_checkout(
    client: Any, db: Session, runtime: Any, store: Shop
) -> None:
    response = client.post(_url(store, runtime), json=_cart(), headers={"Origin": STORE})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == STORE
    # The shopper changes the cart and the email field fires again: same checkout, updated.
    again = _cart(items=[{"title": "Sencha", "quantity": 3, "price": "1800"}])
    assert (
        client.post(_url(store, runtime), json=again, headers={"Origin": STORE}).status_code == 200
    )

    checkouts = db.scalars(select(Checkout).where(Checkout.shop_id == store.id)).all()
    assert len(checkouts) == 1
    checkout = checkouts[0]
    assert checkout.external_id == "capture:cart0123456789"
    assert checkout.email == "Hanako@Example.com"
    assert checkout.total_price == Decimal("5400")
    assert checkout.recovery_url == f"{STORE}/cart/"
    assert [item["quantity"] for item in checkout.line_items] == [3]
    assert checkout.completed_at is None


def test_preflight_is_answered_for_the_store_origin_only(
    client: Any, runtime: Any, store: Shop
) -> None:
    ok = client.options(_url(store, runtime), headers={"Origin": STORE})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == STORE
    assert (
        client.options(_url(store, runtime), headers={"Origin": "https://evil.example"}).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"email": "not-an-email"}, 400, "invalid_email"),
        ({"cart_token": "x"}, 400, "invalid_cart_token"),
        ({"items": []}, 400, "invalid_items"),
        ({"items": [{"title": "x", "quantity": -1, "price": "1"}]}, 400, "invalid_items"),
        ({"items": [{"title": "x", "quantity": 1, "price": "NaN"}]}, 400, "invalid_items"),
        ({"currency": "YENS"}, 400, "invalid_currency"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_stores_nothing(
    client: Any,
    db: Session,
    runtime: Any,
    store: Shop,
    change: dict[str, Any],
    status: int,
    error: str,
) -> None:
    response = client.post(_url(store, runtime), json=_cart(**change), headers={"Origin": STORE})
    assert response.status_code == status
    assert response.get_json()["error"] == error
    assert db.scalars(select(Checkout)).all() == []


def test_a_multi_megabyte_dotted_email_is_refused_at_once(
    client: Any, db: Session, runtime: Any, store: Shop
) -> None:
    # The shape that made a backtracking pattern spin for seconds per megabyte.
    email = "a@" + "." * 3_000_000 + "@"
    started = time.perf_counter()
    response = client.post(_url(store, runtime), json=_cart(email=email), headers={"Origin": STORE})
    assert time.perf_counter() - started < 3.0  # backtracking took seconds per megabyte
    assert response.status_code == 413
    assert response.get_json()["error"] == "body_too_large"
    assert db.scalars(select(Checkout)).all() == []


@pytest.mark.parametrize(
    "email",
    [
        "a@" + "." * 20_000 + "@",
        "a@" + "b" * 20_000 + ".jp",
        "hanako@" + "." * 300 + ".jp",
    ],
)
def test_an_over_long_email_under_the_body_cap_is_refused(
    client: Any, db: Session, runtime: Any, store: Shop, email: str
) -> None:
    started = time.perf_counter()
    response = client.post(_url(store, runtime), json=_cart(email=email), headers={"Origin": STORE})
    assert time.perf_counter() - started < 3.0  # backtracking took seconds per megabyte
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_email"
    assert db.scalars(select(Checkout)).all() == []


def test_a_body_over_the_cap_is_refused_before_it_is_read_even_when_chunked(
    app: Any, db: Session, runtime: Any, store: Shop, serve: Any
) -> None:
    """Over real HTTP: a declared length over the cap, and a chunked body with no length."""
    server = serve(app)
    url = server.url + _url(store, runtime)
    headers = {"Origin": STORE, "Content-Type": "application/json"}
    body = json.dumps(_cart(email="hanako@example.jp", padding="x" * MAX_BODY_BYTES)).encode()
    declared = requests.post(url, data=body, headers=headers, timeout=10)
    assert declared.status_code == 413
    assert declared.json()["error"] == "body_too_large"

    def chunks() -> Any:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    chunked = requests.post(url, data=chunks(), headers=headers, timeout=10)
    assert chunked.status_code == 413
    assert db.scalars(select(Checkout)).all() == []
    # A body just under the cap is read and parsed as usual.
    fitting = json.dumps(_cart(padding="x" * (MAX_BODY_BYTES - 1000))).encode()
    assert requests.post(url, data=fitting, headers=headers, timeout=10).status_code == 200


@pytest.mark.parametrize(
    "body", [b"[" * 30_000, b'{"email": ' + b"[" * 30_000, b"\xff\xfe", b'"too_large"']
)
def test_unparseable_or_too_deep_json_is_a_400(
    client: Any, db: Session, runtime: Any, store: Shop, body: bytes
) -> None:
    response = client.post(
        _url(store, runtime),
        data=body,
        headers={"Origin": STORE, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json"


def test_only_http_urls_from_the_shopper_are_kept(
    client: Any, db: Session, runtime: Any, store: Shop
) -> None:
    images = [
        "https://tea.example.com/sencha.jpg",
        "http://cdn.example.net/kyusu.png",
        "javascript:alert(document.cookie)",
        "JAVASCRIPT:alert(1)",
        "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
        "//evil.example/x.png",
        "vbscript:msgbox",
        "https://[::1",
        "https://tea.example.com/a.jpg\nBcc: x",
        "https://" + "a" * 2000 + ".example/x.png",
    ]
    items = [
        {"title": f"Tea {n}", "quantity": 1, "price": "100", "image_url": image}
        for n, image in enumerate(images)
    ]
    response = client.post(
        _url(store, runtime),
        json=_cart(items=items, cart_url="javascript://tea.example.com/%0aalert(1)"),
        headers={"Origin": STORE},
    )
    assert response.status_code == 200
    checkout = db.scalars(select(Checkout)).one()
    assert [item["image_url"] for item in checkout.line_items] == [
        "https://tea.example.com/sencha.jpg",
        "http://cdn.example.net/kyusu.png",
        *[None] * 8,
    ]
    assert checkout.recovery_url == f"{STORE}/cart/"
    # A cart URL that cannot be parsed falls back to the store's cart too, never a 500.
    again = client.post(
        _url(store, runtime), json=_cart(cart_url="https://[::1/cart/"), headers={"Origin": STORE}
    )
    assert again.status_code == 200


def test_a_wrong_key_or_origin_is_refused(
    client: Any, db: Session, runtime: Any, store: Shop
) -> None:
    wrong_key = client.post(
        _url(store, runtime, key="0" * 32), json=_cart(), headers={"Origin": STORE}
    )
    assert wrong_key.status_code == 401
    wrong_origin = client.post(
        _url(store, runtime), json=_cart(), headers={"Origin": "https://evil.example"}
    )
    assert wrong_origin.status_code == 403
    assert db.scalars(select(Checkout)).all() == []


def test_the_script_names_this_store_and_endpoint(client: Any, runtime: Any, store: Shop) -> None:
    key = capture_key(runtime.config.secret_key, store.id)
    response = client.get(f"/storefront/woocommerce/capture.js?shop={store.id}&key={key}")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    script = response.get_data(as_text=True)
    endpoint = f"/storefront/woocommerce/capture?shop={store.id}&key={key}"
    assert json.dumps(endpoint).replace("&", "\\u0026")[1:-1] in script
    assert "/wp-json/wc/store/v1/cart" in script
    assert (
        client.get(f"/storefront/woocommerce/capture.js?shop={store.id}&key=bad").status_code == 404
    )


def test_the_cli_prints_the_script_tag(runtime: Any, store: Shop, config: Any) -> None:
    from click.testing import CliRunner

    from app.cli import main
    from tests.conftest import make_test_env

    env = make_test_env(runtime.config.database_url, runtime.config.redis_url or "")
    env["KIZUNA_INSTANCE"] = str(config.instance_path)
    result = CliRunner().invoke(main, ["shops", "capture-script", f"{STORE}/"], env=env)
    assert result.exit_code == 0, result.output
    key = capture_key(runtime.config.secret_key, store.id)
    assert (
        f'src="http://127.0.0.1:8000/storefront/woocommerce/capture.js?shop={store.id}&key={key}"'
        in result.output
    )
    missing = CliRunner().invoke(main, ["shops", "capture-script", "https://nope.example"], env=env)
    assert missing.exit_code != 0
    assert "no connected WooCommerce store" in missing.output
