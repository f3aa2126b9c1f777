"""The emails Kizuna sends a merchant about signing in: verification, reset, invitation.

Layer: service (reads only). Transactional, not marketing: no unsubscribe link, sent from the
app's own sender (`MAIL_FROM`), in the language the merchant used when asking. Links are minted
here, when the email is built, so no token waits in Redis or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr

from flask import render_template
from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from app.config import Config
from app.i18n import recipient_language
from app.models import Account, AccountMember
from app.services import accounts
from connectors.sendgrid.mail import OutgoingEmail

VERIFY_PATH = "/account/verify"
RESET_PATH = "/password/reset"
INVITE_PATH = "/team/accept"
LOGIN_PATH = "/login"
FORGOT_PATH = "/password/forgot"


@dataclass(frozen=True)
class _Content:
    subject: str
    heading: str
    paragraphs: tuple[str, ...]
    button: str
    url: str
    footnote: str


def _link(config: Config, path: str, token: str | None = None) -> str:
    base = f"{config.app_url.rstrip('/')}{path}"
    return f"{base}#{token}" if token else base  # the fragment reaches no server log


def _content(
    config: Config, kind: str, account: Account, member: AccountMember | None
) -> _Content | None:
    ignore = gettext("If this was not you, ignore this email: nothing changes.")
    if kind == accounts.EMAIL_VERIFY:
        if account.email_verified or member is not None:
            return None
        return _Content(
            gettext("Confirm your email address for Kizuna"),
            gettext("Welcome to Kizuna"),
            (
                gettext("Confirm this address to finish creating your Kizuna account."),
                gettext("The link works once, within 48 hours."),
            ),
            gettext("Confirm my email"),
            _link(config, VERIFY_PATH, accounts.verify_token(config.secret_key, account)),
            ignore,
        )
    if kind == accounts.EMAIL_ADDED:
        if account.email_verified or member is not None:
            return None
        return _Content(
            gettext("Confirm your email address for Kizuna"),
            gettext("Sign in to Kizuna outside Shopify"),
            (
                gettext(
                    "This address was added to the Kizuna account of %(name)s from the Shopify "
                    "admin. Confirm it, then sign in with it and the password you chose.",
                    name=account.name,
                ),
                gettext("The link works once, within 48 hours."),
            ),
            gettext("Confirm my email"),
            _link(config, VERIFY_PATH, accounts.verify_token(config.secret_key, account)),
            ignore,
        )
    if kind == accounts.EMAIL_SIGNUP_AGAIN:
        if account.email_verified or member is not None:
            return None  # only an unconfirmed owner chooses the first password by link
        person = accounts.Person(
            account.id, None, accounts.OWNER, account.email or "", account.password_hash, False
        )
        return _Content(
            gettext("Finish creating your Kizuna account"),
            gettext("Finish creating your Kizuna account"),
            (
                gettext(
                    "Someone asked to create a Kizuna account with this address, which is not "
                    "confirmed yet. Choose your password to confirm it."
                ),
                gettext("The link works once, within one hour."),
            ),
            gettext("Choose my password"),
            _link(config, RESET_PATH, accounts.reset_token(config.secret_key, person)),
            ignore,
        )
    if kind == accounts.EMAIL_REGISTERED:
        return _Content(
            gettext("You already have a Kizuna account"),
            gettext("You already have a Kizuna account"),
            (
                gettext(
                    "Someone asked to create a Kizuna account with this address, which already "
                    "signs in to Kizuna. Sign in, or reset your password if you forgot it."
                ),
            ),
            gettext("Sign in"),
            _link(config, LOGIN_PATH),
            gettext("Forgot your password? Reset it at %(url)s", url=_link(config, FORGOT_PATH)),
        )
    if kind == accounts.EMAIL_RESET:
        who = accounts.Person(
            account.id,
            member.id if member else None,
            member.role if member else accounts.OWNER,
            member.email if member else account.email or "",
            member.password_hash if member else account.password_hash,
            True,
        )
        if member is not None and member.accepted_at is None:
            return None
        return _Content(
            gettext("Reset your Kizuna password"),
            gettext("Reset your password"),
            (
                gettext("Someone asked to reset the password you sign in to Kizuna with."),
                gettext(
                    "The link works once, within one hour. Setting a new password signs out "
                    "every other browser."
                ),
            ),
            gettext("Choose a new password"),
            _link(config, RESET_PATH, accounts.reset_token(config.secret_key, who)),
            ignore,
        )
    if kind == accounts.EMAIL_INVITE:
        if member is None or member.invite_nonce is None:
            return None
        return _Content(
            gettext("%(name)s invited you to Kizuna", name=account.name),
            gettext("Join %(name)s on Kizuna", name=account.name),
            (
                gettext(
                    "You are invited to the team of %(name)s on Kizuna, the customer and email "
                    "tool of their store. Choose a password to accept.",
                    name=account.name,
                ),
                gettext("The link works once, within 7 days."),
            ),
            gettext("Accept the invitation"),
            _link(config, INVITE_PATH, accounts.invite_token(config.secret_key, member)),
            gettext("If you do not know %(name)s, ignore this email.", name=account.name),
        )
    return None


def account_email(
    config: Config,
    session: Session,
    kind: str,
    account_id: int,
    member_id: int | None,
    lang: str,
) -> OutgoingEmail | None:
    """The email `kind` for the account's owner (`member_id` None) or a member, as it stands
    now; None when it no longer applies (verified already, member removed, invitation used)."""
    account = session.get(Account, account_id)
    member = session.get(AccountMember, member_id) if member_id is not None else None
    if account is None:
        return None
    if member_id is not None and (member is None or member.account_id != account_id):
        return None
    to_email = member.email if member is not None else account.email
    if not to_email:
        return None
    language = recipient_language(lang, None)
    with force_locale(language):
        content = _content(config, kind, account, member)
        if content is None:
            return None
        values = {"lang": language, "content": content}
        html = render_template("email/account/message.html", **values)
        text = render_template("email/account/message.txt", **values)
    from_name, from_email = parseaddr(config.mail_from)
    return OutgoingEmail(
        kizuna_message_id=f"account-{kind}-{account_id}-{member_id or 0}",
        from_email=from_email,
        from_name=from_name or "Kizuna",
        to_email=to_email,
        subject=content.subject,
        html=html,
        text=text,
        categories=("kizuna", f"account-{kind}".replace("_", "-")),
    )
