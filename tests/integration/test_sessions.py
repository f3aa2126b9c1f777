"""Admin sessions that end, single-use login links, and the client address behind proxies.

Real PostgreSQL and Redis (see conftest); login links are opened over real HTTP against a live
server, as a browser does (the URL fragment never leaves the browser), with the URL printed by
`kizuna login-link`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask, jsonify, request
from sqlalchemy.orm import Session

from app import create_app, passwords
from app.auth.login_link import LINK_LIFETIME, make_login_token
from app.auth.sessions import (
    ABSOLUTE_LIFETIME,
    IDLE_LIFETIME,
    SESSION_PREFIX,
    ServerSession,
    end_account_sessions,
)
from app.config import load_config
from app.models import Account
from tests.conftest import make_test_env

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_account(db: Session, email: str = "owner@example.com") -> Account:
    account = Account(name="Owner", email=email, password_hash=passwords.hash_password(PASSWORD))
    db.add(account)
    db.commit()
    return account


def password_login(client: Any, email: str = "owner@example.com") -> Any:
    page = client.get("/login").get_data(as_text=True)
    found = CSRF.search(page)
    assert found
    data = {"email": email, "password": PASSWORD, "csrf_token": found[1]}
    return client.post("/login", data=data)


def signed_in(client: Any) -> bool:
    return bool(client.get("/app/status.json").status_code == 200)


def page_csrf(client: Any) -> str:
    found = CSRF.search(client.get("/app").get_data(as_text=True))
    assert found
    return found[1]


def session_cookie(client: Any) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return str(cookie.value)


def cli(monkeypatch: Any, database_url: str, redis_url: str, *args: str, **kw: Any) -> Any:
    from app.cli import main

    for name, value in make_test_env(database_url, redis_url).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, list(args), **kw)
    assert result.exit_code == 0, result.output
    return result


# --- sessions --------------------------------------------------------------------------------


def test_a_session_cookie_replayed_after_logout_is_signed_out(
    app: Flask, client: Any, db: Session
) -> None:
    make_account(db)
    assert password_login(client).status_code == 302
    captured = session_cookie(client)
    assert client.post("/logout", data={"csrf_token": page_csrf(client)}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", captured)
    assert not signed_in(replay)
    assert replay.get("/app").status_code == 302


def test_the_cookie_holds_an_opaque_id_and_every_sign_in_gets_a_new_one(
    client: Any, runtime: Any, db: Session
) -> None:
    account = make_account(db)
    client.get("/login")
    before = session_cookie(client)
    assert password_login(client).status_code == 302
    after = session_cookie(client)
    assert after != before  # no fixation: the pre-login id does not become the signed-in one
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", after)
    decoded = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4))
    assert len(decoded) == 32  # 32 random bytes and nothing else: no data, no signature
    assert b"account_id" not in decoded
    # Redis holds the session under a hash of the id, not the id itself.
    keys = {k.decode() for k in runtime.redis.scan_iter(f"{SESSION_PREFIX}:*")}
    indexed = {k.decode() for k in runtime.redis.smembers(f"kizuna:account-sessions:{account.id}")}
    assert keys == indexed  # the anonymous pre-login session is gone, the signed-in one indexed
    assert all(after not in key for key in keys)


def test_a_session_ends_when_idle_and_at_its_absolute_lifetime(
    client: Any, runtime: Any, db: Session
) -> None:
    account = make_account(db)
    assert password_login(client).status_code == 302
    assert signed_in(client)
    (key,) = runtime.redis.smembers(f"kizuna:account-sessions:{account.id}")
    assert 0 < runtime.redis.ttl(key) <= IDLE_LIFETIME  # idle: unused for 12 h, it is gone
    stored = json.loads(runtime.redis.get(key))
    stored["created"] -= ABSOLUTE_LIFETIME + 1  # signed in 14 days ago, used all along
    runtime.redis.set(key, json.dumps(stored), ex=IDLE_LIFETIME)
    assert not signed_in(client)
    assert not runtime.redis.exists(key)


def test_a_password_change_signs_out_every_session_of_the_account(
    app: Flask, client: Any, db: Session, database_url: str, redis_url: str, monkeypatch: Any
) -> None:
    make_account(db)
    make_account(db, "neighbour@example.com")
    laptop, phone, neighbour = client, app.test_client(), app.test_client()
    assert password_login(laptop).status_code == 302
    assert password_login(phone).status_code == 302
    assert password_login(neighbour, "neighbour@example.com").status_code == 302
    result = cli(
        monkeypatch,
        database_url,
        redis_url,
        "accounts",
        "set-password",
        "owner@example.com",
        input="a new password\na new password\n",
    )
    assert "2 session(s) signed out" in result.output
    assert not signed_in(laptop)
    assert not signed_in(phone)
    assert signed_in(neighbour)  # another account's session is not touched


def test_a_password_change_in_the_admin_signs_out_the_other_sessions(
    app: Flask, client: Any, db: Session
) -> None:
    make_account(db)
    phone = app.test_client()
    assert password_login(client).status_code == 302
    assert password_login(phone).status_code == 302
    form = client.get("/account/password")
    assert form.status_code == 200
    found = CSRF.search(form.get_data(as_text=True))
    assert found

    def change(current: str, new: str, repeat: str) -> Any:
        data = {"current_password": current, "new_password": new, "repeat_password": repeat}
        return client.post("/account/password", data={**data, "csrf_token": found[1]})

    assert change("not it", "a brand new password", "a brand new password").status_code == 401
    assert change(PASSWORD, "a brand new password", "another one").status_code == 400
    assert change(PASSWORD, "short", "short").status_code == 400
    assert signed_in(phone)  # nothing changed yet
    changed = change(PASSWORD, "a brand new password", "a brand new password")
    assert changed.status_code == 302
    assert signed_in(client)  # the browser that changed it stays signed in
    assert not signed_in(phone)
    assert password_login(app.test_client()).status_code == 401  # the old password is gone


def test_logout_everywhere_ends_the_accounts_other_sessions(
    app: Flask, client: Any, db: Session
) -> None:
    make_account(db)
    other = app.test_client()
    assert password_login(client).status_code == 302
    assert password_login(other).status_code == 302
    assert client.post("/logout", data={"csrf_token": page_csrf(other)}).status_code == 400
    plain = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert plain.status_code == 302
    assert signed_in(other)  # a plain logout ends only this browser's session
    assert password_login(client).status_code == 302
    everywhere = client.post("/logout", data={"csrf_token": page_csrf(client), "everywhere": "1"})
    assert everywhere.status_code == 302
    assert not signed_in(client)
    assert not signed_in(other)


def test_a_request_in_flight_does_not_revive_a_session_ended_meanwhile(
    client: Any, runtime: Any, db: Session
) -> None:
    account = make_account(db)
    assert password_login(client).status_code == 302
    with client.session_transaction() as in_flight:
        assert end_account_sessions(runtime.redis, account.id) == 1
        in_flight["shop_id"] = 7  # the request writes its session back after the sign-out
    assert not signed_in(client)


# --- login links -----------------------------------------------------------------------------


def open_login_link(base_url: str, url: str) -> httpx.Client:
    """A fresh browser opening `url`: the page, and its confirm button when it shows one."""
    browser = httpx.Client(base_url=base_url, follow_redirects=False, timeout=10)
    address, _, fragment = url.partition("#")  # browsers never send the fragment
    page = browser.get(address)
    if page.status_code == 200 and "data-login-link" in page.text:
        found = CSRF.search(page.text)
        assert found
        browser.post(address, data={"token": fragment, "csrf_token": found[1]})
    return browser


def http_signed_in(browser: httpx.Client) -> bool:
    return browser.get("/app/status.json").status_code == 200


@pytest.fixture
def live(app: Flask, serve: Any, config: Any) -> Any:
    server = serve(app)

    def link_for(account_id: int, monkeypatch: Any, database_url: str, redis_url: str) -> str:
        result = cli(
            monkeypatch, database_url, redis_url, "login-link", "--account", str(account_id)
        )
        return str(result.output.strip().replace(config.app_url, server.url))

    return server, link_for


def test_a_login_link_works_once(
    live: Any, db: Session, database_url: str, redis_url: str, monkeypatch: Any
) -> None:
    server, link_for = live
    url = link_for(make_account(db).id, monkeypatch, database_url, redis_url)
    assert http_signed_in(open_login_link(server.url, url))
    assert not http_signed_in(open_login_link(server.url, url))


def test_opening_a_login_link_alone_never_signs_in(
    live: Any, db: Session, database_url: str, redis_url: str, monkeypatch: Any
) -> None:
    server, link_for = live
    url = link_for(make_account(db).id, monkeypatch, database_url, redis_url)
    address, _, token = url.partition("#")
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=10) as browser:
        # What a forged link could make a victim's browser load: the page, or the token in a GET.
        assert browser.get(address).status_code == 200
        assert not http_signed_in(browser)
        for forged in (f"/login/{token}", f"/login/link?token={token}"):
            browser.get(forged)
            assert not http_signed_in(browser), forged
        # Nor a cross-site POST: it cannot carry this browser's CSRF token.
        posted = browser.post("/login/link", data={"token": token})
        assert posted.status_code == 400
        assert not http_signed_in(browser)
    # The refused attempts did not use the link up.
    assert http_signed_in(open_login_link(server.url, url))


def test_a_login_link_token_never_reaches_the_access_log(
    live: Any,
    db: Session,
    database_url: str,
    redis_url: str,
    monkeypatch: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, link_for = live
    url = link_for(make_account(db).id, monkeypatch, database_url, redis_url)
    token = url.rpartition("#")[2] if "#" in url else url.rpartition("/")[2]
    with caplog.at_level(logging.INFO):
        browser = open_login_link(server.url, url)
        assert http_signed_in(browser)
    assert token not in caplog.text
    assert '"GET /login' in caplog.text  # the server's access log was captured


def test_a_login_link_older_than_15_minutes_is_refused(
    app: Flask, runtime: Any, serve: Any, db: Session
) -> None:
    account = make_account(db)
    server = serve(app)
    fresh = make_login_token(runtime.redis, account.id, now=time.time() - LINK_LIFETIME + 30)
    stale = make_login_token(runtime.redis, account.id, now=time.time() - LINK_LIFETIME - 1)
    assert not http_signed_in(open_login_link(server.url, f"/login/link#{stale}"))
    assert http_signed_in(open_login_link(server.url, f"/login/link#{fresh}"))
    assert 0 < runtime.redis.ttl(f"kizuna:account-login-links:{account.id}") <= LINK_LIFETIME


def test_unused_login_links_die_when_the_account_signs_out(
    app: Flask, client: Any, runtime: Any, serve: Any, db: Session
) -> None:
    account = make_account(db)
    server = serve(app)
    unused = make_login_token(runtime.redis, account.id)
    assert password_login(client).status_code == 302
    assert client.post("/logout", data={"csrf_token": page_csrf(client)}).status_code == 302
    assert not http_signed_in(open_login_link(server.url, f"/login/link#{unused}"))


# --- the client address behind trusted proxies -----------------------------------------------


def proxied_app(database_url: str, redis_url: str, tmp_path: Path, proxies: str) -> Flask:
    env = make_test_env(database_url, redis_url, KIZUNA_TRUSTED_PROXIES=proxies)
    application = create_app(load_config(env, instance_path=tmp_path / "proxied"), TESTING=True)

    @application.get("/_probe")
    def _probe() -> Any:
        return jsonify(address=request.remote_addr, scheme=request.scheme, host=request.host)

    return application


def from_proxy(application: Flask, forwarded_for: str) -> Any:
    client = application.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.2"  # the proxy
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def lock_out(client: Any) -> None:
    for _ in range(5):
        page = client.get("/login").get_data(as_text=True)
        found = CSRF.search(page)
        assert found
        data = {"email": "owner@example.com", "password": "guess", "csrf_token": found[1]}
        assert client.post("/login", data=data).status_code == 401


def test_with_one_trusted_proxy_the_forwarded_address_is_the_client(
    app: Flask, db: Session, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    make_account(db)
    proxied = proxied_app(database_url, redis_url, tmp_path, "1")
    probe = from_proxy(proxied, "198.51.100.1, 203.0.113.7").get(
        "/_probe", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "crm.example.com"}
    )
    assert probe.get_json() == {
        "address": "203.0.113.7",
        "scheme": "https",
        "host": "crm.example.com",
    }
    lock_out(from_proxy(proxied, "203.0.113.7"))
    assert password_login(from_proxy(proxied, "203.0.113.7")).status_code == 429
    # Another client behind the same proxy is not held back by the first one's guesses.
    assert password_login(from_proxy(proxied, "203.0.113.8")).status_code == 302
    proxied.extensions["kizuna"].db.dispose()


def test_without_trusted_proxies_forwarded_headers_are_ignored(
    app: Flask, db: Session, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    make_account(db)
    direct = proxied_app(database_url, redis_url, tmp_path, "0")
    probe = from_proxy(direct, "203.0.113.7").get("/_probe", headers={"X-Forwarded-Proto": "https"})
    assert probe.get_json()["address"] == "10.0.0.2"
    assert probe.get_json()["scheme"] == "http"
    lock_out(from_proxy(direct, "203.0.113.7"))
    # A forged X-Forwarded-For does not get a locked-out address a fresh start.
    assert password_login(from_proxy(direct, "203.0.113.8")).status_code == 429
    direct.extensions["kizuna"].db.dispose()


def test_a_session_store_outage_at_the_end_of_a_request_is_no_500(
    database_url: str, tmp_path: Path
) -> None:
    """Redis answered when the session was read and is gone when it is saved (a restart in the
    middle of a request): the answer stands, the session is simply not refreshed."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    env = make_test_env(database_url, f"redis://127.0.0.1:{port}/0")
    down = create_app(load_config(env, instance_path=tmp_path / "instance"))
    interface = down.session_interface
    session = ServerSession({"account_id": 1}, "a" * 43, time.time())
    response = down.response_class("ok")
    with down.test_request_context("/"):
        interface.save_session(down, session, response)  # no exception
    assert response.status_code == 200
