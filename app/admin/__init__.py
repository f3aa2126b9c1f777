"""The admin blueprint: the merchant's pages under `/app`, one set of templates for both ways in.

Layer: web. Every view is `@admin_required` and scoped to `g.shop`; embedded and standalone render
the same templates (`templates/admin/base.html` adds what each needs).
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/app")

# Template globals and routes register on bp.
from app.admin import (  # noqa: E402, F401
    analytics,
    attribution,
    customer_activity,
    flows,
    helpers,
    inquiries,
    segment_builder,
    segments,
    stores,
    views,
)
