"""Mail Send v3 request bodies built from platform-neutral emails.

Layer: connectors (pure), checked against SendGrid's OpenAPI spec: at most 1,000
personalizations, one recipient each; everything per recipient (address, `custom_args` with
opaque ids only, substitutions, List-Unsubscribe) lives in its personalization.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sendgrid.helpers.mail import (
    Category,
    Content,
    CustomArg,
    From,
    Header,
    Mail,
    MimeType,
    Personalization,
    ReplyTo,
    Subject,
    Substitution,
    To,
)

from connectors.email_address import is_email_address

MAX_PERSONALIZATIONS = 1000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SUBSTITUTIONS_BYTES = 10_000

KIZUNA_MESSAGE_ID_ARG = "kizuna_message_id"
KIZUNA_SHOP_ID_ARG = "kizuna_shop_id"

LIST_UNSUBSCRIBE = "List-Unsubscribe"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe-Post"
ONE_CLICK = "List-Unsubscribe=One-Click"

# Headers SendGrid refuses to let a sender set (Mail Send API reference, `headers`).
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)

_AddressT = TypeVar("_AddressT", From, To, ReplyTo)

_OPAQUE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 field-name: printable ASCII except ':'


class InvalidEmailError(ValueError):
    """The email cannot be sent as given; the message names the field, never its value."""


@dataclass(frozen=True)
class OutgoingEmail:
    """One email to one recipient, as a flow step renders it.

    `custom_args` and `categories` are stored by SendGrid as non-personal data, visible to its
    staff and kept indefinitely: opaque ids only. `substitutions` replace tags such as `-name-`
    in the subject and content for this recipient alone.
    """

    kizuna_message_id: str
    from_email: str
    to_email: str
    subject: str
    html: str | None = None
    text: str | None = None
    from_name: str | None = None
    to_name: str | None = None
    reply_to: str | None = None
    reply_to_name: str | None = None
    shop_id: str | None = None
    categories: tuple[str, ...] = ()
    custom_args: Mapping[str, str] = field(default_factory=dict)
    substitutions: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    unsubscribe_url: str | None = None  # https, accepts RFC 8058 one-click POST
    unsubscribe_mailto: str | None = None  # "mailto:..."
    send_at: datetime | None = None  # aware; SendGrid refuses more than 72 h ahead

    def all_custom_args(self) -> dict[str, str]:
        args = dict(self.custom_args)
        args[KIZUNA_MESSAGE_ID_ARG] = self.kizuna_message_id
        if self.shop_id is not None:
            args[KIZUNA_SHOP_ID_ARG] = self.shop_id
        return args

    def recipient_headers(self) -> dict[str, str]:
        """List-Unsubscribe carries a per-recipient token, so it is a personalization header."""
        links = []
        if self.unsubscribe_url:
            links.append(f"<{self.unsubscribe_url}>")
        if self.unsubscribe_mailto:
            links.append(f"<{self.unsubscribe_mailto}>")
        if not links:
            return {}
        headers = {LIST_UNSUBSCRIBE: ", ".join(links)}
        if self.unsubscribe_url:
            headers[LIST_UNSUBSCRIBE_POST] = ONE_CLICK
        return headers


# --- validation ------------------------------------------------------------------------------


def _check_address(value: str | None, field_name: str, *, ascii_only: bool = False) -> None:
    if value is None:
        return
    if not is_email_address(value):
        raise InvalidEmailError(f"{field_name} is not an email address")
    if ascii_only and not value.isascii():
        raise InvalidEmailError(f"{field_name} must be ASCII (SendGrid refuses Unicode here)")


def _check_opaque_map(values: Mapping[str, str], field_name: str) -> None:
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidEmailError(f"{field_name} keys and values must be strings")
        if "@" in value or "@" in key:
            raise InvalidEmailError(f"{field_name}[{key!r}] looks like personal data")


def _check_headers(email: OutgoingEmail) -> None:
    for name, value in email.headers.items():
        if not _HEADER_NAME.match(name) or "\n" in value or "\r" in value:
            raise InvalidEmailError(f"header {name!r} is malformed")
        if name.lower() in RESERVED_HEADERS:
            raise InvalidEmailError(f"header {name!r} is reserved by SendGrid")
        if name.lower() in {LIST_UNSUBSCRIBE.lower(), LIST_UNSUBSCRIBE_POST.lower()}:
            raise InvalidEmailError(f"header {name!r} comes from unsubscribe_url/_mailto")
    if email.unsubscribe_url is not None and not email.unsubscribe_url.startswith("https://"):
        raise InvalidEmailError("unsubscribe_url must be https")
    if email.unsubscribe_mailto is not None and not email.unsubscribe_mailto.startswith("mailto:"):
        raise InvalidEmailError("unsubscribe_mailto must be a mailto: URI")
    for link in (email.unsubscribe_url, email.unsubscribe_mailto):
        if link is not None and any(c in link for c in "<>, \r\n"):
            raise InvalidEmailError("unsubscribe link contains a character that breaks the header")


def validate(email: OutgoingEmail) -> None:
    """Refuse what SendGrid would refuse, and personal data where SendGrid keeps it forever."""
    if not _OPAQUE_ID.match(email.kizuna_message_id):
        raise InvalidEmailError("kizuna_message_id must be an opaque id")
    if email.shop_id is not None and not _OPAQUE_ID.match(email.shop_id):
        raise InvalidEmailError("shop_id must be an opaque id")
    _check_address(email.from_email, "from_email", ascii_only=True)
    _check_address(email.to_email, "to_email")
    _check_address(email.reply_to, "reply_to")
    if not email.subject or not email.subject.strip():
        raise InvalidEmailError("subject is empty")
    if not email.html and not email.text:
        raise InvalidEmailError("an email needs html or text content")
    if len(email.categories) > MAX_CATEGORIES:
        raise InvalidEmailError(f"more than {MAX_CATEGORIES} categories")
    if len(set(email.categories)) != len(email.categories):
        raise InvalidEmailError("categories repeat")
    for category in email.categories:
        if not category or len(category) > MAX_CATEGORY_LENGTH or "@" in category:
            raise InvalidEmailError("a category is empty, too long or looks like personal data")
    if KIZUNA_MESSAGE_ID_ARG in email.custom_args or KIZUNA_SHOP_ID_ARG in email.custom_args:
        raise InvalidEmailError("custom_args must not set Kizuna's own ids; use the fields")
    _check_opaque_map(email.custom_args, "custom_args")
    args = email.all_custom_args()
    if len(json.dumps(args).encode()) >= MAX_CUSTOM_ARGS_BYTES:
        raise InvalidEmailError(f"custom_args reach {MAX_CUSTOM_ARGS_BYTES} bytes")
    for key, value in email.substitutions.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise InvalidEmailError("substitutions must map non-empty strings to strings")
    if len(json.dumps(dict(email.substitutions)).encode()) > MAX_SUBSTITUTIONS_BYTES:
        raise InvalidEmailError(f"substitutions exceed {MAX_SUBSTITUTIONS_BYTES} bytes")
    _check_headers(email)
    if email.send_at is not None and email.send_at.tzinfo is None:
        raise InvalidEmailError("send_at must be timezone-aware")


def refusal(email: OutgoingEmail) -> str | None:
    """Why SendGrid would refuse this email whatever the retry (e.g. a malformed address), as a
    reason to store (`invalid_email: …`, naming the field, never its value), or None."""
    try:
        validate(email)
    except InvalidEmailError as error:
        return f"invalid_email: {error}"
    return None


# --- building --------------------------------------------------------------------------------


def _content_key(email: OutgoingEmail) -> tuple[Any, ...]:
    """What must be equal for two emails to share one request."""
    return (
        email.from_email,
        email.from_name,
        email.reply_to,
        email.reply_to_name,
        email.subject,
        email.html,
        email.text,
        email.categories,
        tuple(sorted(email.headers.items())),
    )


def _address(kind: type[_AddressT], address: str, name: str | None) -> _AddressT:
    # The helpers' constructors parse a lone argument as "Name <address>"; setting the
    # attributes keeps the address exactly as given.
    entry = kind()
    entry.email = address
    if name:
        entry.name = name
    return entry


def _personalization(email: OutgoingEmail) -> Personalization:
    personalization = Personalization()
    personalization.add_to(_address(To, email.to_email, email.to_name))
    for name, value in email.recipient_headers().items():
        personalization.add_header(Header(name, value))
    for key, value in email.substitutions.items():
        personalization.add_substitution(Substitution(key, value))
    for key, value in email.all_custom_args().items():
        personalization.add_custom_arg(CustomArg(key, value))
    if email.send_at is not None:
        personalization.send_at = int(email.send_at.timestamp())
    return personalization


def _mail(emails: list[OutgoingEmail]) -> dict[str, Any]:
    first = emails[0]
    mail = Mail(from_email=_address(From, first.from_email, first.from_name))
    mail.subject = Subject(first.subject)
    # The helper orders text/plain before text/html itself, as SendGrid requires.
    if first.text:
        mail.add_content(Content(MimeType.text, first.text))
    if first.html:
        mail.add_content(Content(MimeType.html, first.html))
    if first.reply_to:
        mail.reply_to = _address(ReplyTo, first.reply_to, first.reply_to_name)
    # add_category and add_personalization insert at the front unless told otherwise.
    for category in reversed(first.categories):
        mail.add_category(Category(category))
    for name, value in first.headers.items():
        mail.add_header(Header(name, value))
    for index, email in enumerate(emails):
        mail.add_personalization(_personalization(email), index=index)
    body: dict[str, Any] = mail.get()
    return body


def build_mail_body(email: OutgoingEmail) -> dict[str, Any]:
    """The JSON body of one Mail Send request for one recipient."""
    validate(email)
    return _mail([email])


def build_batch(emails: Iterable[OutgoingEmail], *, checked: bool = False) -> list[dict[str, Any]]:
    """Bodies for many emails: identical content shares a request, up to 1,000 recipients each.

    Requests keep the order in which each content first appears. A recipient already present in
    the current request starts a new one, since SendGrid rejects repeated addresses. `checked`:
    the caller has already passed each email through `validate` (or `refusal`).
    """
    groups: dict[tuple[Any, ...], list[list[OutgoingEmail]]] = {}
    seen: dict[tuple[Any, ...], set[str]] = {}
    for email in emails:
        if not checked:
            validate(email)
        key = _content_key(email)
        chunks = groups.setdefault(key, [[]])
        addresses = seen.setdefault(key, set())
        address = email.to_email.strip().lower()
        if len(chunks[-1]) >= MAX_PERSONALIZATIONS or address in addresses:
            chunks.append([])
            addresses.clear()
        chunks[-1].append(email)
        addresses.add(address)
    return [_mail(chunk) for chunks in groups.values() for chunk in chunks]
