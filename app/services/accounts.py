"""Merchant accounts: sign-up, email verification, password reset, team invitations, and the
owner's address and password added to an account made by a Shopify install.

Layer: service; each public function commits (or changes nothing). Ending sessions after a new
password is the caller's part (`app.auth.sessions`), after this commit. Links are signed with
the app's secret, expire, and work once: a reset link names a fingerprint of the password it
replaces, an invitation its member's current nonce, a verification link an unverified account.
Nothing here tells a caller whether an address has an account: that is said only by email.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Account, AccountMember, Shop
from app.models.account import OWNER, STAFF
from app.passwords import hash_password
from app.queueing import enqueue, enqueue_after_commit, job_id
from app.tasks import SEND_ACCOUNT_EMAIL

log = logging.getLogger(__name__)

VERIFY, RESET, INVITE = "verify", "reset", "invite"
# What an account email is for (`services.account_emails` renders each).
EMAIL_VERIFY = "verify"  # confirm the address of a new sign-up
EMAIL_SIGNUP_AGAIN = "signup_again"  # sign-up for an unverified address: a link to set a password
EMAIL_REGISTERED = "registered"  # sign-up for an address that already signs in
EMAIL_ADDED = "added"  # confirm the address added to an account made by a Shopify install
EMAIL_RESET = "reset"
EMAIL_INVITE = "invite"

TOKEN_LIFETIMES = {
    VERIFY: timedelta(days=2),
    RESET: timedelta(hours=1),
    INVITE: timedelta(days=7),
}
MAX_TOKEN_LENGTH = 400
MAX_EMAIL_LENGTH = 320
MAX_NAME_LENGTH = 200
_SALT = "kizuna.account.v1"


def _set_password(account_or_member: Account | AccountMember, password: str) -> None:
    account_or_member.password_hash = hash_password(password)


def set_password(db: Session, account: Account, password: str) -> None:
    """Store a new scrypt hash for the account's password (checked by the caller) and commit."""
    _set_password(account, password)
    db.commit()


def normalize_email(email: str) -> str:
    return email.strip().lower()[:MAX_EMAIL_LENGTH]


def looks_like_email(email: str) -> bool:
    local, at, domain = email.partition("@")
    return bool(local and at and "." in domain and " " not in email and len(email) <= 254)


# --- who signs in with an address --------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Someone who signs in: the account's owner (`member_id` None) or a team member."""

    account_id: int
    member_id: int | None
    role: str
    email: str
    password_hash: str | None
    verified: bool  # owner: the address is confirmed; member: the invitation was accepted


def _owner(account: Account) -> Person:
    return Person(
        account.id, None, OWNER, account.email or "", account.password_hash, account.email_verified
    )


def _member(member: AccountMember) -> Person:
    return Person(
        member.account_id,
        member.id,
        member.role,
        member.email,
        member.password_hash,
        member.accepted_at is not None,
    )


def find_person(db: Session, email: str) -> Person | None:
    """Who signs in with `email` (any case); None when nobody does."""
    wanted = normalize_email(email)
    if not wanted:
        return None
    account = db.scalars(select(Account).where(func.lower(Account.email) == wanted)).one_or_none()
    if account is not None:
        return _owner(account)
    member = db.scalars(select(AccountMember).where(AccountMember.email == wanted)).one_or_none()
    return _member(member) if member is not None else None


def person(db: Session, account_id: int, member_id: int | None) -> Person | None:
    """The person a session names; None when the account or member is gone."""
    if member_id is None:
        account = db.get(Account, account_id)
        return _owner(account) if account is not None else None
    member = db.get(AccountMember, member_id)
    if member is None or member.account_id != account_id:
        return None
    return _member(member)


# --- signed links --------------------------------------------------------------------------


def _fingerprint(value: str | None) -> str:
    return hashlib.sha256((value or "").encode()).hexdigest()[:16]


def token_salt(purpose: str) -> str:
    return f"{_SALT}.{purpose}"


def make_token(secret_key: str, purpose: str, values: list[Any]) -> str:
    return str(URLSafeTimedSerializer(secret_key, salt=token_salt(purpose)).dumps(values))


