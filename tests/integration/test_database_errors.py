"""A failed statement never puts its parameters (emails, names) in a log line, a page or a status.

Real PostgreSQL and Redis; the platform is the simulated Shopify store over HTTP and the sync
runs in RQ's burst worker, whose failure log is what an operator reads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DataError

from app import create_app
from app.config import Config, load_config
from app.kizuna import Kizuna, db_session
from app.models import Shop
from app.queueing import SYNC
from app.services import bulk_load
from app.services.backfill_requests import enqueue_sync_now
from app.services.install_shop import connect_custom_app
from connectors.sandbox.shopify import SandboxShopify
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET, LiveServer, make_test_env
from tests.factories.admin import make_account, pages_in_both_languages

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

EMAIL = "hanako.private@example.com"
DOMAIN = "quiet-store.myshopify.com"


def test_a_failed_statement_in_a_request_logs_no_parameters(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    application = create_app(config)  # not TESTING: the error is handled and logged as in prod

    @application.get("/statement-that-fails")
    def statement_that_fails() -> str:
        # Not a DataError (the request guards answer those 400): a statement that cannot run.
        db_session().execute(text("SELECT * FROM no_such_table WHERE e = :email"), {"email": EMAIL})
        return "unreachable"

    caplog.set_level(logging.DEBUG)
    try:
        response = application.test_client().get("/statement-that-fails")
    finally:
        application.extensions["kizuna"].db.dispose()
    assert response.status_code == 500
    assert "ProgrammingError" in caplog.text  # the failure is logged, with its statement
    assert EMAIL not in caplog.text
    assert EMAIL not in response.get_data(as_text=True)


def test_a_copy_the_server_refuses_raises_without_the_row_it_quoted(db: Any) -> None:
    db.execute(text("CREATE TEMPORARY TABLE _stage_probe (seen timestamptz) ON COMMIT DROP"))
    with pytest.raises(DataError) as raised:  # as a statement through the engine would
        bulk_load._copy_rows(db, "_stage_probe", ("seen",), [(EMAIL,)])
    db.rollback()
    assert "InvalidDatetimeFormat" in str(raised.value)  # its class and SQLSTATE remain
    assert EMAIL not in str(raised.value)
    assert EMAIL not in str(raised.value.orig)


@pytest.fixture
def shopify(serve: Any) -> Iterator[tuple[SandboxShopify, LiveServer]]:
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=5, plan="plus")
    platform.add_shop(DOMAIN, customers=1, years=1, name="Quiet Store")
    yield platform, serve(platform.wsgi_app)
    platform.close()


@pytest.fixture
def config(
    database_url: str, redis_url: str, tmp_path: Any, request: Any
) -> Config:  # the shared `config`, pointed at the simulated store when a test uses one
    extra: dict[str, str] = {}
    if "shopify" in request.fixturenames:
        extra["SHOPIFY_SANDBOX_URL"] = request.getfixturevalue("shopify")[1].url
    return load_config(make_test_env(database_url, redis_url, **extra), tmp_path / "instance")


def test_a_sync_that_fails_on_a_record_reports_no_personal_data(
    app: Any,
    client: Any,
    runtime: Kizuna,
    db: Any,
    drain_jobs: Any,
    shopify: tuple[SandboxShopify, LiveServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    platform, _server = shopify
    store = platform.shop(DOMAIN)
    shop_id = connect_custom_app(
        runtime,
        DOMAIN,
        platform.install_app(DOMAIN, expiring=False)["access_token"],
        account_id=make_account(db).id,
    )
    with platform.webhooks_muted(DOMAIN):
        # PostgreSQL refuses a NUL in text: the customers insert fails with this row's values.
        store.create_customer(email=EMAIL, first_name="Hana\x00ko", last_name="Private")
    caplog.set_level(logging.DEBUG)

    enqueue_sync_now(runtime, shop_id, full=True)
    drain_jobs(SYNC)

    db.expire_all()
    shop = db.scalars(select(Shop).where(Shop.id == shop_id)).one()
    assert shop.sync_state["status"] == "failed"
    # The customer is not dropped: the backfill stops on it, and says so by the error's class.
    assert shop.last_error_code == "shop_error.backfill_failed"
    assert shop.last_error_params == {
        "detail": {"code": "shop_error.reason.database", "params": {"error": "DataError"}}
    }
    assert "DataError" in caplog.text  # the worker logged the failure
    pages = pages_in_both_languages(client, runtime, db, shop_id)
    for language, words in (
        ("en", "Backfill failed: Kizuna could not save the store's data (database error "),
        ("ja", "過去データの取り込みに失敗しました: Kizuna がストアのデータを保存できませんでした"),
    ):
        assert words in pages[language], language
        assert "DataError" in pages[language]
    assert "Backfill failed" not in pages["ja"]
    status = client.get("/app/status.json", headers={"Accept-Language": "ja"}).get_json()
    assert status["shop"]["last_error_code"] == "shop_error.backfill_failed"
    assert status["sync"]["error"] == status["shop"]["last_error"]
    assert status["sync"]["error"].startswith("過去データの取り込みに失敗しました: ")
    for where in (caplog.text, shop.last_error or "", str(shop.sync_state), *pages.values()):
        assert EMAIL not in where
        assert "Private" not in where
