"""The HTTP client for every call to Shopify, including those made through `shopify_app`.

Layer: connectors. With `SHOPIFY_SANDBOX_URL` configured, a transport sends each
`https://{host}/{path}` to `{sandbox_url}/{host}/{path}`; only configuration turns this on,
nothing in a request can. Redirects are never followed.
"""

from __future__ import annotations

import httpx

USER_AGENT = "Kizuna"


class SandboxRewriteTransport(httpx.BaseTransport):
    """Sends `https://{host}/{path}` to `{sandbox_url}/{host}/{path}` instead."""

    def __init__(self, sandbox_url: str, inner: httpx.BaseTransport | None = None) -> None:
        self._base = sandbox_url.rstrip("/")
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        original = request.url
        if original.scheme == "https":
            target = httpx.URL(f"{self._base}/{original.host}{original.raw_path.decode('ascii')}")
            request.url = target
            request.headers["Host"] = target.netloc.decode("ascii")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def shopify_http_client(sandbox_url: str | None, *, timeout: float = 20.0) -> httpx.Client:
    """A client for Shopify; the caller closes it (or uses it as a context manager)."""
    transport = SandboxRewriteTransport(sandbox_url) if sandbox_url else None
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
