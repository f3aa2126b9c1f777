"""An account a Shopify install made has no address and no password: from the Shopify admin
(a session token, no cookie) its owner adds both, confirms the address from the email the
simulated SendGrid received, and signs in to the standalone admin as the account's owner.

Hostile input: an account holding another store, a team member, an address another account
signs in with (same answer; that person is emailed), an address already confirmed, bad input.
Real PostgreSQL and Redis; jobs drained by a burst worker.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.models import Account, Shop
from app.passwords import verify_password
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sandbox.shopify import SandboxShopify
from tests.conftest import SHOPIFY_API_KEY, SHOPIFY_API_SECRET
from tests.factories import cart_flow
from tests.factories.accounts import (
    emails_to,
    link_in_last_email,
    make_member,
    make_owner,
    post_form,
    sign_in,
)
from tests.factories.admin import make_account, make_shop

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration

DOMAIN = "tea-house.myshopify.com"
EMBEDDED = {"embedded": "1", "shop": DOMAIN, "host": "YWRtaW4", "locale": "en"}
ADDRESS = "owner@tea-house.example"
PASSWORD = "matcha-latte-2026"


@pytest.fixture
def sandbox() -> Any:
    platform = SandboxShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET, seed=5)
    platform.add_shop(DOMAIN, customers=1, years=1, name="Tea House")
    yield platform
    platform.close()


@pytest.fixture
def shop(db: Session, runtime: Any) -> Shop:
    """The store as a Shopify install leaves it: an account named after it, no address."""
    made = make_shop(db, make_account(db, "tea-house"), DOMAIN, name="Tea House")
    made.access_token_encrypted = runtime.cipher.encrypt("shpat_installed")
    db.commit()
    return made


class ShopifyAdmin:
    """Requests from inside the Shopify admin: a fresh session token each, never a cookie."""

    def __init__(self, app: Any, sandbox: SandboxShopify) -> None:
        self.client = app.test_client(use_cookies=False)
        self.sandbox = sandbox

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sandbox.mint_session_token(DOMAIN)}"}

    def get(self, path: str, **query: str) -> Any:
        return self.client.get(path, query_string={**EMBEDDED, **query}, headers=self._headers())

    def post(self, path: str, **form: str) -> Any:
        return self.client.post(path, query_string=EMBEDDED, data=form, headers=self._headers())


def _add(admin: ShopifyAdmin, email: str = ADDRESS, password: str = PASSWORD, **other: str) -> Any:
    form = {"email": email, "new_password": password, "repeat_password": password, **other}
    return admin.post("/app/account", **form)


def _follow_link(client: Any, link: str) -> Any:
    path, token = link.split("#", 1)
    return post_form(client, path, path, token=token)


def test_an_owner_from_shopify_adds_an_address_and_signs_in_outside_shopify(
    app: Any,
    client: Any,
    db: Session,
    shop: Shop,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    admin = ShopifyAdmin(app, sandbox)
    stores = admin.get("/app/stores")
    assert b"data-account-link" in stores.data
    page = admin.get("/app/account")
    assert page.status_code == 200
    assert b"data-add-email-form" in page.data
    assert "Set-Cookie" not in page.headers

    sent = _add(admin)
    assert sent.status_code == 302, sent.data[:300]
    assert "sent=1" in sent.headers["Location"]
    assert "Set-Cookie" not in sent.headers
    db.expire_all()
    account = db.get_one(Account, shop.account_id)
    assert (account.email, account.email_verified) == (ADDRESS, False)
    assert verify_password(account.password_hash, PASSWORD)
    pending = admin.get("/app/account", sent="1")
    assert b"data-account-sent" in pending.data
    assert ADDRESS.encode() in pending.data  # waiting for its confirmation

    drain_jobs()
    (email,) = emails_to(sendgrid, ADDRESS)
    assert email.subject == "Confirm your email address for Kizuna"
    assert "tea-house" in (email.text or "")
    link = link_in_last_email(sendgrid, ADDRESS)
    assert link.startswith("/account/verify#")

    assert sign_in(client, ADDRESS, PASSWORD).status_code == 403  # not confirmed yet
    confirmed = _follow_link(client, link)
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"].endswith("/login?verified=1")

    signed_in = sign_in(client, ADDRESS, PASSWORD)
    assert signed_in.status_code == 302
    assert client.get("/app/team").status_code == 200  # the owner's account-wide session
    assert client.get("/connect/woocommerce").status_code == 200
    details = client.get("/app/account")
    assert b'data-field="owner-email"' in details.data
    assert b"data-add-email-form" not in details.data
    # Confirmed: the address is the owner's; a Shopify sign-in is told where the owner signs
    # in, not the address, and neither it nor the owner's own session changes it here.
    from_shopify = admin.get("/app/account")
    assert b'data-field="owner-signs-in"' in from_shopify.data
    assert ADDRESS.encode() not in from_shopify.data
    assert _add(admin, email="someone@else.example").status_code == 403
    kept = post_form(
        client,
        "/app/account",
        "/app/account",
        email="someone@else.example",
        new_password=PASSWORD,
        repeat_password=PASSWORD,
    )
    assert kept.status_code == 409
    db.expire_all()
    assert db.get_one(Account, shop.account_id).email == ADDRESS


def test_only_the_owner_of_a_shopify_only_account_adds_an_address(
    app: Any,
    client: Any,
    db: Session,
    runtime: Any,
    shop: Shop,
    sandbox: SandboxShopify,
    sendgrid: SandboxSendGrid,
    drain_jobs: Any,
) -> None:
    admin = ShopifyAdmin(app, sandbox)
    # Bad input: nothing stored.
    assert _add(admin, email="not-an-address").status_code == 400
    mismatch = _add(admin, repeat_password="something-else-2026")
    assert mismatch.status_code == 400
    assert b'data-account-error="password.mismatch"' in mismatch.data
    assert _add(admin, password="short").status_code == 400

    # An address another account signs in with: the same answer; that person is told by email.
    make_owner(db, "taken@else.example", PASSWORD)
    taken = _add(admin, email="taken@else.example")
    assert taken.status_code == 302
    drain_jobs()
    (told,) = emails_to(sendgrid, "taken@else.example")
    assert told.subject == "You already have a Kizuna account"
    db.expire_all()
    assert db.get_one(Account, shop.account_id).email is None

    # A team member (account-wide, not the owner) may not.
    account = db.get_one(Account, shop.account_id)
    member = make_member(db, account, "staff@tea-house.example", "staff-password-1")
    assert sign_in(client, member.email, "staff-password-1").status_code == 302
    refused = post_form(
        client,
        "/app/stores",
        "/app/account",
        email=ADDRESS,
        new_password=PASSWORD,
        repeat_password=PASSWORD,
    )
    assert refused.status_code == 403
    assert b'data-field="owner-only"' in client.get("/app/account").data

    # The account holds another store too: a Shopify sign-in to one store may not.
    make_shop(db, account, "https://tea-house.example", platform="woocommerce")
    assert _add(admin).status_code == 403
    assert b"data-add-email-form" not in admin.get("/app/account").data
    db.expire_all()
    assert db.get_one(Account, shop.account_id).email is None
