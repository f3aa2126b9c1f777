"""A store's problem is worded in the merchant's language wherever it is shown.

Kizuna keeps the problem as a message key and its values (`services.shop_errors`); the home
page, the stores page, the status JSON and `/api/v1` word it in the request's language and the
API adds the stable code. A row written by an older version holds English text only and is
shown as it is. Flask test client on the integration database.
"""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from app.i18n import stored_error_text
from app.models import Shop, WebhookEvent
from app.models.tag_write_back import TagWriteBack
from app.services.shop_errors import (
    english_text,
    nested,
    record_shop_error,
    shopify_sync_failure,
)
from connectors.base import AuthenticationError, ConnectorError, RetryableError
from tests.factories.admin import login, make_account, make_shop, text_of

JA = {"Accept-Language": "ja"}
API = {"Accept": "application/json"}
RECONNECT_EN = "Shopify refused the access token: reconnect the shop."
RECONNECT_JA = "Shopify がアクセストークンを拒否しました。ショップを接続し直してください。"


def _shop_with(db: Session, client: Any, runtime: Any) -> Shop:
    account = make_account(db)
    shop = make_shop(db, account, "tea-house.myshopify.com", status="error")
    login(client, runtime, account)
    return shop


def test_a_keyed_problem_is_worded_in_each_language(client: Any, runtime: Any, db: Session) -> None:
    shop = _shop_with(db, client, runtime)
    record_shop_error(shop, "shop_error.shopify_reconnect")
    db.commit()
    assert shop.last_error == RECONNECT_EN  # the English text beside the key

    for headers, words, other in ((JA, RECONNECT_JA, RECONNECT_EN), ({}, RECONNECT_EN, None)):
        for page in ("/app", "/app/stores"):
            html = text_of(client.get(page, headers=headers))
            assert words in html, (page, headers)
            assert other is None or other not in html, (page, headers)
        status = client.get("/app/status.json", headers=headers).get_json()
        assert status["shop"]["last_error"] == words
        api = client.get("/api/v1/shop", headers={**headers, **API}).get_json()
        assert api["shop"]["last_error"] == words
        assert api["shop"]["last_error_code"] == "shop_error.shopify_reconnect"
        [store] = client.get("/api/v1/stores", headers={**headers, **API}).get_json()["stores"]
        assert (store["last_error"], store["last_error_code"]) == (
            words,
            "shop_error.shopify_reconnect",
        )


def test_a_nested_reason_is_worded_too(client: Any, runtime: Any, db: Session) -> None:
    shop = _shop_with(db, client, runtime)
    record_shop_error(shop, "shop_error.sync_failed", reason_key="connect.no_answer")
    db.commit()
    assert shop.last_error == "Sync failed: The store did not answer."
    html = text_of(client.get("/app/stores", headers=JA))
    assert "同期に失敗しました: ストアから応答がありませんでした。" in html


def test_an_older_plain_text_problem_is_shown_as_stored(
    client: Any, runtime: Any, db: Session
) -> None:
    shop = _shop_with(db, client, runtime)
    record_shop_error(shop, "shop_error.shopify_reconnect")
    db.commit()
    # Written as text alone (an older version, or a writer without a key): the key goes.
    shop.last_error = "Install follow-up failed: HTTP 500"
    db.commit()
    db.refresh(shop)
    assert (shop.last_error_code, shop.last_error_params) == (None, None)

    for page in ("/app", "/app/stores"):
        html = text_of(client.get(page, headers=JA))
        assert "Install follow-up failed: HTTP 500" in html, page
        assert RECONNECT_JA not in html, page
    api = client.get("/api/v1/shop", headers={**JA, **API}).get_json()
    assert api["shop"]["last_error"] == "Install follow-up failed: HTTP 500"
    assert api["shop"]["last_error_code"] is None


def test_no_problem_no_code(client: Any, runtime: Any, db: Session) -> None:
    _shop_with(db, client, runtime)
    api = client.get("/api/v1/shop", headers=API).get_json()
    assert (api["shop"]["last_error"], api["shop"]["last_error_code"]) == (None, None)


def test_older_webhook_and_write_back_problems_are_shown_as_stored(
    client: Any, runtime: Any, db: Session
) -> None:
    shop = _shop_with(db, client, runtime)
    db.add(
        WebhookEvent(
            platform="shopify",
            dedupe_key="older",
            shop_id=shop.id,
            shop_domain=shop.domain,
            topic="orders/create",
            status="failed",
            last_error="WebhookPayloadError: payload has no currency",
        )
    )
    db.add(TagWriteBack(shop_id=shop.id, status="failed", last_error="the store is unavailable"))
    db.commit()
    for language in ("en", "ja"):
        headers = {"Accept-Language": language}
        home = html.unescape(text_of(client.get("/app", headers=headers)))
        assert "WebhookPayloadError: payload has no currency" in home
        write_back = text_of(client.get("/app/segments/write-back", headers=headers))
        assert "the store is unavailable" in write_back


