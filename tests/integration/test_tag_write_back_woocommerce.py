"""Segments written back to a WooCommerce store as customer meta (`kizuna_segments`), against the
simulated WooCommerce over real HTTP on real PostgreSQL and Redis: registered customers get the
meta, guests (no customer record) are counted as not written, and turning write-back off clears
the meta.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.models import Customer, CustomerScore, Shop
from app.models.tag_write_back import TagWriteBack
from app.services import tag_write_back
from app.services.scoring import score_shop
from app.services.woocommerce_sync import run_sync
from connectors.sandbox.woocommerce import SandboxWooCommerce
from connectors.woocommerce.consent import is_registered, meta_value
from connectors.woocommerce.tags import SEGMENTS_KEY
from tests.conftest import make_test_env
from tests.factories import woocommerce

STORE = "tag-tea"


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Path) -> Config:
    env = make_test_env(database_url, redis_url, APP_URL="https://kizuna.test")
    return load_config(env, instance_path=tmp_path / "instance")


@pytest.fixture
def woo(serve: Any) -> Iterator[SandboxWooCommerce]:
    yield from woocommerce.serve_store(serve, STORE, seed=17, customers=8)


@pytest.fixture
def shop(db: Session, runtime: Any, woo: SandboxWooCommerce) -> Shop:
    return woocommerce.build_connected_shop(db, runtime, woo, STORE)


def _meta(woo: SandboxWooCommerce, customer_id: str) -> str | None:
    found, value = meta_value(
        woo.store(STORE).customers[int(customer_id)].get("meta_data"), SEGMENTS_KEY
    )
    return value if found else None


def test_segments_become_customer_meta_and_are_cleared_when_turned_off(
    runtime: Any, db: Session, shop: Shop, woo: SandboxWooCommerce
) -> None:
    woo.create_order(STORE, guest_email="guest@example.jp")  # a guest: no customer record
    run_sync(runtime, shop.id, incremental=False)
    score_shop(db, shop.id)
    db.commit()
    row = tag_write_back.save_settings(
        db,
        shop.id,
        tag_write_back.Settings(
            enabled=True,
            prefix="kizuna-",
            include_rfm=True,
            include_value_band=False,
            segment_ids=(),
        ),
    )
    tag_write_back.start_run(db, runtime, shop.id)
    db.commit()
    token = tag_write_back.run_token(row.run_started_at)  # type: ignore[arg-type]

    assert tag_write_back.run(runtime, shop.id, token, woocommerce_pause=0) == "done"

    scored = db.execute(
        select(Customer.external_id, CustomerScore.rfm_group)
        .join(CustomerScore, CustomerScore.customer_id == Customer.id)
        .where(Customer.shop_id == shop.id)
    ).all()
    registered = [(external, group) for external, group in scored if is_registered(external)]
    guests = [external for external, _group in scored if not is_registered(external)]
    assert registered
    assert guests
    for external, group in registered:
        assert _meta(woo, external) == "kizuna-rfm-" + group.replace("_", "-")
    db.expire_all()
    state = db.get_one(TagWriteBack, shop.id)
    assert state.status == "done"
    assert state.customers_failed == len(guests)  # shown as "not written", never silently lost

    tag_write_back.save_settings(
        db,
        shop.id,
        tag_write_back.Settings(
            enabled=False,
            prefix="kizuna-",
            include_rfm=True,
            include_value_band=False,
            segment_ids=(),
        ),
    )
    row = tag_write_back.start_run(db, runtime, shop.id)
    db.commit()
    token = tag_write_back.run_token(row.run_started_at)  # type: ignore[arg-type]
    assert tag_write_back.run(runtime, shop.id, token, woocommerce_pause=0) == "done"
    assert all(_meta(woo, external) == "" for external, _group in registered)
