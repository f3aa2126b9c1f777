"""A store's problem as the merchant is shown it: a message key and the values that fill it in.

Layer: services. `record_shop_error` is how a job puts a problem on a shop: the key
(`app.i18n.KEYED_MESSAGES`) and values for every page to word in its own language, and the
English text beside them for logs and older readers. Values are reason keys, counts and short
error descriptions meant for the merchant: never a store's answer, a secret or a person's data.
"""

from __future__ import annotations

from typing import Any

from flask_babel import force_locale

from app.db import utcnow
from app.i18n import DEFAULT_LANGUAGE, stored_error_text
from app.models import Shop

_TEXT_LIMIT = 500


def record_shop_error(shop: Shop, code: str, **params: Any) -> None:
    """Put the problem `code` (with `params`) on `shop`, now; the caller commits."""
    shop.last_error = english_text(code, params)[:_TEXT_LIMIT]
    shop.last_error_code = code  # after the text: setting the text alone clears the key
    shop.last_error_params = params or None
    shop.last_error_at = utcnow()


def english_text(code: str, params: dict[str, Any]) -> str:
    """The problem in English, as `Shop.last_error` keeps it."""
    with force_locale(DEFAULT_LANGUAGE):
        return stored_error_text(None, code, params) or code


def shop_error(shop: Shop) -> str | None:
    """The shop's last problem in the current language (its stored text for an older row)."""
    return stored_error_text(shop.last_error, shop.last_error_code, shop.last_error_params)