def test_a_nested_problem_and_a_list_are_worded_in_the_request_language(app: Any) -> None:
    params = {
        "platform": "Shopify",
        "count": 2,
        "streams": [
            nested(
                "shop_error.records_skipped.stream",
                stream_key="stream.customers",
                count=2,
                reasons=[nested("sync.skip_reason.no_id"), nested("sync.skip_reason.bad_date")],
            )
        ],
    }
    with app.test_request_context(headers={"Accept-Language": "ja"}):
        assert stored_error_text("old", "shop_error.records_skipped", params) == (
            "Shopify から届いた 2 件のレコードを Kizuna が読み取れなかったため、"
            "同期から除外しました: "
            "顧客: 2 件（ID がない、日付を読み取れない）"
        )
        assert stored_error_text("old text", "no_such.code", params) == "old text"
    assert english_text("shop_error.records_skipped", params) == (
        "The sync left out 2 records from Shopify that Kizuna could not read: "
        "Customers: 2 (no id, unreadable date)"
    )


# The exception's own text quotes what must stay out of every page: a store's answer, a row.
SECRET = "hanako@example.com shpat_0123"


@pytest.mark.parametrize(
    ("error", "english", "japanese"),
    [
        (
            AuthenticationError(SECRET, status=401),
            "Shopify refused the access token.",
            "Shopify がアクセストークンを拒否しました。",
        ),
        (
            RetryableError(SECRET, status=503),
            "Shopify did not answer, even after several retries.",
            "何度か再試行しましたが、Shopify から応答がありませんでした。",
        ),
        (
            RetryableError(SECRET, code="bulk_busy"),
            "Shopify was already running another bulk export for this store.",
            "このストアでは Shopify が別の一括エクスポートを実行中でした。",
        ),
        (
            RetryableError(SECRET, code="bulk_timeout"),
            "Shopify's bulk export of the data did not finish in time.",
            "Shopify でのデータの一括エクスポートが時間内に終わりませんでした。",
        ),
        (
            ConnectorError(SECRET, status=404),
            "Shopify answered with HTTP status 404.",
            "Shopify が HTTP ステータス 404 を返しました。",
        ),
        (
            ConnectorError(SECRET, status=200),
            "Shopify answered unexpectedly.",
            "Shopify から想定外の応答がありました。",
        ),
        (
            DataError(SECRET, None, Exception(SECRET)),
            "Kizuna could not save the store's data (database error DataError, logged).",
            "Kizuna がストアのデータを保存できませんでした（データベースエラー DataError、"
            "記録済み）。",
        ),
        (
            httpx.ReadTimeout(SECRET),
            "Shopify did not answer.",
            "Shopify から応答がありませんでした。",
        ),
        (
            ValueError(SECRET),
            "an internal error (logged).",
            "内部エラーが発生しました(記録済み)。",
        ),
    ],
    ids=[
        "refused",
        "gave_up",
        "bulk_busy",
        "bulk_timeout",
        "status",
        "unexpected",
        "database",
        "network",
        "internal",
    ],
)
def test_why_a_backfill_failed_is_worded_in_each_language(
    client: Any, runtime: Any, db: Session, error: Exception, english: str, japanese: str
) -> None:
    shop = _shop_with(db, client, runtime)
    record_shop_error(shop, "shop_error.backfill_failed", detail=shopify_sync_failure(error))
    db.commit()
    assert shop.last_error == f"Backfill failed: {english}"
    for headers, words in (({}, f"Backfill failed: {english}"), (JA, japanese)):
        home = html.unescape(text_of(client.get("/app", headers=headers)))
        assert words in home, headers
        api = client.get("/api/v1/shop", headers={**headers, **API}).get_json()
        assert api["shop"]["last_error_code"] == "shop_error.backfill_failed"
        assert words in api["shop"]["last_error"]
        assert SECRET not in f"{home} {api}"
    assert SECRET not in f"{shop.last_error} {shop.last_error_params}"


def test_an_older_backfill_failure_keeps_its_text_in_the_merchants_language(
    client: Any, runtime: Any, db: Session
) -> None:
    shop = _shop_with(db, client, runtime)
    # As an older version stored it: the reason as English text in the values.
    record_shop_error(shop, "shop_error.backfill_failed", detail="database error (DataError)")
    db.commit()
    for headers, words in (
        ({}, "Backfill failed: database error (DataError)"),
        (JA, "過去データの取り込みに失敗しました: database error (DataError)"),
    ):
        for page in ("/app", "/app/stores"):
            assert words in text_of(client.get(page, headers=headers)), (page, headers)
        api = client.get("/api/v1/shop", headers={**headers, **API}).get_json()
        assert (api["shop"]["last_error"], api["shop"]["last_error_code"]) == (
            words,
            "shop_error.backfill_failed",
        )