def _read_token(secret_key: str, purpose: str, token: str, size: int) -> list[Any] | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    max_age = int(TOKEN_LIFETIMES[purpose].total_seconds())
    try:
        values = URLSafeTimedSerializer(secret_key, salt=token_salt(purpose)).loads(
            token, max_age=max_age
        )
    except BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(values, list) or len(values) != size:
        return None
    return values


def verify_token(secret_key: str, account: Account) -> str:
    return make_token(
        secret_key,
        VERIFY,
        [account.id, _fingerprint(account.email), _fingerprint(account.password_hash)],
    )


def reset_token(secret_key: str, who: Person) -> str:
    return make_token(
        secret_key, RESET, [who.account_id, who.member_id or 0, _fingerprint(who.password_hash)]
    )


def invite_token(secret_key: str, member: AccountMember) -> str:
    return make_token(secret_key, INVITE, [member.account_id, member.id, member.invite_nonce])


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# --- emails --------------------------------------------------------------------------------


def _email_job_id(kind: str, account_id: int, member_id: int | None) -> str:
    # A new id per request (the web layer limits how often): a second reset email is allowed.
    return job_id("account-email", kind, account_id, member_id or 0, secrets.token_hex(6))


def queue_email(runtime: Kizuna, kind: str, who: Person, lang: str) -> None:
    """Send account email `kind` to `who` (job `account-email-…`), now: nothing to commit."""
    enqueue(
        runtime.redis,
        SEND_ACCOUNT_EMAIL,
        kind,
        who.account_id,
        who.member_id,
        lang,
        job_id=_email_job_id(kind, who.account_id, who.member_id),
    )


def _queue_email_after_commit(
    runtime: Kizuna, db: Session, kind: str, account_id: int, member_id: int | None, lang: str
) -> None:
    enqueue_after_commit(
        db,
        runtime.redis,
        SEND_ACCOUNT_EMAIL,
        kind,
        account_id,
        member_id,
        lang,
        job_id=_email_job_id(kind, account_id, member_id),
    )


# --- sign-up and verification ----------------------------------------------------------------


def sign_up(runtime: Kizuna, db: Session, name: str, email: str, password: str, lang: str) -> None:
    """Create an unverified account and email its verification link; for an address that
    already signs in, email that person instead. Same work either way, so the answer's timing
    does not tell the two apart. The password was checked by the caller."""
    address = normalize_email(email)
    password_hash = hash_password(password)  # always: the cost of a new account, every time
    existing = find_person(db, address)
    if existing is None:
        account = Account(
            name=name.strip()[:MAX_NAME_LENGTH] or address.split("@", 1)[0],
            email=address,
            password_hash=password_hash,
            email_verified=False,
        )
        db.add(account)
        try:
            db.flush()
        except IntegrityError:  # the same address signed up a moment ago
            db.rollback()
            existing = find_person(db, address)
        else:
            _queue_email_after_commit(runtime, db, EMAIL_VERIFY, account.id, None, lang)
            db.commit()
            log.info("account signed up account_id=%s", account.id)
            return
    if existing is None:
        return
    if existing.verified:
        kind = EMAIL_REGISTERED
    elif existing.member_id is not None:
        kind = EMAIL_INVITE  # invited, not accepted yet: the invitation again
    else:
        # An unverified sign-up keeps its password: whoever owns the address sets one by link.
        kind = EMAIL_SIGNUP_AGAIN
    queue_email(runtime, kind, existing, lang)


def verify_email(db: Session, secret_key: str, token: str) -> int | None:
    """Mark the account of a valid verification link verified; its id, or None (bad, expired,
    already used, or the account's address or password changed since)."""
    values = _read_token(secret_key, VERIFY, token, 3)
    if values is None or not _is_id(values[0]):
        return None
    account = db.scalars(
        select(Account).where(Account.id == values[0]).with_for_update()
    ).one_or_none()
    if (
        account is None
        or account.email_verified
        or values[1] != _fingerprint(account.email)
        or values[2] != _fingerprint(account.password_hash)
    ):
        db.rollback()
        return None
    account.email_verified = True
    db.commit()
    log.info("account email verified account_id=%s", account.id)
    return account.id


# --- an address for an account made by a Shopify install ----------------------------------

ADDRESS_SENT, ADDRESS_CONFIRMED_ALREADY = "sent", "confirmed_already"


def has_confirmed_address(account: Account) -> bool:
    """Whether the owner signs in with a confirmed address (an install's account has none)."""
    return bool(account.email) and account.email_verified


