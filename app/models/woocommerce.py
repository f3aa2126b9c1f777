"""WooCommerce-only state: pending wc-auth requests and each connected store's webhook setup.

Layer: models (never commit). A pending request is keyed by the SHA-256 of our single-use
`user_id`; its keys wait encrypted until they work. A store's REST key is in
`shops.access_token_encrypted` (rotated like any token); its webhook secret here, encrypted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class PendingWooCommerceAuth(Base):
    __tablename__ = "pending_woocommerce_auth"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    store_url: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The callback's key, encrypted, kept only until it has been checked against the store.
    grant_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome: Mapped[str | None] = mapped_column(String(20))  # checking, connected, refused
    failure: Mapped[str | None] = mapped_column(String(200))  # the reason shown to the merchant


class WooCommerceShop(Base):
    __tablename__ = "woocommerce_shops"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[int | None] = mapped_column(Integer)
    key_permissions: Mapped[str | None] = mapped_column(String(20))
    webhook_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    webhook_secret_previous_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    webhook_ids: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # topic → id
    # Start of the last successful sync: the next one asks for modified_after this (minus overlap).
    synced_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
