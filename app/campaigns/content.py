"""A campaign's content: validation of the editor's JSON, and the email it becomes.

Layer: campaigns, bottom. No side effects: `render_shared` renders one language's email once
with substitution tags for what differs per recipient (greeting, unsubscribe link, coupon code,
recommended products); `recipient_values` fills them; `render_email` (the preview, the test
send) substitutes them itself. Hostile input is refused here: unknown blocks, non-http(s)
URLs, oversized text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flask import render_template
from flask_babel import force_locale, gettext, lazy_gettext
from markupsafe import escape

from app.flows.content import (
    GREETING_HTML_TAG,
    GREETING_TEXT_TAG,
    UNSUBSCRIBE_TAG,
    SharedContent,
    with_sender_footer,
)
from app.flows.post_purchase import cards, load_products
from app.formatting import greeting_name
from app.links import shop_home_url
from app.models import Customer, Shop
from app.services.sender_identity import identity_of
from app.services.unsubscribe import make_token, unsubscribe_url

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.config import Config
    from app.models.campaign import Campaign
    from connectors.sendgrid.mail import OutgoingEmail

LANGUAGES = ("en", "ja")
BLOCK_TYPES = ("heading", "text", "image", "button", "divider", "products", "coupon")
COUPON_KINDS = ("percentage", "fixed_amount")
MAX_BLOCKS = 40
MAX_SUBJECT = 200
MAX_PREHEADER = 200
MAX_HEADING = 300
MAX_TEXT = 5_000
MAX_LABEL = 100
MAX_ALT = 300
MAX_URL = 2_000
MAX_PRODUCTS = 6
MAX_PRODUCT_ID = 64
MAX_COUPON_DAYS = 365
MAX_FIXED_AMOUNT = 1_000_000

COUPON_TAG = "-campaign_coupon-"
RECOMMENDED_HTML_TAG, RECOMMENDED_TEXT_TAG = "-campaign_recs_html-", "-campaign_recs_text-"
SAMPLE_COUPON_CODE = "SAMPLE-CODE"
TEST_SUBJECT_PREFIX = "[Test] "


class ContentError(ValueError):
    """The content cannot be saved: `message` says why, in the reader's language."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def empty_content() -> dict[str, Any]:
    """A new campaign's content: both languages, a heading and a text block, no coupon."""
    return {
        "coupon": None,
        **{
            lang: {
                "subject": "",
                "preheader": "",
                "blocks": [{"type": "heading", "text": ""}, {"type": "text", "text": ""}],
            }
            for lang in LANGUAGES
        },
    }


