"""Shops: one installed store (Shopify or WooCommerce), its encrypted credentials and status.

Tokens are stored only as ciphertext (`app.crypto`); never read these columns directly outside
`services/shop_tokens.py`. `status` is what the merchant sees: installing → active, and
uninstalled once the platform says so (all work for the shop stops and tokens are deleted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from app.db import Base, UTCDateTime, utcnow

SHOP_STATUSES = ("installing", "active", "uninstalled", "error")


class Shop(Base):
    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("platform", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(20))  # shopify | woocommerce
    domain: Mapped[str] = mapped_column(String(255))  # canonical: x.myshopify.com
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="installing")
    install_method: Mapped[str | None] = mapped_column(String(30))  # managed|code_grant|custom_app
    scopes: Mapped[str | None] = mapped_column(Text)
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refresh_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When its data was erased (a disconnect or `shop/redact`): the admin no longer lists it.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    locale: Mapped[str] = mapped_column(String(10), default="en")
    webhooks_subscribed: Mapped[int] = mapped_column(Integer, default=0)
    sync_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The merchant's RFM score boundaries (`services.rfm_thresholds`); None: automatic quintiles.
    rfm_thresholds: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # How orders are credited to emails (`domain.attribution`); None: last click within 5 days.
    attribution: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Local hour (0-23, in `timezone`) of each daily job, by job name (`services.daily_schedule`);
    # None or a missing name: the job's default hour.
    daily_hours: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # Who the shop's marketing emails come from (`services.sender_identity`): sender name,
    # reply-to, postal address, contact. Required by law in every email; None: not set, and
    # marketing email waits until it is.
    sender_identity: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # The problem the merchant is shown, in English (what older versions stored, and logs);
    # `last_error_code` is its message key (`app.i18n.KEYED_MESSAGES`) and `last_error_params`
    # the values that fill it in, so each page words it in the merchant's language. Set all
    # three with `services.shop_errors.record_shop_error`; a plain text written on its own
    # clears the key, so a key never outlives the problem it names.
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_code: Mapped[str | None] = mapped_column(String(80))
    last_error_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("last_error")
    def _plain_error_drops_its_key(self, _name: str, value: str | None) -> str | None:
        self.last_error_code = None
        self.last_error_params = None
        return value

    @property
    def is_active(self) -> bool:
        return self.status in ("installing", "active")
