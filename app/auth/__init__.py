"""The auth blueprint: Shopify install (code grant, token exchange), session tokens, sign-in.

Layer: web. Routes live in `standalone.py` (password, login links, logout), `accounts.py`
(sign-up, email confirmation, password reset, team invitations), `shopify.py` (install and
embedded entry) and `woocommerce.py`; `guard.py` protects admin pages; `sessions.py` keeps
the server-side sessions, `lockout.py` the failed sign-ins.
"""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import accounts, shopify, standalone, woocommerce  # noqa: E402, F401  (routes register on bp)
