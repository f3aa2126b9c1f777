"""Re-encrypt every stored credential under the first of `ENCRYPTION_KEYS`.

Layer: service; commits once, for all shops (a failure leaves every row as it was). Run after
putting a new key first; afterwards the old keys can leave `ENCRYPTION_KEYS`. Safe to run again.
A value no key decrypts stops the run and names its row, never the value.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crypto import TokenCipher
from app.models import Shop
from app.models.woocommerce import PendingWooCommerceAuth, WooCommerceShop

# (model, its key column, its encrypted columns)
_CREDENTIALS = (
    (Shop, Shop.id, ("access_token_encrypted", "refresh_token_encrypted")),
    (PendingWooCommerceAuth, PendingWooCommerceAuth.id, ("grant_encrypted",)),
    (
        WooCommerceShop,
        WooCommerceShop.shop_id,
        ("webhook_secret_encrypted", "webhook_secret_previous_encrypted"),
    ),
)


class UnreadableCredential(ValueError):
    """A stored credential that none of the configured keys decrypts."""


def reencrypt_credentials(session: Session, cipher: TokenCipher) -> int:
    """Re-encrypt every credential column; returns how many values were rewritten."""
    rewritten = 0
    for model, key, columns in _CREDENTIALS:
        for row in session.scalars(select(model).order_by(key)):
            for column in columns:
                ciphertext = getattr(row, column)
                if ciphertext is None:
                    continue
                try:
                    setattr(row, column, cipher.rotate(ciphertext))
                except ValueError as error:
                    where = f"{model.__tablename__} {getattr(row, key.key)}"
                    raise UnreadableCredential(
                        f"{where}: {column} cannot be decrypted with ENCRYPTION_KEYS"
                    ) from error
                rewritten += 1
    session.commit()
    return rewritten
