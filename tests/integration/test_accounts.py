"""Merchant accounts from the outside: sign-up, the email link, sign-in, forgotten password,
team invitations and the owner-only actions, over HTTP with emails read from the simulated
SendGrid's outbox (real PostgreSQL, Redis, jobs drained by a burst worker).

Hostile input: missing CSRF tokens, forged, expired and reused links, rate limits, addresses
that do or do not exist (same answer), one account's owner reaching for another's team.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Config, load_config
from app.models import Account, AccountMember
from app.passwords import verify_password
from app.services import accounts
from connectors.sandbox.sendgrid import SandboxSendGrid
from tests.conftest import make_test_env
from tests.factories import cart_flow
from tests.factories.accounts import (
    csrf_from,
    emails_to,
    link_in_last_email,
    make_member,
    make_owner,
    post_form,
    sign_in,
)
from tests.factories.admin import make_shop

sendgrid = cart_flow.sendgrid

pytestmark = pytest.mark.integration

OWNER = "owner@tea-house.example"
PASSWORD = "matcha-latte-2026"
SECRET = "test-secret-key-0123456789"


@pytest.fixture
def config(database_url: str, redis_url: str, tmp_path: Path, sendgrid: Any) -> Config:
    env = make_test_env(database_url, redis_url, SENDGRID_SANDBOX_URL=sendgrid.url)
    return load_config(env, instance_path=tmp_path / "instance")


def _sign_up(client: Any, email: str = OWNER, password: str = PASSWORD, **extra: str) -> Any:
    return post_form(
        client, "/signup", "/signup", name="Tea House", email=email, password=password, **extra
    )


def _follow_link(client: Any, link: str, **fields: str) -> Any:
    """Open an emailed link as the browser does: the page, then its form with the token."""
    path, token = link.split("#", 1)
    return post_form(client, path, path, token=token, **fields)


def _accounts(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Account)) or 0


def _old_token(purpose: str, values: list[Any], age: float) -> str:
    class Issued(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age)

    serializer = URLSafeTimedSerializer(SECRET, salt=accounts.token_salt(purpose), signer=Issued)
    return str(serializer.dumps(values))


# --- sign-up and verification ----------------------------------------------------------------


def test_sign_up_confirm_then_sign_in(
    client: Any, db: Session, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    page = _sign_up(client)
    assert page.status_code == 200
    assert b"data-check-email" in page.data
    account = db.scalars(select(Account)).one()
    assert (account.email, account.email_verified) == (OWNER, False)
    assert account.password_hash
    assert verify_password(account.password_hash, PASSWORD)
    drain_jobs()
    (email,) = emails_to(sendgrid, OWNER)
    assert "Confirm" in email.subject
    assert "List-Unsubscribe" not in email.headers  # transactional
    link = link_in_last_email(sendgrid, OWNER)
    assert link.startswith("/account/verify#")

    # Before confirming, the right password only says so (and sends the link again).
    refused = sign_in(client, OWNER, PASSWORD)
    assert refused.status_code == 403
    assert b'data-login-error="login.unverified"' in refused.data
    drain_jobs()
    assert len(emails_to(sendgrid, OWNER)) == 2

    confirmed = _follow_link(client, link)
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"].endswith("/login?verified=1")
    db.expire_all()
    assert db.get_one(Account, account.id).email_verified
    again = _follow_link(client, link)  # used: a second time does nothing
    assert again.status_code == 400
    assert b'data-account-error="account.link_invalid"' in again.data

    signed_in = sign_in(client, OWNER, PASSWORD)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"].endswith("/app")
    home = client.get("/app")
    assert home.status_code == 200
    assert b"data-connect-woocommerce" in home.data  # the owner's next step


def test_sign_up_answers_the_same_for_an_address_that_exists(
    client: Any, db: Session, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    owner = make_owner(db, OWNER, PASSWORD)
    page = _sign_up(client, OWNER.upper(), "another-password-1")
    assert page.status_code == 200
    assert b"data-check-email" in page.data
    assert _accounts(db) == 1
    db.refresh(owner)
    assert owner.password_hash
    assert verify_password(owner.password_hash, PASSWORD)
    drain_jobs()
    (email,) = emails_to(sendgrid, OWNER)
    assert "already have" in email.subject
    assert link_in_last_email(sendgrid, OWNER) == "/login"


def test_signing_up_again_before_confirming_sends_a_link_that_sets_the_password(
    client: Any, db: Session, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    _sign_up(client, password="squatter-password")  # someone else, first
    _sign_up(client, password="the-real-owner-1")
    drain_jobs()
    account = db.scalars(select(Account)).one()
    assert account.password_hash
    assert verify_password(account.password_hash, "squatter-password")
    link = link_in_last_email(sendgrid, OWNER)
    assert link.startswith("/password/reset#")
    done = _follow_link(
        client, link, new_password="the-real-owner-1", repeat_password="the-real-owner-1"
    )
    assert done.status_code == 302
    db.expire_all()
    account = db.get_one(Account, account.id)
    assert account.email_verified
    assert account.password_hash
    assert verify_password(account.password_hash, "the-real-owner-1")


def test_sign_up_refuses_bad_input_without_creating_anything(client: Any, db: Session) -> None:
    no_csrf = client.post("/signup", data={"email": OWNER, "password": PASSWORD})
    assert no_csrf.status_code == 400
    short = _sign_up(client, password="short")
    assert short.status_code == 400
    assert b'data-account-error="password.too_short"' in short.data
    not_email = _sign_up(client, email="not-an-address")
    assert not_email.status_code == 400
    huge = _sign_up(client, password="x" * 5000)
    assert huge.status_code == 400
    assert _accounts(db) == 0


def test_sign_up_is_rate_limited(
    client: Any, db: Session, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    for _ in range(4):  # one address: the page answers alike, the emails stop at 3
        assert _sign_up(client).status_code == 200
    drain_jobs()
    assert len(emails_to(sendgrid, OWNER)) == 3
    for n in range(6):
        assert _sign_up(client, email=f"m{n}@example.jp").status_code == 200
    held = _sign_up(client, email="one-more@example.jp")  # 11th from this client address
    assert held.status_code == 429
    assert int(held.headers["Retry-After"]) > 0
    assert _accounts(db) == 7


def test_verification_links_forged_expired_or_for_a_changed_account_are_refused(
    client: Any, db: Session
) -> None:
    account = make_owner(db, OWNER, PASSWORD, verified=False)
    good = accounts.verify_token(SECRET, account)
    for token in ("", "garbage", good[:-2] + "xx", "a" * 1000, good.replace(".", "", 1)):
        assert _follow_link(client, f"/account/verify#{token}").status_code == 400
    values = [
        account.id,
        accounts._fingerprint(OWNER),
        accounts._fingerprint(account.password_hash),
    ]
    expired = _old_token(accounts.VERIFY, values, age=3 * 86400)
    assert _follow_link(client, f"/account/verify#{expired}").status_code == 400
    other_key = URLSafeTimedSerializer("another-secret-key-xyz", salt=accounts.token_salt("verify"))
    assert _follow_link(client, f"/account/verify#{other_key.dumps(values)}").status_code == 400
    no_csrf = client.post("/account/verify", data={"token": good})
    assert no_csrf.status_code == 400
    db.expire_all()
    assert not db.get_one(Account, account.id).email_verified
    assert _follow_link(client, f"/account/verify#{good}").status_code == 302
    assert client.get("/account/verify").status_code == 200  # the page itself changes nothing


# --- forgotten password ----------------------------------------------------------------------


def test_password_reset_by_email_ends_other_sessions_and_works_once(
    app: Any, client: Any, db: Session, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    make_owner(db, OWNER, PASSWORD)
    elsewhere = app.test_client()
    assert sign_in(elsewhere, OWNER, PASSWORD).status_code == 302
    assert elsewhere.get("/app").status_code == 200

    unknown = post_form(client, "/password/forgot", "/password/forgot", email="nobody@x.example")
    known = post_form(client, "/password/forgot", "/password/forgot", email=OWNER)
    assert unknown.status_code == known.status_code == 200
    assert b"data-check-email" in unknown.data
    assert b"data-check-email" in known.data
    drain_jobs()
    assert [m.to_email for m in sendgrid.outbox] == [OWNER]
    link = link_in_last_email(sendgrid, OWNER)
    assert link.startswith("/password/reset#")

    mismatch = _follow_link(client, link, new_password="new-pass-2026", repeat_password="other")
    assert mismatch.status_code == 400
    done = _follow_link(client, link, new_password="new-pass-2026", repeat_password="new-pass-2026")
    assert done.status_code == 302
    assert client.get("/app").status_code == 200  # this browser is signed in
    assert elsewhere.get("/app").status_code == 302  # the other one is out
    reused = _follow_link(client, link, new_password="third-pass-1", repeat_password="third-pass-1")
    assert reused.status_code == 400
    assert sign_in(app.test_client(), OWNER, PASSWORD).status_code == 401
    assert sign_in(app.test_client(), OWNER, "new-pass-2026").status_code == 302


def test_reset_links_forged_or_expired_are_refused(client: Any, db: Session) -> None:
    account = make_owner(db, OWNER, PASSWORD)
    values = [account.id, 0, accounts._fingerprint(account.password_hash)]
    expired = _old_token(accounts.RESET, values, age=2 * 3600)
    wrong_purpose = accounts.make_token(SECRET, accounts.VERIFY, values)
    other_account = accounts.make_token(SECRET, accounts.RESET, [account.id + 1, 0, values[2]])
    for token in (expired, wrong_purpose, other_account, "x"):
        refused = _follow_link(
            client,
            f"/password/reset#{token}",
            new_password="new-pass-2026",
            repeat_password="new-pass-2026",
        )
        assert refused.status_code == 400
    db.expire_all()
    stored = db.get_one(Account, account.id).password_hash
    assert stored
    assert verify_password(stored, PASSWORD)


def test_reset_requests_are_rate_limited_per_address_and_per_recipient(
    client: Any, db: Session, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    make_owner(db, OWNER, PASSWORD)
    for _ in range(5):
        assert (
            post_form(client, "/password/forgot", "/password/forgot", email=OWNER).status_code
            == 200
        )
    drain_jobs()
    assert len(emails_to(sendgrid, OWNER)) == 3
    for n in range(5):
        post_form(client, "/password/forgot", "/password/forgot", email=f"x{n}@example.jp")
    held = post_form(client, "/password/forgot", "/password/forgot", email=OWNER)
    assert held.status_code == 429


# --- team --------------------------------------------------------------------------------


def test_owner_invites_staff_who_accepts_and_cannot_manage(
    app: Any, client: Any, db: Session, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    owner = make_owner(db, OWNER, PASSWORD, name="Tea House")
    shop = make_shop(db, owner, "tea-house.myshopify.com")
    assert sign_in(client, OWNER, PASSWORD).status_code == 302
    invited = post_form(client, "/app/team", "/app/team/invite", email="Staff@Tea-House.example")
    assert invited.status_code == 302
    drain_jobs()
    (email,) = emails_to(sendgrid, "staff@tea-house.example")
    assert "Tea House" in email.subject
    link = link_in_last_email(sendgrid, "staff@tea-house.example")
    assert link.startswith("/team/accept#")

    staff = app.test_client()
    accepted = _follow_link(
        staff, link, new_password="staff-pass-1", repeat_password="staff-pass-1"
    )
    assert accepted.status_code == 302
    assert staff.get("/app").status_code == 200
    assert (
        _follow_link(
            app.test_client(), link, new_password="x-pass-123", repeat_password="x-pass-123"
        ).status_code
        == 400
    )

    # Staff work with the stores but cannot connect, disconnect or manage the team.
    team_page = staff.get("/app/team")
    assert team_page.status_code == 200
    assert b"data-invite-form" not in team_page.data
    assert b"data-remove-member" not in team_page.data
    stores = staff.get("/app/stores")
    assert stores.status_code == 200
    assert b"data-disconnect-link" not in stores.data
    token = csrf_from(staff, "/app/team")
    assert (
        staff.post(
            "/app/team/invite", data={"email": "x@y.example", "csrf_token": token}
        ).status_code
        == 403
    )
    assert staff.get(f"/app/stores/{shop.id}/disconnect").status_code == 403
    refused = staff.post(
        f"/app/stores/{shop.id}/disconnect",
        data={"confirm_domain": shop.domain, "csrf_token": token},
    )
    assert refused.status_code == 403
    assert staff.get("/connect/woocommerce").status_code == 403
    assert staff.get("/connect/shopify").status_code == 403
    member = db.scalars(select(AccountMember)).one()
    assert (
        staff.post(f"/app/team/{member.id}/remove", data={"csrf_token": token}).status_code == 403
    )
    # A member signs in with their own password, and changes only their own.
    assert sign_in(app.test_client(), "staff@tea-house.example", "staff-pass-1").status_code == 302
    owner_row = db.get_one(Account, owner.id)
    assert owner_row.password_hash
    assert verify_password(owner_row.password_hash, PASSWORD)

    # The owner removes the member: their sessions end at once.
    removed = post_form(client, "/app/team", f"/app/team/{member.id}/remove")
    assert removed.status_code == 302
    assert staff.get("/app").status_code == 302
    assert sign_in(app.test_client(), "staff@tea-house.example", "staff-pass-1").status_code == 401


def test_team_forms_refuse_csrf_less_posts_and_other_accounts(
    app: Any, client: Any, db: Session, sendgrid: SandboxSendGrid
) -> None:
    owner = make_owner(db, OWNER, PASSWORD)
    other = make_owner(db, "other@shop.example", PASSWORD)
    their_member = make_member(db, other, "theirs@shop.example", "their-pass-1")
    assert sign_in(client, OWNER, PASSWORD).status_code == 302
    assert client.post("/app/team/invite", data={"email": "a@b.example"}).status_code == 400
    assert post_form(client, "/app/team", f"/app/team/{their_member.id}/remove").status_code == 404
    db.expire_all()
    assert db.get(AccountMember, their_member.id) is not None
    taken = post_form(client, "/app/team", "/app/team/invite", email="theirs@shop.example")
    assert taken.status_code == 400
    assert b'data-team-error="team.address_taken"' in taken.data
    owner_taken = post_form(client, "/app/team", "/app/team/invite", email="OTHER@shop.example")
    assert owner_taken.status_code == 400
    itself = post_form(client, "/app/team", "/app/team/invite", email=OWNER)
    assert b"team.already_member" in itself.data
    their_shop = make_shop(db, other, "theirs.myshopify.com")
    assert client.get(f"/app/stores/{their_shop.id}/disconnect").status_code == 404
    # An invitation for this account cannot be turned into one for another.
    member = make_member(db, owner, "new@tea-house.example")
    forged = accounts.make_token(
        SECRET, accounts.INVITE, [other.id, member.id, member.invite_nonce]
    )
    assert (
        _follow_link(
            app.test_client(),
            f"/team/accept#{forged}",
            new_password="p-123456",
            repeat_password="p-123456",
        ).status_code
        == 400
    )
    stale = accounts.make_token(SECRET, accounts.INVITE, [owner.id, member.id, "0" * 32])
    assert (
        _follow_link(
            app.test_client(),
            f"/team/accept#{stale}",
            new_password="p-123456",
            repeat_password="p-123456",
        ).status_code
        == 400
    )
    expired = _old_token(accounts.INVITE, [owner.id, member.id, member.invite_nonce], age=8 * 86400)
    assert (
        _follow_link(
            app.test_client(),
            f"/team/accept#{expired}",
            new_password="p-123456",
            repeat_password="p-123456",
        ).status_code
        == 400
    )
    assert owner.id != other.id


def test_invitations_are_rate_limited(client: Any, db: Session) -> None:
    make_owner(db, OWNER, PASSWORD)
    assert sign_in(client, OWNER, PASSWORD).status_code == 302
    token = csrf_from(client, "/app/team")
    statuses = [
        client.post(
            "/app/team/invite", data={"email": f"s{n}@tea.example", "csrf_token": token}
        ).status_code
        for n in range(21)
    ]
    assert statuses[:20] == [302] * 20
    assert statuses[20] == 429


def test_login_link_account_gets_the_team_page(
    app: Any, client: Any, db: Session, runtime: Any
) -> None:
    """A Shopify merchant who opens the standalone admin (login link) is the account's owner."""
    from tests.conftest import sign_in_with_link

    account = Account(name="shopify-merchant")
    db.add(account)
    db.commit()
    make_shop(db, account, "merchant.myshopify.com")
    assert sign_in_with_link(client, runtime, account.id).status_code == 302
    page = client.get("/app/team")
    assert page.status_code == 200
    assert b"data-invite-form" in page.data
    assert b"data-disconnect-link" in client.get("/app/stores").data


