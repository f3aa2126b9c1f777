"""The admin blueprint: the merchant's pages under `/app`, one set of templates for both ways in.

Layer: web. Every view is `@admin_required` and reads through the services' read modules
(`app.services.customer_reads`, `shop_status`, `analytics_reads`, `segment_reads`, `store_overview`,
`outbox_reads`, shared with the JSON API), scoped to `g.shop`; nothing here writes to the database
except the forms that say so. Embedded (inside the Shopify admin) and standalone
(login link + cookie) render the same templates; `templates/admin/base.html` adds App Bridge, its
`<s-app-nav>` and `static/admin/navigate.js` (links and forms sent by fetch, so the session token
rides on each) when embedded, a header with the account's stores and a logout button otherwise.
"""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/app")

# Template globals and routes register on bp.
from app.admin import (  # noqa: E402, F401
    account,
    analytics,
    attribution,
    backtest,
    campaigns,
    customer_activity,
    flows,
    helpers,
    inquiries,
    outbox,
    privacy,
    recommendations,
    segment_builder,
    segments,
    sender,
    stores,
    tag_write_back,
    team,
    views,
)
