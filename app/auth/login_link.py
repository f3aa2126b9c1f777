"""Signed login links for the standalone admin (the demo, WooCommerce merchants).

Layer: web auth. A link carries the account id signed with SECRET_KEY (itsdangerous, salted)
and expires; opening it sets the Flask session cookie (HttpOnly, SameSite=Lax, Secure on https).
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.config import Config

LOGIN_LINK_SALT = "kizuna-login-link"
DEFAULT_LINK_TTL = 24 * 3600


def _serializer(config: Config) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config.secret_key, salt=LOGIN_LINK_SALT)


def make_login_token(config: Config, account_id: int) -> str:
    return _serializer(config).dumps({"account_id": account_id})


def make_login_url(config: Config, account_id: int) -> str:
    return f"{config.app_url}/login/{make_login_token(config, account_id)}"


def read_login_token(config: Config, token: str, max_age: int = DEFAULT_LINK_TTL) -> int | None:
    """The account id of a valid, unexpired token; None otherwise."""
    try:
        data = _serializer(config).loads(token, max_age=max_age)
    except (SignatureExpired, BadSignature):
        return None
    account_id = data.get("account_id") if isinstance(data, dict) else None
    return account_id if isinstance(account_id, int) else None