def test_pages_and_emails_speak_the_merchants_language(
    client: Any, db: Session, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    japanese = {"Accept-Language": "ja-JP,ja;q=0.9"}
    page = client.get("/signup", headers=japanese)
    assert "Kizunaアカウントを作成" in page.get_data(as_text=True)
    token = csrf_from(client, "/signup")
    sent = client.post(
        "/signup",
        data={"email": OWNER, "password": PASSWORD, "name": "茶房", "csrf_token": token},
        headers=japanese,
    )
    assert "メールをご確認ください" in sent.get_data(as_text=True)
    drain_jobs()
    (email,) = emails_to(sendgrid, OWNER)
    assert email.subject == "Kizunaのメールアドレスを確認してください"
    assert "48時間以内" in (email.text or "")


def test_signing_up_with_an_invited_address_sends_the_invitation_not_the_owners_link(
    client: Any, db: Session, sendgrid: SandboxSendGrid, drain_jobs: Any
) -> None:
    owner = make_owner(db, OWNER, PASSWORD, verified=False)
    make_member(db, owner, "invited@tea-house.example")
    assert _sign_up(client, email="invited@tea-house.example").status_code == 200
    post_form(client, "/password/forgot", "/password/forgot", email="invited@tea-house.example")
    drain_jobs()
    links = [m.html or "" for m in emails_to(sendgrid, "invited@tea-house.example")]
    assert len(links) == 2
    assert all("/team/accept#" in html and "/password/reset#" not in html for html in links)
    assert emails_to(sendgrid, OWNER) == []
