"""Merchants who start from nothing: sign-up, links from the simulated SendGrid's outbox,
signed-in clients. Shared by the account integration tests and the browser test.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from app.models import Account, AccountMember
from app.passwords import hash_password
from app.services import accounts
from connectors.sandbox.sendgrid import SandboxSendGrid

_LINK = re.compile(r'href="([^"]+)"[^>]*data-account-link')


def csrf_from(client: Any, path: str) -> str:
    """The CSRF token of the form `path` shows (its GET starts the anonymous session)."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"{path} has no CSRF token"
    return found.group(1)


def emails_to(sendgrid: SandboxSendGrid, address: str) -> list[Any]:
    return [m for m in sendgrid.outbox if m.to_email == address]


def link_in_last_email(sendgrid: SandboxSendGrid, address: str) -> str:
    """The button link of the latest email to `address` (path and fragment, no host)."""
    messages = emails_to(sendgrid, address)
    assert messages, f"no email to {address}"
    found = _LINK.search(messages[-1].html or "")
    assert found, "the email has no account link"
    url = found.group(1)
    return url[url.index("/", url.index("://") + 3) :]


def token_of(link: str) -> str:
    return link.split("#", 1)[1]


def make_owner(
    db: Session, email: str, password: str, *, name: str = "Merchant", verified: bool = True
) -> Account:
    account = Account(
        name=name, email=email, password_hash=hash_password(password), email_verified=verified
    )
    db.add(account)
    db.commit()
    return account


def make_member(
    db: Session, account: Account, email: str, password: str | None = None
) -> AccountMember:
    """A staff member: accepted (with a password) when `password` is given, else invited."""
    member = AccountMember(account_id=account.id, email=email, role="staff")
    if password is None:
        member.invite_nonce = "n" * 32
    else:
        member.password_hash = hash_password(password)
        member.accepted_at = accounts.utcnow()
    db.add(member)
    db.commit()
    return member


def sign_in(client: Any, email: str, password: str) -> Any:
    token = csrf_from(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def post_form(client: Any, form_path: str, action: str, **data: str) -> Any:
    """POST `data` to `action` with the CSRF token of the page at `form_path`."""
    return client.post(action, data={**data, "csrf_token": csrf_from(client, form_path)})


def connect_woocommerce_store(client: Any, store_url: str, drain_jobs: Any) -> None:
    """Connect the simulated store at `store_url` for the owner signed in on `client`, as the
    connect form, the store's approval and the jobs do; the first sync has run after it."""
    import requests

    token = csrf_from(client, "/connect/woocommerce")
    started = client.post(
        "/connect/woocommerce", data={"store_url": store_url, "csrf_token": token}
    )
    assert started.status_code == 302, started.data
    approved = requests.get(started.headers["Location"], allow_redirects=False, timeout=30)
    assert approved.status_code == 302, approved.text
    assert "success=1" in approved.headers["Location"]
    drain_jobs()
