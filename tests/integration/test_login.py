"""Password login of the standalone admin: scrypt hashes, CSRF, lockout per address, CLI.

Real PostgreSQL and Redis (see conftest); each test creates its own account.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from app import passwords
from app.auth import lockout
from app.auth.lockout import BASE_DELAY, FREE_FAILURES
from app.models import Account
from tests.conftest import make_test_env, sign_in_with_link

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


def make_account(db: Session, email: str = "owner@example.com", password: str | None = PASSWORD):
    account = Account(
        name="Owner",
        email=email,
        password_hash=passwords.hash_password(password) if password else None,
    )
    db.add(account)
    db.commit()
    return account


def form_token(client: Any) -> str:
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def post_login(client: Any, email: str, password: str, token: str | None = None) -> Any:
    data = {"email": email, "password": password, "csrf_token": token or form_token(client)}
    return client.post("/login", data=data)


# --- hashing ---------------------------------------------------------------------------------


def test_hash_format_and_verify() -> None:
    stored = passwords.hash_password("s3cret-pass")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert len(passwords._unb64(digest)) == 32
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(passwords._unb64(salt)) == 16
    assert passwords.verify_password(stored, "s3cret-pass")
    assert not passwords.verify_password(stored, "s3cret-pasS")
    assert passwords.hash_password("s3cret-pass") != stored  # fresh salt each time
    for bad in (None, "", "bcrypt$x", "scrypt$16384$8$1$!!$!!", "scrypt$3$8$1$AAAA$AAAA"):
        assert not passwords.verify_password(bad, "s3cret-pass")
    assert passwords.password_problem("short") == "too_short"
    assert passwords.password_problem("long enough") is None


# --- the form --------------------------------------------------------------------------------


def test_password_login_starts_a_fresh_session(client: Any, db: Session) -> None:
    account = make_account(db)
    token = form_token(client)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    response = post_login(client, "Owner@Example.com", PASSWORD, token)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/app")
    with client.session_transaction() as session:
        assert session["account_id"] == account.id
        assert "planted" not in session
        assert session["csrf_token"] != token  # a new token for the new session
    assert client.get("/app").status_code == 200


def test_wrong_password_unknown_email_and_missing_csrf_are_refused(
    client: Any, db: Session
) -> None:
    make_account(db)
    make_account(db, "nopass@example.com", password=None)
    wrong = post_login(client, "owner@example.com", "not the password")
    assert wrong.status_code == 401
    assert "The email or password is not correct." in wrong.get_data(as_text=True)
    assert post_login(client, "nobody@example.com", PASSWORD).status_code == 401
    assert post_login(client, "nopass@example.com", "").status_code == 400
    assert post_login(client, "nopass@example.com", PASSWORD).status_code == 401
    no_csrf = client.post("/login", data={"email": "owner@example.com", "password": PASSWORD})
    assert no_csrf.status_code == 400
    forged = post_login(client, "owner@example.com", PASSWORD, token="forged")
    assert forged.status_code == 400
    with client.session_transaction() as session:
        assert "account_id" not in session


def test_wrong_passwords_hold_back_that_address_for_that_email_only(
    client: Any, app: Any, db: Session
) -> None:
    make_account(db)
    make_account(db, "second@example.com")
    for _ in range(FREE_FAILURES):
        assert post_login(client, "owner@example.com", "guess").status_code == 401
    limited = post_login(client, "owner@example.com", PASSWORD)
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= BASE_DELAY
    assert "Too many failed sign-in attempts" in limited.get_data(as_text=True)
    # The owner, from another address, signs in at once: the guesses locked only their address.
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert post_login(elsewhere, "owner@example.com", PASSWORD).status_code == 302
    # The guessing address is not locked out of every other account either.
    assert post_login(client, "second@example.com", PASSWORD).status_code == 302


def test_each_failure_past_the_free_ones_doubles_the_wait_up_to_a_cap(runtime: Any) -> None:
    redis, email, address, now = runtime.redis, "owner@example.com", "203.0.113.9", 1_000_000.0
    waits = [lockout.record_failure(redis, email, address, now) for _ in range(FREE_FAILURES - 1)]
    assert waits == [0] * (FREE_FAILURES - 1)
    assert lockout.retry_after(redis, email, address, now) == 0
    for expected in (30, 60, 120, 240, 480, 900, 900):
        assert lockout.record_failure(redis, email, address, now) == expected
        assert lockout.retry_after(redis, email, address, now + expected - 1) == 1
        assert lockout.retry_after(redis, email, address, now + expected) == 0
        now += expected
    assert lockout.retry_after(redis, "owner@example.com", "203.0.113.10", now - 1) == 0
    lockout.clear_failures(redis, email, address)
    assert lockout.record_failure(redis, email, address, now) == 0


def test_an_address_guessing_many_emails_is_held_back(runtime: Any) -> None:
    redis, address, now = runtime.redis, "203.0.113.9", 1_000_000.0
    for n in range(lockout.ADDRESS_MAX_FAILURES):
        lockout.record_failure(redis, f"user{n}@example.com", address, now)
    assert 0 < lockout.retry_after(redis, "fresh@example.com", address, now) <= 15 * 60
    assert lockout.retry_after(redis, "fresh@example.com", "203.0.113.10", now) == 0


def test_the_japanese_form(client: Any) -> None:
    page = client.get("/login", headers={"Accept-Language": "ja"})
    assert page.status_code == 401
    text = page.get_data(as_text=True)
    assert "パスワード" in text
    assert "kizuna accounts set-password EMAIL" in text


# --- logout and links ------------------------------------------------------------------------


def test_logout_needs_the_csrf_token(client: Any, runtime: Any, db: Session) -> None:
    account = make_account(db)
    assert sign_in_with_link(client, runtime, account.id).status_code == 302
    page = client.get("/app").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    assert client.post("/logout").status_code == 400
    assert client.get("/app").status_code == 200  # still signed in
    response = client.post("/logout", data={"csrf_token": token.group(1)})
    assert response.status_code == 302
    assert client.get("/app").status_code == 302


def test_set_password_command(
    db: Session, database_url: str, redis_url: str, monkeypatch: Any, client: Any
) -> None:
    from app.cli import main

    account = make_account(db, "cli@example.com", password=None)
    for name, value in make_test_env(database_url, redis_url).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    mismatch = runner.invoke(
        main, ["accounts", "set-password", "cli@example.com"], input="one-password\nanother-one\n"
    )
    assert mismatch.exit_code != 0
    short = runner.invoke(main, ["accounts", "set-password", "cli@example.com"], input="x\nx\n")
    assert short.exit_code != 0
    assert "at least 8" in short.output
    unknown = runner.invoke(
        main, ["accounts", "set-password", "who@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert unknown.exit_code != 0
    result = runner.invoke(
        main, ["accounts", "set-password", "CLI@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    db.refresh(account)
    assert passwords.verify_password(account.password_hash, PASSWORD)
    assert post_login(client, "cli@example.com", PASSWORD).status_code == 302
