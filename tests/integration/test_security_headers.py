"""Every response carries nosniff and a referrer policy; HSTS once the app is served over https.

Integration tests on the real app (PostgreSQL, Redis). The per-shop `frame-ancestors` of
embedded pages is checked with the embedded pages themselves (test_admin_pages,
test_shopify_install); here: the framing policy of a standalone page stays `'none'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app import create_app
from app.config import load_config
from tests.conftest import make_test_env

# A page, a redirect, JSON, a refusal and a 404: the headers do not depend on the kind of answer.
REQUESTS = [
    ("GET", "/login"),
    ("GET", "/app"),
    ("GET", "/healthz"),
    ("POST", "/webhooks/shopify"),
    ("GET", "/no-such-page"),
]


def answers(client: Any, **options: Any) -> list[Any]:
    return [client.open(path, method=method, **options) for method, path in REQUESTS]


def test_every_response_forbids_sniffing_and_keeps_paths_from_other_sites(client: Any) -> None:
    for response in answers(client):
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.request.path
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in response.headers  # http on loopback
    login_page = client.get("/login")
    assert login_page.headers["Content-Security-Policy"] == "frame-ancestors 'none';"
    assert "X-Frame-Options" not in login_page.headers  # Shopify's admin frames the app


def test_https_requests_get_hsts(client: Any) -> None:
    for response in answers(client, base_url="https://localhost"):
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        max_age = int(response.headers["Strict-Transport-Security"].split("=")[1].split(";")[0])
        assert max_age >= 180 * 24 * 3600


def test_an_https_app_url_gets_hsts_behind_a_tls_proxy(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = make_test_env(database_url, redis_url, APP_URL="https://kizuna.example.com")
    app = create_app(load_config(env, instance_path=tmp_path), TESTING=True)
    try:
        for response in answers(app.test_client()):  # plain http from the proxy
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        app.extensions["kizuna"].db.dispose()
