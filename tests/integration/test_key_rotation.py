"""`kizuna keys rotate`: after a new key is put first, every stored credential is re-encrypted
with it, so the old key can leave `ENCRYPTION_KEYS`. Real PostgreSQL, the command in a process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crypto import TokenCipher
from app.db import utcnow
from app.models import Shop
from app.models.woocommerce import PendingWooCommerceAuth, WooCommerceShop
from tests.conftest import ENCRYPTION_KEY, make_test_env
from tests.factories.shopify_webhooks import make_shop

ROOT = Path(__file__).resolve().parents[2]


def kizuna(database_url: str, redis_url: str, tmp_path: Path, keys: str, *args: str) -> Any:
    env = {
        **os.environ,
        **make_test_env(database_url, redis_url, ENCRYPTION_KEYS=keys),
        "KIZUNA_INSTANCE": str(tmp_path / "instance"),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_rotate_re_encrypts_every_credential_with_the_first_key(
    db: Session, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    old = TokenCipher((ENCRYPTION_KEY,))
    shop = make_shop(db)
    shop.access_token_encrypted = old.encrypt("shpat_access_0001")
    shop.refresh_token_encrypted = old.encrypt("shprt_refresh_0001")
    woo_shop = make_shop(db, domain="woo.example")
    woo_shop.platform = "woocommerce"
    woo_shop.access_token_encrypted = old.encrypt("ck_key:cs_secret")
    woo_shop.refresh_token_encrypted = None
    db.add(WooCommerceShop(shop_id=woo_shop.id, webhook_secret_encrypted=old.encrypt("whsec-1")))
    db.add(
        PendingWooCommerceAuth(
            token_hash="0" * 64,
            account_id=woo_shop.account_id,
            store_url="https://woo.example",
            expires_at=utcnow() + timedelta(minutes=5),
            grant_encrypted=old.encrypt("ck_pending:cs_pending"),
        )
    )
    db.commit()

    new_key = Fernet.generate_key().decode()
    done = kizuna(
        database_url, redis_url, tmp_path, f"{new_key},{ENCRYPTION_KEY}", "keys", "rotate"
    )
    assert done.returncode == 0, done.stderr
    assert "re-encrypted 5 stored credentials" in done.stdout
    assert "shpat_" not in done.stdout + done.stderr

    only_new = TokenCipher((new_key,))
    db.expire_all()
    rotated = db.get(Shop, shop.id)
    assert rotated is not None
    assert rotated.access_token_encrypted is not None
    assert only_new.decrypt(rotated.access_token_encrypted) == "shpat_access_0001"
    assert rotated.refresh_token_encrypted is not None
    assert only_new.decrypt(rotated.refresh_token_encrypted) == "shprt_refresh_0001"
    woo = db.get(WooCommerceShop, woo_shop.id)
    assert woo is not None
    assert woo.webhook_secret_encrypted is not None
    assert only_new.decrypt(woo.webhook_secret_encrypted) == "whsec-1"
    pending = db.scalars(select(PendingWooCommerceAuth)).one()
    assert pending.grant_encrypted is not None
    assert only_new.decrypt(pending.grant_encrypted) == "ck_pending:cs_pending"


def test_rotate_names_a_credential_no_key_opens_and_changes_nothing(
    db: Session, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    shop = make_shop(db)
    before = shop.access_token_encrypted
    stranger = Fernet.generate_key().decode()
    failed = kizuna(database_url, redis_url, tmp_path, stranger, "keys", "rotate")
    assert failed.returncode != 0
    assert f"shops {shop.id}: access_token_encrypted cannot be decrypted" in failed.stderr
    db.expire_all()
    unchanged = db.get(Shop, shop.id)
    assert unchanged is not None
    assert unchanged.access_token_encrypted == before
