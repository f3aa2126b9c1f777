"""`kizuna doctor` over a demo-like setup: a simulated Shopify store and SendGrid over real HTTP,
real PostgreSQL and Redis. It passes when all is well and names each fault it is shown: Redis
stopped (a private redis-server, never the shared one), a pending migration, a webhook
subscription deleted at the store, a sender SendGrid has not verified.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from click.testing import CliRunner, Result
from rq import Queue

from app.cli import main
from app.config import Config, load_config
from app.heartbeats import EXPECTED_QUEUES, beat_scheduler, beat_worker
from app.migrate import alembic_config, upgrade
from app.models import Shop
from app.models.woocommerce import WooCommerceShop
from app.queueing import SYNC
from app.services.install_shop import connect_custom_app
from app.services.woocommerce_install import (
    webhook_delivery_url,
    webhook_secret,
    woocommerce_client,
)
from app.services.woocommerce_sync import ensure_webhooks
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.shopify import SandboxShopify
from connectors.sandbox.woocommerce import SandboxWooCommerce
from tests.conftest import PG_ADMIN_URL, SHOPIFY_API_KEY, SHOPIFY_API_SECRET, TEST_DB, make_test_env

DOMAIN = "doctor-store.myshopify.com"
SENDER = "no-reply@kizuna.example"


@pytest.fixture
def shopify(serve: Any) -> Iterator[tuple[SandboxShopify, str]]:
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=3)
    platform.add_shop(DOMAIN, customers=3, years=1, name="Doctor Store")
    platform.webhook_retry_delays = ()
    yield platform, serve(platform.wsgi_app).url
    platform.close()


@pytest.fixture
def sendgrid(serve: Any) -> tuple[SandboxSendGrid, str]:
    mail = SandboxSendGrid()
    mail.add_sender(SENDER, "Kizuna")
    return mail, serve(mail.wsgi_app).url


@pytest.fixture
def env(
    database_url: str, redis_url: str, tmp_path: Path, shopify: Any, sendgrid: Any
) -> dict[str, str]:
    return make_test_env(
        database_url,
        redis_url,
        KIZUNA_INSTANCE=str(tmp_path / "instance"),
        APP_URL="http://127.0.0.1:8000",
        SHOPIFY_SANDBOX_URL=shopify[1],
        SENDGRID_SANDBOX_URL=sendgrid[1],
        MAIL_FROM=f"Kizuna <{SENDER}>",
    )


@pytest.fixture
def config(env: dict[str, str]) -> Config:
    return load_config(env)


@pytest.fixture
def connected(runtime: Any, shopify: Any) -> int:
    """The store connected (webhooks subscribed at the store), a worker and a scheduler alive."""
    platform, _ = shopify
    token = platform.install_app(DOMAIN, expiring=False)["access_token"]
    shop_id = connect_custom_app(runtime, DOMAIN, token)
    Queue(SYNC, connection=runtime.redis).empty()  # the first sync is not the point here
    beat_worker(runtime.redis, "host:1", EXPECTED_QUEUES)
    beat_scheduler(runtime.redis, "host:2")
    return shop_id


def doctor(env: dict[str, str]) -> Result:
    return CliRunner().invoke(main, ["doctor"], env=env)


def line(output: str, start: str) -> str:
    found = [text for text in output.splitlines() if text.startswith(start)]
    assert found, output
    return found[0]


def fix_after(output: str, start: str) -> str:
    lines = output.splitlines()
    index = lines.index(line(output, start))
    assert lines[index + 1].startswith("    fix: "), output
    return lines[index + 1]


def test_doctor_passes_on_a_healthy_setup(env: dict[str, str], connected: int) -> None:
    result = doctor(env)
    assert result.exit_code == 0, result.output
    assert "✗" not in result.output
    for start in (
        "✓ configuration",
        "✓ database:",
        "✓ database schema: at the latest migration",
        "✓ redis:",
        "✓ workers: 1 alive",
        "✓ scheduler:",
        f"✓ {DOMAIN}: access token",
        f"✓ {DOMAIN}: webhooks: 13 topics delivered to http://127.0.0.1:8000/webhooks/shopify",
        "✓ sendgrid key",
        f"✓ sendgrid sender: {SENDER} is a verified sender",
    ):
        line(result.output, start)
    assert result.output.rstrip().endswith("everything looks right")


def test_a_webhook_deleted_at_the_store_is_named(
    env: dict[str, str], connected: int, shopify: Any
) -> None:
    store = shopify[0].shop(DOMAIN)
    orders_create = next(s for s in store.subscriptions.values() if s.topic == "orders/create")
    store.remove_subscription(orders_create.id)

    result = doctor(env)
    assert result.exit_code == 1
    failed = line(result.output, f"✗ {DOMAIN}: webhooks")
    assert failed.endswith(
        "missing at the store for http://127.0.0.1:8000/webhooks/shopify: orders/create"
    )
    assert f"kizuna shops connect shopify {DOMAIN}" in fix_after(result.output, failed)
    assert "1 problem(s) found" in result.output


def test_a_customer_webhook_without_the_birth_date_namespace_is_named(
    env: dict[str, str], connected: int, shopify: Any
) -> None:
    store = shopify[0].shop(DOMAIN)
    update = next(s for s in store.subscriptions.values() if s.topic == "customers/update")
    store.set_subscription_namespaces(update.id, [])

    result = doctor(env)
    assert result.exit_code == 1
    failed = line(result.output, f"✗ {DOMAIN}: webhooks")
    assert failed.endswith(
        "delivered without the metafield namespaces Kizuna reads: customers/update (facts)"
    )
    assert f"kizuna shops connect shopify {DOMAIN}" in fix_after(result.output, failed)


def test_stopped_workers_and_an_unverified_sender_are_named(
    env: dict[str, str], connected: int, runtime: Any, sendgrid: Any
) -> None:
    runtime.redis.delete("kizuna:heartbeats:workers")
    sendgrid[0].add_sender("other@kizuna.example")
    result = doctor({**env, "MAIL_FROM": "Shop <news@kizuna.example>"})
    assert result.exit_code == 1
    assert "no worker seen for 120 s" in line(result.output, "✗ workers")
    assert "kizuna worker" in fix_after(result.output, "✗ workers")
    assert "news@kizuna.example is not a sender identity" in line(
        result.output, "✗ sendgrid sender"
    )
    assert "3 problem(s) found" not in result.output  # exactly the two faults
    assert "2 problem(s) found" in result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_stopped_redis_is_named(env: dict[str, str], connected: int, tmp_path: Path) -> None:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    private = subprocess.Popen(  # our own Redis, stopped below; the shared one is never touched
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the private redis-server did not start"
                time.sleep(0.1)
        beat_worker(client, "host:1", EXPECTED_QUEUES)
        beat_scheduler(client, "host:2")
        assert doctor({**env, "REDIS_URL": url}).exit_code == 0
    finally:
        private.terminate()
        private.wait(timeout=10)

    result = doctor({**env, "REDIS_URL": url})
    assert result.exit_code == 1
    assert line(result.output, "✗ redis:").startswith("✗ redis: ConnectionError")
    assert "REDIS_URL" in fix_after(result.output, "✗ redis:")


@pytest.fixture
def previous_schema_url(database_url: str) -> Iterator[str]:
    """A database migrated to the migration before head."""
    name = f"{TEST_DB}_previous"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    (head,) = script.get_heads()
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    upgrade(url, previous)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_pending_migration_is_named(
    env: dict[str, str], connected: int, previous_schema_url: str
) -> None:
    result = doctor({**env, "DATABASE_URL": previous_schema_url})
    assert result.exit_code == 1
    assert "migrations pending" in line(result.output, "✗ database schema")
    assert fix_after(result.output, "✗ database schema") == "    fix: run `kizuna db upgrade`"
    assert "not checked: the database schema is behind" in line(result.output, "✗ shops")
    line(result.output, "✓ redis")  # the rest is still checked


def test_a_paused_and_a_deleted_woocommerce_webhook_are_named(
    env: dict[str, str], connected: int, runtime: Any, db: Any, serve: Any
) -> None:
    platform = SandboxWooCommerce(seed=5)
    platform.add_store("wc-doctor", customers=2)
    store_url = f"{serve(platform.wsgi_app).url}/wc-doctor"
    consumer_key, consumer_secret = platform.issue_key("wc-doctor")
    shop = Shop(
        account_id=db.get_one(Shop, connected).account_id,
        platform="woocommerce",
        domain=store_url,
        status="active",
        access_token_encrypted=runtime.cipher.encrypt(
            json.dumps({"consumer_key": consumer_key, "consumer_secret": consumer_secret})
        ),
    )
    db.add(shop)
    db.flush()
    wc = WooCommerceShop(
        shop_id=shop.id, webhook_ids={}, webhook_secret_encrypted=runtime.cipher.encrypt("s3cr3t")
    )
    db.add(wc)
    db.commit()
    with woocommerce_client(runtime, shop) as client:  # what the shop's setup job does
        ensure_webhooks(client, webhook_delivery_url(runtime, shop.id), webhook_secret(runtime, wc))
    try:
        healthy = doctor(env)
        assert healthy.exit_code == 0, healthy.output
        line(healthy.output, f"✓ {store_url}: webhooks: 8 topics delivered to")

        hooks = platform.store("wc-doctor").webhooks
        next(h for h in hooks.values() if h.topic == "order.created").status = "disabled"
        deleted = next(h for h in hooks.values() if h.topic == "customer.deleted")
        del hooks[deleted.id]
        result = doctor(env)
        assert result.exit_code == 1
        failed = line(result.output, f"✗ {store_url}: webhooks")
        assert failed.endswith("customer.deleted, order.created")
        assert "reconcile" in fix_after(result.output, failed)
    finally:
        platform.close()