def add_owner_email(
    runtime: Kizuna, db: Session, account_id: int, email: str, password: str, lang: str
) -> str:
    """Give an account without a confirmed address (one a Shopify install made) the owner's
    address and password, unconfirmed until the emailed link is opened; then the owner signs in
    to the standalone admin. Sent again with a new address or password, the earlier link stops
    working. The caller checked the address and the password, and who may do this.

    NOT_AN_EMAIL; ADDRESS_CONFIRMED_ALREADY (nothing changes); else ADDRESS_SENT, also when
    another person signs in with the address: as at sign-up, they are emailed instead and this
    account keeps no address, so the answer does not tell which addresses have an account."""
    address = normalize_email(email)
    if not looks_like_email(address):
        return NOT_AN_EMAIL
    password_hash = hash_password(password)
    account = db.scalars(
        select(Account).where(Account.id == account_id).with_for_update()
    ).one_or_none()
    if account is None or has_confirmed_address(account):
        db.rollback()
        return ADDRESS_CONFIRMED_ALREADY
    existing = find_person(db, address)
    if existing is not None and (existing.account_id, existing.member_id) != (account_id, None):
        db.rollback()
        if existing.verified:
            kind = EMAIL_REGISTERED
        elif existing.member_id is not None:
            kind = EMAIL_INVITE
        else:
            kind = EMAIL_SIGNUP_AGAIN
        queue_email(runtime, kind, existing, lang)
        return ADDRESS_SENT
    account.email = address
    account.password_hash = password_hash
    account.email_verified = False
    try:
        db.flush()
    except IntegrityError:  # the address signed up a moment ago
        db.rollback()
        return ADDRESS_SENT
    _queue_email_after_commit(runtime, db, EMAIL_ADDED, account_id, None, lang)
    db.commit()
    log.info("owner address added account_id=%s", account_id)
    return ADDRESS_SENT


def shopify_only_account(db: Session, account_id: int) -> bool:
    """Whether the account is one a Shopify install made and nothing else: no confirmed
    address, and its one store a Shopify store (so whoever the store lets into Kizuna holds
    nothing beyond that store)."""
    account = db.get(Account, account_id)
    if account is None or has_confirmed_address(account):
        return False
    platforms = db.scalars(
        select(Shop.platform).where(Shop.account_id == account_id, Shop.erased_at.is_(None))
    ).all()
    return list(platforms) == ["shopify"]


# --- password reset --------------------------------------------------------------------------


def request_password_reset(runtime: Kizuna, db: Session, email: str, lang: str) -> None:
    """Email a reset link to whoever signs in with `email`; nothing (and no sign of it) else.
    An invited member who has not accepted yet gets the invitation again instead."""
    who = find_person(db, email)
    if who is None:
        return
    if who.member_id is not None and not who.verified:
        queue_email(runtime, EMAIL_INVITE, who, lang)
        return
    queue_email(runtime, EMAIL_RESET, who, lang)


def _reset_target(db: Session, secret_key: str, token: str) -> Account | AccountMember | None:
    values = _read_token(secret_key, RESET, token, 3)
    if values is None or not (_is_id(values[0]) and _is_id(values[1])):
        return None
    target: Account | AccountMember | None
    if values[1] == 0:
        target = db.scalars(
            select(Account).where(Account.id == values[0]).with_for_update()
        ).one_or_none()
    else:
        target = db.scalars(
            select(AccountMember)
            .where(AccountMember.id == values[1], AccountMember.account_id == values[0])
            .with_for_update()
        ).one_or_none()
        if target is not None and target.accepted_at is None:
            target = None
    if target is None or values[2] != _fingerprint(target.password_hash):
        return None
    return target


def reset_link_valid(db: Session, secret_key: str, token: str) -> bool:
    """Whether a reset link would still work (the form is shown only then)."""
    valid = _reset_target(db, secret_key, token) is not None
    db.rollback()
    return valid


def reset_password(db: Session, secret_key: str, token: str, password: str) -> Person | None:
    """Set the password a live reset link names (checked by the caller) and commit; the person,
    or None. The link stops working: it named the old password. Opening it proves the address,
    so an unverified owner is verified too."""
    target = _reset_target(db, secret_key, token)
    if target is None:
        db.rollback()
        return None
    _set_password(target, password)
    if isinstance(target, Account):
        target.email_verified = True
        who = _owner(target)
    else:
        who = _member(target)
    db.commit()
    log.info("password reset account_id=%s member_id=%s", who.account_id, who.member_id)
    return who


