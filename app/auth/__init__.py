"""The auth blueprint: Shopify install (code grant, token exchange), session tokens, login links.

Layer: web. Routes live in `standalone.py` (login links) and `shopify.py` (install and embedded
entry); `guard.py` protects admin pages.
"""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import shopify, standalone, woocommerce  # noqa: E402, F401  (routes register on bp)
