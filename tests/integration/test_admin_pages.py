"""The admin pages over the Flask test client: status, status JSON, customers, one customer.

Real PostgreSQL and Redis (see conftest); each test creates its own account, shops and rows and
signs in through a real login link, as a merchant does.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import (
    Checkout,
    Shop,
    TimelineEvent,
    WebhookEvent,
)
from app.services.customer_reads import PAGE_SIZE
from app.services.webhook_stats import count_rejected
from tests.factories.admin import (
    NOW,
    login,
    make_account,
    make_customer,
    make_order,
    make_shop,
    text_of,
)

pytestmark = pytest.mark.integration


# --- factories -------------------------------------------------------------------------------


@pytest.fixture
def shop_setup(db: Session) -> dict[str, Any]:
    """An account with one Tokyo shop mid-sync, with webhook traffic and a last error."""
    account = make_account(db)
    shop = make_shop(
        db,
        account,
        "tea-house.myshopify.com",
        name="Tea House",
        webhooks_subscribed=7,
        last_error="Shopify answered 403 to customers query",
        last_error_at=NOW - timedelta(minutes=5),
        sync_state={
            "status": "running",
            "stream": "orders",
            "done": {"customers": 120, "orders": 300},
            "started_at": (datetime.now(UTC) - timedelta(seconds=125)).isoformat(),
            "finished_at": None,
            "error": None,
        },
    )
    statuses = ["processed"] * 5 + ["pending"] * 2 + ["failed"] + ["ignored"] * 3
    for i, status in enumerate(statuses):
        db.add(
            WebhookEvent(
                platform="shopify",
                dedupe_key=f"hook-{shop.id}-{i}",
                shop_id=shop.id,
                shop_domain=shop.domain,
                topic="orders/create",
                status=status,
                received_at=NOW - timedelta(minutes=i),
                last_error="boom" if status == "failed" else None,
            )
        )
    db.commit()
    return {"account": account, "shop": shop}


@pytest.fixture
def rejected_twice(runtime: Any, shop_setup: dict[str, Any]) -> None:
    for _ in range(2):
        count_rejected(runtime.redis, shop_setup["shop"].id)


# --- access ----------------------------------------------------------------------------------


def test_pages_need_a_login(client: Any) -> None:
    for path in ("/app", "/app/customers", "/app/customers/1"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].endswith("/login")
    response = client.get("/app/status.json")
    assert response.status_code == 401
    assert response.get_json() == {"error": "login required"}
    response = client.get("/login", headers={"Accept-Language": "ja"})
    assert response.status_code == 401
    assert "kizuna login-link" in text_of(response)
    assert "ログインリンク" in text_of(response)
    page = text_of(client.get("/login/link"))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    refused = client.post("/login/link", data={"token": "not-a-valid-token", "csrf_token": csrf[1]})
    assert refused.status_code == 401
    assert "expired" in text_of(refused)


def test_an_account_without_a_store_is_pointed_to_connect_one(
    client: Any, runtime: Any, db: Session
) -> None:
    login(client, runtime, make_account(db))
    page = text_of(client.get("/app"))
    assert 'href="/connect/shopify"' in page
    assert "kizuna shops connect shopify" in page
    assert client.get("/app/status.json").get_json() == {
        "shop": None,
        "sync": None,
        "webhooks": None,
    }
    assert 'href="/connect/shopify"' in text_of(client.get("/app/customers"))


# --- home and status.json --------------------------------------------------------------------


@pytest.mark.usefixtures("rejected_twice")
def test_home_shows_install_scopes_sync_progress_and_webhooks(
    client: Any, runtime: Any, shop_setup: dict[str, Any]
) -> None:
    login(client, runtime, shop_setup["account"])
    response = client.get("/app")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none';"
    assert "no-store" in response.headers["Cache-Control"]
    page = text_of(response)
    assert "Tea House" in page
    assert "tea-house.myshopify.com" in page
    assert "Shopify managed install" in page
    assert "Active" in page
    # read_all_orders is missing: a clear notice; write_customers counts as read_customers.
    assert "The read_all_orders scope is not granted" in page
    assert "last 60 days of orders" in page
    # Sync: running, with per-stream counts and a live-polled progress bar.
    assert "Running" in page
    assert 'data-stream="customers"' in page
    assert 'data-stream="orders"' in page
    assert ">120<" in page
    assert ">300<" in page
    assert 'role="progressbar"' in page
    assert "data-poll" in page
    assert 'data-status-url="/app/status.json"' in page
    assert re.search(r'data-field="sync-elapsed">2m \d\ds<', page)
    # Webhooks and the last error.
    assert re.search(r'data-webhook="received">11<', page)
    assert re.search(r'data-webhook="processed">5<', page)
    assert re.search(r'data-webhook="pending">2<', page)
    assert re.search(r'data-webhook="failed">1<', page)
    assert re.search(r'data-webhook="ignored">3<', page)
    assert re.search(r'data-webhook="rejected">2<', page)
    assert "boom" in page  # the last processing error
    assert "Shopify answered 403 to customers query" in page
    # Installed 2 hours ago, shown in the shop's timezone (Tokyo).
    installed = shop_setup["shop"].installed_at.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"{installed:%H:%M}" in page


@pytest.mark.usefixtures("rejected_twice")
def test_status_json_has_the_same_numbers(
    client: Any, runtime: Any, shop_setup: dict[str, Any]
) -> None:
    login(client, runtime, shop_setup["account"])
    response = client.get("/app/status.json")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response.headers
    status = response.get_json()
    shop = status["shop"]
    assert shop["domain"] == "tea-house.myshopify.com"
    assert shop["status"] == "active"
    assert shop["install_method"] == "managed"
    assert shop["all_orders_access"] is False
    assert "read_all_orders" in shop["missing_scopes"]
    assert "read_customers" not in shop["missing_scopes"]  # implied by write_customers
    assert shop["webhooks_subscribed"] == 7
    assert shop["last_error"] == "Shopify answered 403 to customers query"
    assert datetime.fromisoformat(shop["installed_at"]) == shop_setup["shop"].installed_at

    sync = status["sync"]
    assert sync["status"] == "running"
    assert sync["stream"] == "orders"
    assert sync["streams"] == [
        {"name": "customers", "done": 120, "total": None},
        {"name": "orders", "done": 300, "total": None},
    ]
    assert sync["done_total"] == 420
    assert sync["percent"] is None  # no totals known: an indeterminate bar, not a made-up %
    assert 124 <= sync["elapsed_seconds"] <= 140
    assert sync["finished_at"] is None

    hooks = status["webhooks"]
    assert (hooks["received"], hooks["processed"], hooks["pending"]) == (11, 5, 2)
    assert (hooks["failed"], hooks["ignored"]) == (1, 3)
    assert hooks["rejected"] == 2
    assert status["display"]["sync_status"] == "Running"
    assert status["display"]["stream"] == "Orders"


def test_status_json_for_a_finished_sync_with_known_totals(
    client: Any, runtime: Any, db: Session
) -> None:
    account = make_account(db)
    started = NOW - timedelta(minutes=10)
    make_shop(
        db,
        account,
        "done.myshopify.com",
        scopes="write_customers,read_orders,read_all_orders",
        sync_state={
            "status": "done",
            "done": {"customers": 50, "orders": 80},
            "totals": {"customers": 50, "orders": 80},
            "started_at": started.isoformat(),
            "finished_at": (started + timedelta(seconds=95)).isoformat(),
        },
    )
    login(client, runtime, account)
    status = client.get("/app/status.json").get_json()
    assert status["shop"]["all_orders_access"] is True
    assert status["sync"]["percent"] == 100.0
    assert status["sync"]["elapsed_seconds"] == 95
    assert status["display"]["elapsed"] == "1m 35s"
    page = text_of(client.get("/app"))
    assert "read_all_orders scope is not granted" not in page
    assert "data-poll" not in page  # nothing to follow once the sync is over


def test_shop_switcher_for_an_account_with_several_stores(
    client: Any, runtime: Any, db: Session
) -> None:
    account = make_account(db)
    first = make_shop(db, account, "first.myshopify.com", name="First Store")
    second = make_shop(db, account, "second.myshopify.com", name="Second Store")
    login(client, runtime, account)
    page = text_of(client.get("/app"))
    assert 'name="shop_id"' in page
    assert "<h1>First Store</h1>" in page
    page = text_of(client.get(f"/app?shop_id={second.id}"))
    assert "<h1>Second Store</h1>" in page
    assert f'href="/app/customers?shop_id={second.id}"' in page
    # The choice is remembered for the next pages.
    assert "<h1>Second Store</h1>" in text_of(client.get("/app"))
    assert client.get("/app/status.json").get_json()["shop"]["id"] == second.id
    # Logout is a POST form.
    assert 'method="post" action="/logout"' in page
    assert first.id != second.id


# --- customers -------------------------------------------------------------------------------


def test_customer_search_by_name_and_email(
    client: Any, runtime: Any, shop_setup: dict[str, Any], db: Session
) -> None:
    shop = shop_setup["shop"]
    hanako = make_customer(db, shop, first_name="花子", last_name="山田", email="hanako@example.jp")
    taro = make_customer(db, shop, first_name="Taro", last_name="Suzuki", email="TARO@Mail.example")
    make_customer(db, shop, first_name="Jane", last_name="Doe", email="jane@example.com")
    login(client, runtime, shop_setup["account"])

    def found(q: str) -> set[int]:
        page = text_of(client.get("/app/customers", query_string={"q": q}))
        return {int(x) for x in re.findall(r'data-customer-id="(\d+)"', page)}

    assert found("taro") == {taro.id}  # case-insensitive, name
    assert found("suz") == {taro.id}  # prefix of the last name
    assert found("taro suzuki") == {taro.id}  # full name
    assert found("mail.EXAMPLE") == {taro.id}  # substring of the email
    assert found("hanako@") == {hanako.id}
    assert found("山田") == {hanako.id}
    assert found("山田花子") == {hanako.id}  # Japanese order, no space
    assert found("山田 花子") == {hanako.id}
    assert found("nobody") == set()
    assert found("%") == set()  # LIKE wildcards are literal
    assert len(found("")) == 3
    assert "No customers match “nobody”." in text_of(
        client.get("/app/customers", query_string={"q": "nobody"})
    )


def test_customer_list_columns(
    client: Any, runtime: Any, shop_setup: dict[str, Any], db: Session
) -> None:
    shop = shop_setup["shop"]
    make_customer(
        db,
        shop,
        first_name="Aiko",
        last_name="Sato",
        email_marketing_state="SUBSCRIBED",
        orders_count=3,
        total_spent=Decimal("12800.0000"),
        last_order_at=datetime(2026, 11, 25, 16, 30, tzinfo=UTC),  # 26th in Tokyo
    )
    login(client, runtime, shop_setup["account"])
    page = text_of(client.get("/app/customers"))
    assert "Aiko Sato" in page
    assert "¥12,800" in page
    assert "¥12,800.00" not in page
    assert "Nov 26, 2026" in page
    assert 'class="badge badge-success">Subscribed<' in page
    assert "1 customer" in page


def test_customer_list_pages_with_a_keyset_and_no_offset(
    client: Any, runtime: Any, shop_setup: dict[str, Any], db: Session
) -> None:
    shop = shop_setup["shop"]
    other = make_shop(db, make_account(db, "Other"), "other.myshopify.com")
    created = {make_customer(db, shop).id for _ in range(PAGE_SIZE * 2 + 7)}
    make_customer(db, other)  # never listed
    login(client, runtime, shop_setup["account"])

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.db.engine, "before_cursor_execute", record)
    try:
        seen: list[int] = []
        url: str | None = "/app/customers"
        pages = 0
        while url:
            page = text_of(client.get(url))
            pages += 1
            ids = [int(x) for x in re.findall(r'data-customer-id="(\d+)"', page)]
            assert len(ids) <= PAGE_SIZE
            assert ids == sorted(ids, reverse=True)
            seen.extend(ids)
            nxt = re.search(r'rel="next" href="([^"]+)"', page)
            url = nxt.group(1).replace("&amp;", "&") if nxt else None
            assert pages < 10
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", record)
    assert pages == 3
    assert len(seen) == len(created)
    assert set(seen) == created  # every customer exactly once
    assert not any("OFFSET" in s.upper() for s in statements)
    counts = [s for s in statements if "count(" in s.lower()]
    assert len(counts) == 1  # counted on the first page only, and capped
    assert "LIMIT" in counts[0].upper()


def test_small_page_size_and_search_keep_their_parameters(
    client: Any, runtime: Any, shop_setup: dict[str, Any], db: Session
) -> None:
    shop = shop_setup["shop"]
    wanted = {make_customer(db, shop, last_name=f"Match{i}").id for i in range(5)}
    for _ in range(3):
        make_customer(db, shop, last_name="Else")
    login(client, runtime, shop_setup["account"])
    seen: list[int] = []
    url: str | None = "/app/customers?q=match&limit=2"
    while url:
        page = text_of(client.get(url))
        seen += [int(x) for x in re.findall(r'data-customer-id="(\d+)"', page)]
        nxt = re.search(r'rel="next" href="([^"]+)"', page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
        if url:
            assert "q=match" in url
            assert "limit=2" in url
    assert sorted(seen) == sorted(wanted)


# --- one customer ----------------------------------------------------------------------------


@pytest.fixture
def customer_with_history(shop_setup: dict[str, Any], db: Session) -> dict[str, Any]:
    shop = shop_setup["shop"]
    customer = make_customer(
        db,
        shop,
        first_name="Yuki",
        last_name="Tanaka",
        email="yuki@example.jp",
        phone="+81 90 1234 5678",
        locale="ja",
        country_code="JP",
        tags=["vip", "matcha"],
        email_marketing_state="SUBSCRIBED",
        email_marketing_opt_in_level="CONFIRMED_OPT_IN",
        email_marketing_updated_at=datetime(2026, 1, 10, 3, 0, tzinfo=UTC),
        orders_count=2,
        total_spent=Decimal("16300"),
        first_order_at=datetime(2026, 2, 1, 1, 0, tzinfo=UTC),
        last_order_at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
    )
    first = make_order(
        db,
        shop,
        customer,
        "#1001",
        [("Sencha 100g", 2, "1500"), ("Tea cup", 1, "3500")],
        processed_at=datetime(2026, 2, 1, 1, 0, tzinfo=UTC),
        financial_status="paid",
        fulfillment_status="fulfilled",
    )
    second = make_order(
        db,
        shop,
        customer,
        "#1002",
        [("Matcha tin", 1, "9800")],
        processed_at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
        financial_status="pending",
    )
    db.add_all(
        [
            Checkout(
                shop_id=shop.id,
                external_id="tok-open",
                customer_id=customer.id,
                email=customer.email,
                recovery_url="https://tea-house.myshopify.com/cart/recover/abc",
                total_price=Decimal("4200"),
                currency="JPY",
                line_items=[{"title": "Hojicha", "quantity": 2}],
                platform_created_at=NOW - timedelta(hours=3),
            ),
            Checkout(
                shop_id=shop.id,
                external_id="tok-done",
                customer_id=customer.id,
                recovery_url="https://tea-house.myshopify.com/cart/recover/done",
                total_price=Decimal("1000"),
                currency="JPY",
                completed_at=NOW - timedelta(hours=1),
            ),
            Checkout(
                shop_id=shop.id,
                external_id="tok-evil",
                customer_id=customer.id,
                recovery_url="javascript:alert(1)",
                total_price=Decimal("1"),
                currency="JPY",
            ),
            TimelineEvent(
                shop_id=shop.id,
                customer_id=customer.id,
                kind="order_placed",
                source_key=first.external_id,
                occurred_at=datetime(2026, 2, 1, 1, 0, tzinfo=UTC),
                detail={
                    "order_id": first.external_id,
                    "name": "#1001",
                    "total_price": "6500.0000",
                    "currency": "JPY",
                },
            ),
            TimelineEvent(
                shop_id=shop.id,
                customer_id=customer.id,
                kind="order_placed",
                source_key=second.external_id,
                occurred_at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
                detail={"name": "#1002"},
            ),
            TimelineEvent(
                shop_id=shop.id,
                customer_id=customer.id,
                kind="consent_changed",
                source_key="consent-1",
                occurred_at=datetime(2026, 1, 10, 3, 0, tzinfo=UTC),
                detail={"state": "subscribed"},
            ),
        ]
    )
    db.commit()
    return {**shop_setup, "customer": customer}


def test_customer_page_shows_profile_orders_lines_checkouts_and_timeline(
    client: Any, runtime: Any, customer_with_history: dict[str, Any]
) -> None:
    customer = customer_with_history["customer"]
    login(client, runtime, customer_with_history["account"])
    response = client.get(f"/app/customers/{customer.id}")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none';"
    page = text_of(response)
    for text in ("Yuki Tanaka", "yuki@example.jp", "+81 90 1234 5678", "JP", "vip", "matcha"):
        assert text in page
    assert "Confirmed opt-in (double)" in page
    assert "Subscribed" in page
    assert "¥16,300" in page  # total spent, no decimals for JPY
    # Orders, newest first, with their lines.
    assert page.index("#1002") < page.index("#1001")
    for text in ("Sencha 100g", "Tea cup", "Matcha tin", "¥1,500", "¥3,500", "¥6,500", "¥9,800"):
        assert text in page
    assert "Paid" in page
    assert "Fulfilled" in page
    assert "Feb 1, 2026 10:00" in page  # 01:00 UTC is 10:00 in Tokyo
    # Open checkouts only, with a recovery link opening outside the admin; never a js: URL.
    assert 'href="https://tea-house.myshopify.com/cart/recover/abc"' in page
    assert "Hojicha" in page
    assert "¥4,200" in page
    assert "recover/done" not in page
    assert "javascript:" not in page
    # Timeline, newest first.
    kinds = re.findall(r'data-event-kind="([a-z_]+)"', page)
    assert kinds == ["order_placed", "order_placed", "consent_changed"]
    timeline = page[page.index('class="timeline"') :]
    assert timeline.index("#1002") < timeline.index("#1001 · ¥6,500")
    assert "state: subscribed" in timeline


def test_another_shops_customer_is_not_found(
    client: Any, runtime: Any, customer_with_history: dict[str, Any], db: Session
) -> None:
    # Account B owns shop B; its customer must stay invisible to account A, even by id.
    other_account = make_account(db, "Someone else")
    other_shop = make_shop(db, other_account, "rival.myshopify.com")
    stranger = make_customer(db, other_shop, first_name="Stranger")
    login(client, runtime, customer_with_history["account"])
    assert client.get(f"/app/customers/{stranger.id}").status_code == 404
    assert client.get(f"/app/customers/{stranger.id}?shop_id={other_shop.id}").status_code == 404
    assert "No customers match" in text_of(client.get("/app/customers?q=Stranger"))
    assert f'data-customer-id="{stranger.id}"' not in text_of(client.get("/app/customers"))
    assert client.get("/app/customers/999999").status_code == 404

    # The owner of shop B sees the customer, and not A's.
    client.post("/logout")
    login(client, runtime, other_account)
    assert client.get(f"/app/customers/{stranger.id}").status_code == 200
    mine = customer_with_history["customer"]
    assert client.get(f"/app/customers/{mine.id}").status_code == 404


def test_a_customer_of_the_accounts_other_store_needs_that_store_selected(
    client: Any, runtime: Any, customer_with_history: dict[str, Any], db: Session
) -> None:
    account = customer_with_history["account"]
    second = make_shop(db, account, "second-store.myshopify.com")
    theirs = make_customer(db, second)
    login(client, runtime, account)
    assert client.get(f"/app/customers/{theirs.id}").status_code == 404
    assert client.get(f"/app/customers/{theirs.id}?shop_id={second.id}").status_code == 200


# --- language --------------------------------------------------------------------------------


def test_japanese_labels_with_accept_language(
    client: Any, runtime: Any, customer_with_history: dict[str, Any]
) -> None:
    login(client, runtime, customer_with_history["account"])
    ja = {"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"}
    page = text_of(client.get("/app", headers=ja))
    assert '<html lang="ja">' in page
    assert "ストアの状態" in page
    assert "同期中" in page
    assert "read_all_orders スコープが許可されていません" in page
    assert "処理待ち" in page
    page = text_of(client.get("/app/customers", headers=ja))
    assert "名前またはメールアドレスで検索" in page
    assert "購入総額" in page
    customer = customer_with_history["customer"]
    page = text_of(client.get(f"/app/customers/{customer.id}", headers=ja))
    assert "ダブルオプトイン" in page
    assert "2026年2月1日 10:00" in page
    assert "¥16,300" in page
    assert "ログアウト" in page
    assert client.get("/app/status.json", headers=ja).get_json()["display"]["sync_status"] == (
        "同期中"
    )


def test_shop_locale_is_the_fallback_language(client: Any, runtime: Any, db: Session) -> None:
    account = make_account(db)
    make_shop(db, account, "kyoto.myshopify.com", locale="ja")
    login(client, runtime, account)
    assert "ストアの状態" in text_of(client.get("/app"))
    assert "Store status" in text_of(client.get("/app", headers={"Accept-Language": "en-US"}))


# --- embedded --------------------------------------------------------------------------------


@pytest.fixture
def embedded_as(db: Any, runtime: Any) -> Any:
    """A real session token for `shop`, as App Bridge gives it; the shop holds an offline token."""
    import time
    import uuid

    import jwt

    from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET

    def use(shop: Shop) -> str:
        stored = db.get(Shop, shop.id)
        stored.access_token_encrypted = runtime.cipher.encrypt("shpat_admin_pages")
        db.commit()
        now = int(time.time())
        claims = {
            "iss": f"https://{shop.domain}/admin",
            "dest": f"https://{shop.domain}",
            "aud": SHOPIFY_API_KEY,
            "sub": "42",
            "exp": now + 60,
            "nbf": now,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "sid": "session",
        }
        return jwt.encode(claims, SHOPIFY_API_SECRET, algorithm="HS256")

    return use


def test_embedded_pages_load_app_bridge_and_keep_the_admin_context(
    client: Any, shop_setup: dict[str, Any], embedded_as: Any
) -> None:
    shop = shop_setup["shop"]
    session_token = embedded_as(shop)
    query = {
        "embedded": "1",
        "shop": shop.domain,
        "host": "YWRtaW4",
        "id_token": session_token,
        "locale": "ja",
    }
    response = client.get("/app", query_string=query)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == (
        f"frame-ancestors https://{shop.domain} https://admin.shopify.com;"
    )
    page = text_of(response)
    head = page[: page.index("</head>")]
    assert '<meta name="shopify-api-key" content="test-api-key">' in head
    # App Bridge is the first script in <head>, ours is deferred.
    scripts = re.findall(r"<script[^>]*>", head)
    assert scripts[0] == '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js">'
    assert all("defer" in s for s in scripts[1:])
    assert "<s-app-nav hidden>" in page
    assert "ストアの状態" in page  # Shopify's locale param
    # In-app links carry embedded/shop/host/locale (never the short-lived id_token).
    links = re.findall(r'href="(/app[^"]*)"', page)
    assert links
    for link in links:
        assert "embedded=1" in link
        assert f"shop={shop.domain}" in link
        assert "host=YWRtaW4" in link
        assert "id_token" not in link
    assert "/logout" not in page  # no standalone header inside the Shopify admin


def test_standalone_pages_do_not_load_app_bridge(
    client: Any, runtime: Any, shop_setup: dict[str, Any]
) -> None:
    login(client, runtime, shop_setup["account"])
    page = text_of(client.get("/app"))
    assert "app-bridge.js" not in page
    assert "<s-app-nav hidden>" not in page
    assert "shopify-api-key" not in page