# --- team ----------------------------------------------------------------------------------

INVITED, ALREADY_MEMBER, ADDRESS_TAKEN, NOT_AN_EMAIL = (
    "invited",
    "already_member",
    "address_taken",
    "not_an_email",
)


def team(db: Session, account_id: int) -> tuple[Account, list[AccountMember]]:
    account = db.get_one(Account, account_id)
    members = db.scalars(
        select(AccountMember)
        .where(AccountMember.account_id == account_id)
        .order_by(AccountMember.invited_at, AccountMember.id)
    ).all()
    return account, list(members)


def invite_member(runtime: Kizuna, db: Session, account_id: int, email: str, lang: str) -> str:
    """Invite `email` to the account as staff (an email with a link to set a password); an
    invitation not accepted yet is sent again with a new link. One of INVITED, ALREADY_MEMBER,
    ADDRESS_TAKEN (the address signs in elsewhere: one address, one account), NOT_AN_EMAIL."""
    address = normalize_email(email)
    if not looks_like_email(address):
        return NOT_AN_EMAIL
    existing = find_person(db, address)
    member: AccountMember | None = None
    if existing is not None:
        if existing.account_id != account_id:
            return ADDRESS_TAKEN
        if existing.member_id is None or existing.verified:
            return ALREADY_MEMBER
        member = db.get_one(AccountMember, existing.member_id)
    if member is None:
        member = AccountMember(account_id=account_id, email=address, role=STAFF)
        db.add(member)
    member.invite_nonce = secrets.token_hex(16)  # an earlier link for this member stops working
    member.invited_at = utcnow()
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        return ADDRESS_TAKEN
    _queue_email_after_commit(runtime, db, EMAIL_INVITE, account_id, member.id, lang)
    db.commit()
    log.info("team member invited account_id=%s member_id=%s", account_id, member.id)
    return INVITED


def _invited_member(db: Session, secret_key: str, token: str) -> AccountMember | None:
    values = _read_token(secret_key, INVITE, token, 3)
    if values is None or not (_is_id(values[0]) and _is_id(values[1])):
        return None
    member = db.scalars(
        select(AccountMember)
        .where(AccountMember.id == values[1], AccountMember.account_id == values[0])
        .with_for_update()
    ).one_or_none()
    if (
        member is None
        or member.invite_nonce is None
        or not isinstance(values[2], str)
        or not secrets.compare_digest(member.invite_nonce.encode(), values[2].encode())
    ):
        return None
    return member


def invite_link_valid(db: Session, secret_key: str, token: str) -> bool:
    valid = _invited_member(db, secret_key, token) is not None
    db.rollback()
    return valid


def accept_invite(db: Session, secret_key: str, token: str, password: str) -> Person | None:
    """Set the invited member's password (checked by the caller) and commit; the member, or
    None (a bad, expired, used or withdrawn invitation)."""
    member = _invited_member(db, secret_key, token)
    if member is None:
        db.rollback()
        return None
    _set_password(member, password)
    member.invite_nonce = None
    member.accepted_at = utcnow()
    who = _member(member)
    db.commit()
    log.info("invitation accepted account_id=%s member_id=%s", who.account_id, who.member_id)
    return who


def remove_member(db: Session, account_id: int, member_id: int) -> bool:
    """Remove a member of this account (and nothing of another account's); whether one went."""
    member = db.scalars(
        select(AccountMember).where(
            AccountMember.id == member_id, AccountMember.account_id == account_id
        )
    ).one_or_none()
    if member is None:
        return False
    db.delete(member)
    db.commit()
    log.info("team member removed account_id=%s member_id=%s", account_id, member_id)
    return True


def set_person_password(db: Session, account_id: int, member_id: int | None, password: str) -> bool:
    """A signed-in person's new password (checked by the caller), committed; False if gone."""
    target: Account | AccountMember | None
    if member_id is None:
        target = db.get(Account, account_id)
    else:
        target = db.get(AccountMember, member_id)
        if target is not None and target.account_id != account_id:
            target = None
    if target is None:
        return False
    _set_password(target, password)
    db.commit()
    return True
