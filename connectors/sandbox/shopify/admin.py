"""The simulated Shopify admin: a page that frames the embedded app as admin.shopify.com does,
and the stand-in App Bridge script the app's pages load inside that frame (`app_bridge.js`).

Layer: connectors/sandbox (no Flask). The frame's first URL carries `embedded=1`, `host`, `shop`,
`locale`, `timestamp`, `hmac` and a fresh `id_token`, all signed with the app's secret like the
real admin's. The page hands the stand-in a new session token for each request over postMessage
(`/_sandbox/{shop}/session-token`), lists the app's `<s-app-nav>` links and keeps its own address
in step with the app's page. For the demo and the browser tests only; never part of the app.
"""

from __future__ import annotations

import html
import json
import re
from importlib.resources import files
from urllib.parse import urlencode, urlsplit

APP_BRIDGE_SCRIPT = "app_bridge.js"
ADMIN_PAGE = "admin_page.html"


def app_bridge_script() -> str:
    """The stand-in App Bridge's source."""
    return files(__package__).joinpath(APP_BRIDGE_SCRIPT).read_text(encoding="utf-8")


def frame_url(app_url: str, path: str, params: dict[str, str]) -> str:
    """The app's URL as the admin puts it in its iframe: `/app` + `path`, with the query."""
    clean = "/" + path.strip("/") if path.strip("/") else ""
    return f"{app_url.rstrip('/')}/app{clean}?{urlencode(params)}"


def admin_page(
    *,
    store_name: str,
    shop_domain: str,
    handle: str,
    api_key: str,
    app_url: str,
    first_frame_url: str,
    frame_params: dict[str, str],
    locale: str,
) -> str:
    """The admin page for one store with the app open at `first_frame_url`."""
    parts = urlsplit(app_url)
    setup = {
        "appOrigin": f"{parts.scheme}://{parts.netloc}",
        "appBase": app_url.rstrip("/") + "/app",
        "adminBase": f"/store/{handle}/apps/{api_key}",
        "tokenUrl": f"/_sandbox/{shop_domain}/session-token",
        "params": {k: v for k, v in frame_params.items() if k not in ("id_token", "hmac")},
    }
    values = {
        "__LANG__": html.escape(locale),
        "__STORE__": html.escape(store_name),
        "__DOMAIN__": html.escape(shop_domain),
        "__SRC__": html.escape(first_frame_url),
        "__SETUP__": json.dumps(setup).replace("</", "<\\/"),
    }
    page = files(__package__).joinpath(ADMIN_PAGE).read_text(encoding="utf-8")
    return re.sub(r"__[A-Z]+__", lambda found: values.get(found[0], found[0]), page)