def _text(value: Any, limit: int, what: str, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ContentError(lazy_gettext("%(what)s must be text.", what=what))
    value = value.replace("\r\n", "\n").replace("\x00", "")
    if len(value) > limit:
        raise ContentError(
            lazy_gettext("%(what)s is longer than %(limit)s characters.", what=what, limit=limit)
        )
    if required and not value.strip():
        raise ContentError(lazy_gettext("%(what)s is empty.", what=what))
    return value


def _url(value: Any, what: str, *, required: bool = True) -> str | None:
    if value in (None, "") and not required:
        return None
    url = _text(value, MAX_URL, what, required=True).strip()
    lowered = url.lower()
    if not lowered.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise ContentError(lazy_gettext("%(what)s must be an http(s) address.", what=what))
    if len(lowered.split("://", 1)[1].split("/", 1)[0]) == 0:
        raise ContentError(lazy_gettext("%(what)s must be an http(s) address.", what=what))
    return url


def _int(value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ContentError(lazy_gettext("%(what)s must be a number.", what=what))
    try:
        number = float(value)
    except ValueError:
        raise ContentError(lazy_gettext("%(what)s must be a number.", what=what)) from None
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise ContentError(
            lazy_gettext(
                "%(what)s must be a whole number from %(low)s to %(high)s.",
                what=what,
                low=low,
                high=high,
            )
        )
    return int(number)


def _block(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ContentError(lazy_gettext("A block is malformed."))
    kind = raw.get("type")
    if kind not in BLOCK_TYPES:
        raise ContentError(lazy_gettext("Unknown block type."))
    if kind == "heading":
        return {
            "type": kind,
            "text": _text(raw.get("text"), MAX_HEADING, lazy_gettext("A heading")),
        }
    if kind == "text":
        return {"type": kind, "text": _text(raw.get("text"), MAX_TEXT, lazy_gettext("A text"))}
    if kind == "image":
        return {
            "type": kind,
            "url": _url(raw.get("url"), lazy_gettext("An image's address")),
            "alt": _text(raw.get("alt"), MAX_ALT, lazy_gettext("An image's description")),
            "link": _url(raw.get("link"), lazy_gettext("An image's link"), required=False),
        }
    if kind == "button":
        return {
            "type": kind,
            "label": _text(
                raw.get("label"), MAX_LABEL, lazy_gettext("A button's label"), required=True
            ),
            "url": _url(raw.get("url"), lazy_gettext("A button's link")),
        }
    if kind == "products":
        mode = raw.get("mode")
        if mode not in ("chosen", "recommended"):
            raise ContentError(lazy_gettext("A product grid shows chosen or recommended products."))
        ids = raw.get("product_ids") or []
        if not isinstance(ids, list) or len(ids) > MAX_PRODUCTS:
            raise ContentError(
                lazy_gettext("A product grid shows at most %(count)s products.", count=MAX_PRODUCTS)
            )
        product_ids = []
        for value in ids:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise ContentError(lazy_gettext("A product grid's products are malformed."))
            text = str(value).strip()
            if not text or len(text) > MAX_PRODUCT_ID or not text.isprintable():
                raise ContentError(lazy_gettext("A product grid's products are malformed."))
            if text not in product_ids:
                product_ids.append(text)
        if mode == "chosen" and not product_ids:
            raise ContentError(lazy_gettext("Choose at least one product for the product grid."))
        count = _int(raw.get("count", 3), 1, MAX_PRODUCTS, lazy_gettext("The number of products"))
        return {
            "type": kind,
            "mode": mode,
            "product_ids": product_ids if mode == "chosen" else [],
            "count": count,
        }
    return {"type": kind}  # divider, coupon


def _version(raw: Any, lang: str) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ContentError(lazy_gettext("The content is malformed."))
    blocks = raw.get("blocks") or []
    if not isinstance(blocks, list):
        raise ContentError(lazy_gettext("The content is malformed."))
    if len(blocks) > MAX_BLOCKS:
        raise ContentError(lazy_gettext("At most %(count)s blocks per email.", count=MAX_BLOCKS))
    subject = _text(raw.get("subject"), MAX_SUBJECT, lazy_gettext("The subject")).strip()
    if "\n" in subject:
        raise ContentError(lazy_gettext("The subject must be one line."))
    return {
        "subject": subject,
        "preheader": _text(raw.get("preheader"), MAX_PREHEADER, lazy_gettext("The preview text"))
        .replace("\n", " ")
        .strip(),
        "blocks": [_block(block) for block in blocks],
    }


def _coupon(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ContentError(lazy_gettext("The coupon is malformed."))
    kind = raw.get("kind")
    if kind not in COUPON_KINDS:
        raise ContentError(lazy_gettext("A coupon is a percentage or a fixed amount off."))
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ContentError(lazy_gettext("The coupon's value must be a number."))
    try:
        number = float(value)
    except ValueError:
        raise ContentError(lazy_gettext("The coupon's value must be a number.")) from None
    high = 100 if kind == "percentage" else MAX_FIXED_AMOUNT
    if not math.isfinite(number) or not 0 < number <= high:
        raise ContentError(
            lazy_gettext("The coupon's value must be more than 0 and at most %(high)s.", high=high)
        )
    days = _int(
        raw.get("expires_days", 14), 1, MAX_COUPON_DAYS, lazy_gettext("The coupon's validity")
    )
    return {"kind": kind, "value": round(number, 2), "expires_days": days}


def validate_content(raw: Any) -> dict[str, Any]:
    """The editor's JSON → a normalised copy, or `ContentError` (the first problem)."""
    if not isinstance(raw, Mapping):
        raise ContentError(lazy_gettext("The content is malformed."))
    unknown = set(raw) - {"coupon", *LANGUAGES}
    if unknown:
        raise ContentError(lazy_gettext("The content is malformed."))
    return {
        "coupon": _coupon(raw.get("coupon")),
        **{lang: _version(raw.get(lang), lang) for lang in LANGUAGES},
    }


def sendable_languages(content: Mapping[str, Any]) -> list[str]:
    """The languages with a subject: only those are sent."""
    return [lang for lang in LANGUAGES if ((content.get(lang) or {}).get("subject") or "").strip()]


def ready_problem(content: Mapping[str, Any]) -> Any | None:
    """Why the content cannot be sent yet (no language has a subject, or a sent language has
    no block), else None."""
    languages = sendable_languages(content)
    if not languages:
        return lazy_gettext("Write a subject in at least one language.")
    for lang in languages:
        if not (content.get(lang) or {}).get("blocks"):
            return lazy_gettext("The email has no content yet.")
    uses_coupon = any(
        block.get("type") == "coupon"
        for lang in languages
        for block in (content.get(lang) or {}).get("blocks") or []
    )
    if uses_coupon and not content.get("coupon"):
        return lazy_gettext("Set the coupon's value, or remove the coupon block.")
    return None


def email_language(content: Mapping[str, Any], preferred: str) -> str | None:
    """The language a recipient who reads `preferred` gets: theirs when it has a subject,
    else the other one sent."""
    languages = sendable_languages(content)
    if preferred in languages:
        return preferred
    return languages[0] if languages else None


def uses_block(content: Mapping[str, Any], kind: str, mode: str | None = None) -> bool:
    return any(
        block.get("type") == kind and (mode is None or block.get("mode") == mode)
        for lang in sendable_languages(content)
        for block in (content.get(lang) or {}).get("blocks") or []
    )


def recommended_count(content: Mapping[str, Any]) -> int:
    """How many recommended products the content shows (the largest grid)."""
    return max(
        (
            int(block.get("count") or 0)
            for lang in sendable_languages(content)
            for block in (content.get(lang) or {}).get("blocks") or []
            if block.get("type") == "products" and block.get("mode") == "recommended"
        ),
        default=0,
    )


def paragraphs(text: str) -> list[list[str]]:
    """A text block's paragraphs (split on blank lines), each a list of its lines."""
    chunks = [chunk.strip("\n") for chunk in text.replace("\r\n", "\n").split("\n\n")]
    return [chunk.split("\n") for chunk in chunks if chunk.strip()]


def coupon_terms_text(coupon: Mapping[str, Any] | None, currency: str, lang: str) -> str:
    """'10% off' / '¥500 off' in `lang`."""
    from app.formatting import format_money

    if not coupon:
        return ""
    with force_locale(lang):
        if coupon["kind"] == "percentage":
            value = coupon["value"]
            shown = int(value) if float(value).is_integer() else value
            return str(lazy_gettext("%(value)s%% off", value=shown))
        from decimal import Decimal

        amount = format_money(Decimal(str(coupon["value"])), currency, lang)
        return str(lazy_gettext("%(amount)s off", amount=amount))


@dataclass(frozen=True)
class Recipient:
    """What one recipient's email fills in: their greeting, unsubscribe link, coupon code and
    recommended products (cards)."""

    customer: Customer
    message_id: int
    coupon_code: str | None = None
    recommended: Sequence[Mapping[str, Any]] = ()


def _block_context(
    session: Session | None, shop: Shop, content: Mapping[str, Any], lang: str
) -> list[dict[str, Any]]:
    """The blocks of `lang` with what the templates need: paragraphs, chosen products' cards."""
    version = content.get(lang) or {}
    chosen_ids = {
        pid
        for block in version.get("blocks") or []
        if block.get("type") == "products" and block.get("mode") == "chosen"
        for pid in block.get("product_ids") or []
    }
    products = load_products(session, shop.id, chosen_ids) if session and chosen_ids else {}
    shown = []
    for block in version.get("blocks") or []:
        item = dict(block)
        if block["type"] == "text":
            item["paragraphs"] = paragraphs(block.get("text") or "")
        if block["type"] == "products" and block.get("mode") == "chosen":
            item["cards"] = cards(shop, products, block.get("product_ids") or [], lang)[
                : block.get("count") or MAX_PRODUCTS
            ]
        shown.append(item)
    return shown


def render_shared(
    session: Session | None, shop: Shop, campaign: Campaign, lang: str
) -> SharedContent:
    """One language's email, the same for every recipient: what differs per recipient is left
    as substitution tags (greeting, unsubscribe link, coupon code, recommended products)."""
    content = campaign.content or {}
    version = content.get(lang) or {}
    context = {
        "lang": lang,
        "shop_name": shop.name or shop.domain,
        "shop_url": shop_home_url(shop),
        "preheader": version.get("preheader") or "",
        "blocks": _block_context(session, shop, content, lang),
        "greeting_html": GREETING_HTML_TAG,
        "greeting_text": GREETING_TEXT_TAG,
        "unsubscribe_url": UNSUBSCRIBE_TAG,
        "coupon_code": COUPON_TAG,
        "coupon_terms": coupon_terms_text(content.get("coupon"), shop.currency, lang),
        "coupon_days": (content.get("coupon") or {}).get("expires_days"),
        "recommended_html": RECOMMENDED_HTML_TAG,
        "recommended_text": RECOMMENDED_TEXT_TAG,
    }
    with force_locale(lang):
        html = render_template("email/campaign/email.html", **context)
        text = render_template("email/campaign/email.txt", **context)
    identity = identity_of(shop)
    if identity is not None:
        html, text = with_sender_footer(identity, lang, html, text)
    return SharedContent(lang, str(version.get("subject") or ""), html, text)


def recommended_parts(cards_: Sequence[Mapping[str, Any]], lang: str) -> tuple[str, str]:
    """One recipient's recommended products, as (HTML, text) for the substitution tags."""
    if not cards_:
        return "", ""
    with force_locale(lang):
        html = render_template("email/campaign/_recommended.html", products=cards_)
        text = render_template("email/campaign/_recommended.txt", products=cards_)
    return html, text


def unsubscribe_link(config: Config, shop: Shop, customer: Customer, message_id: int) -> str:
    return unsubscribe_url(
        config.app_url, make_token(config.secret_key, shop.id, customer.id, message_id)
    )


class Greeter:
    """`flows.content.greeting` (on its own line) for many recipients of one language: the
    sentence is translated once, then each name (`formatting.greeting_name`) is put in it."""

    _SLOT = "\x00"

    def __init__(self, lang: str) -> None:
        self.lang = lang
        with force_locale(lang):
            self.sentence = gettext("Hi %(name)s,", name=self._SLOT)

    def __call__(self, customer: Customer) -> str:
        name = greeting_name(customer.first_name, customer.last_name, self.lang)
        return self.sentence.replace(self._SLOT, name) if name else ""


def recipient_values(
    config: Config, shop: Shop, lang: str, recipient: Recipient, greeter: Greeter | None = None
) -> dict[str, str]:
    """The substitutions of one recipient's email (HTML parts already escaped)."""
    customer = recipient.customer
    recommended_html, recommended_text = recommended_parts(recipient.recommended, lang)
    greeted = (greeter or Greeter(lang))(customer)
    return {
        GREETING_HTML_TAG: str(escape(greeted)),
        GREETING_TEXT_TAG: greeted,
        UNSUBSCRIBE_TAG: unsubscribe_link(config, shop, customer, recipient.message_id),
        COUPON_TAG: str(escape(recipient.coupon_code or "")),
        RECOMMENDED_HTML_TAG: recommended_html,
        RECOMMENDED_TEXT_TAG: recommended_text,
    }


def substitute(text: str, values: Mapping[str, str]) -> str:
    for tag, value in values.items():
        text = text.replace(tag, value)
    return text


def render_email(
    config: Config,
    session: Session | None,
    shop: Shop,
    campaign: Campaign,
    customer: Customer,
    lang: str,
    *,
    coupon_code: str | None = None,
    message_id: int = 0,
    recommended: Sequence[Mapping[str, Any]] | None = None,
) -> OutgoingEmail:
    """This customer's email in `lang` with every substitution applied (the preview and the
    test send). No side effects: the coupon code is the one given (a sample in the preview);
    recommended products are read, nothing is created."""
    from app.campaigns.recommend import recommended_cards

    shared = render_shared(session, shop, campaign, lang)
    if recommended is None and session is not None and customer.id:
        count = recommended_count(campaign.content or {})
        recommended = (
            recommended_cards(session, shop, [customer.id], count, lang).get(customer.id, [])
            if count
            else []
        )
    recipient = Recipient(customer, message_id, coupon_code, recommended or ())
    values = recipient_values(config, shop, lang, recipient)
    return campaign_email(
        config, shop, campaign, customer, message_id, shared, values, substituted=True
    )


@lru_cache(maxsize=8)
def _sender(mail_from: str) -> tuple[str, str]:
    return parseaddr(mail_from)


def campaign_email(
    config: Config,
    shop: Shop,
    campaign: Campaign,
    customer: Customer,
    message_id: int,
    shared: SharedContent,
    values: Mapping[str, str],
    *,
    substituted: bool = False,
) -> OutgoingEmail:
    """One recipient's email on shared content: SendGrid fills `values` in, or (`substituted`)
    they are filled in here (a preview, a test, a recipient whose values pass SendGrid's
    per-recipient limit)."""
    from connectors.sendgrid.mail import OutgoingEmail

    from_name, from_email = _sender(config.mail_from)
    identity = identity_of(shop)
    link = values[UNSUBSCRIBE_TAG]
    html, text = shared.html, shared.text
    if substituted:
        html, text = substitute(html, values), substitute(text, values)
    return OutgoingEmail(
        kizuna_message_id=str(message_id),
        shop_id=str(shop.id),
        from_email=from_email,
        from_name=(identity.sender_name if identity else shop.name) or from_name or None,
        reply_to=identity.reply_to if identity else None,
        reply_to_name=identity.sender_name if identity else None,
        to_email=customer.email or "",
        subject=shared.subject,
        html=html,
        text=text,
        categories=("kizuna", "campaign", f"campaign-{campaign.id}"),
        substitutions={} if substituted else dict(values),
        unsubscribe_url=link if link.startswith("https://") else None,
    )
