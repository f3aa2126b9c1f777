"""What every flow email is made of: the recipient's language and greeting, the signed
unsubscribe link, the envelope (`flow_email`), and the one builder of a recipient's email on
content the step's recipients share (`shared_content_email`); `TemplateEmails`, the emails of a
flow whose step email is its templates with only the greeting and unsubscribe link per recipient.

Layer: flows, low (above `reads`): no side effects; personal data goes only into the email or
its per-recipient substitutions, never into shared content, logs or `custom_args`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

from flask import render_template
from flask_babel import force_locale, gettext
from markupsafe import escape
from sqlalchemy.orm import Session

from app.config import Config
from app.formatting import greeting_name
from app.i18n import recipient_language
from app.links import shop_home_url
from app.models import Customer, Shop
from app.models.flow import FlowRun, Message
from app.services.sender_identity import SenderIdentity, identity_of
from app.services.unsubscribe import make_token, unsubscribe_url
from connectors.sendgrid.mail import MAX_SUBSTITUTIONS_BYTES, OutgoingEmail

# Substitution tags of shared content: SendGrid replaces them per recipient, so one Mail Send
# request carries up to 1,000 emails of a step.
GREETING_HTML_TAG, GREETING_TEXT_TAG, UNSUBSCRIBE_TAG = (
    "-greeting_html-",
    "-greeting_text-",
    "-unsub-",
)


def language(customer: Customer, shop: Shop) -> str:
    """The recipient's language: the customer's, else the shop's."""
    return recipient_language(customer.locale, shop.locale)


def greeting(customer: Customer, lang: str, *, own_line: bool = False) -> str:
    """'Hi Hanako, ' / '森 陽葵 様、' (a sentence prefix), or its own line with `own_line`: the
    name as `formatting.greeting_name` addresses it, nothing when there is none."""
    name = greeting_name(customer.first_name, customer.last_name, lang)
    if not name:
        return ""
    with force_locale(lang):
        if own_line:
            return gettext("Hi %(name)s,", name=name)
        return gettext("Hi %(name)s, ", name=name)


@dataclass(frozen=True)
class SharedContent:
    """One step's email in one language, the same for every recipient: what differs per
    recipient is left as substitution tags."""

    lang: str
    subject: str
    html: str
    text: str


# Where `email/_layout.html` wants the sender's footer.
SENDER_FOOTER_MARKER = "<!--kizuna:sender-footer-->"


def with_sender_footer(
    identity: SenderIdentity, lang: str, html: str, text: str
) -> tuple[str, str]:
    """The email's HTML and text with the sender's footer (name, postal address, contact and
    the right to refuse further email) in `lang`; HTML without the layout's marker gets it
    before `</body>`."""
    footer_html, footer_text = _sender_footer(tuple(sorted(identity.to_json().items())), lang)
    if SENDER_FOOTER_MARKER in html:
        html = html.replace(SENDER_FOOTER_MARKER, footer_html, 1)
    elif "</body>" in html:
        html = html.replace("</body>", footer_html + "</body>", 1)
    else:
        html += footer_html
    return html, text.rstrip("\n") + "\n" + footer_text.strip("\n") + "\n"


@lru_cache(maxsize=256)
def _sender_footer(values: tuple[tuple[str, str], ...], lang: str) -> tuple[str, str]:
    """The footer's HTML and text for these sender details in `lang`: the same for every
    recipient of a shop and language, so rendered once, not per email."""
    with force_locale(lang):
        return (
            render_template("email/_sender_footer.html", **dict(values)),
            render_template("email/_sender_footer.txt", **dict(values)),
        )


def message_unsubscribe_link(config: Config, shop: Shop, customer: Customer, msg: Message) -> str:
    """The signed one-click unsubscribe URL of this recipient's message."""
    return unsubscribe_url(
        config.app_url, make_token(config.secret_key, shop.id, customer.id, msg.id)
    )


def flow_email(
    config: Config,
    shop: Shop,
    customer: Customer,
    msg: Message,
    flow_key: str,
    *,
    subject: str,
    html: str,
    text: str,
    link: str,
    substitutions: Mapping[str, str] | None = None,
) -> OutgoingEmail:
    """A flow message's email: the shop's sender identity (From name, Reply-To, and the
    footer with its name, postal address and contact), opaque ids, categories
    `kizuna`/`flow-<key>`/`<key>-step-<n>`, and the one-click unsubscribe header — which
    SendGrid (and RFC 8058) accept only over https, so a plain-http demo keeps the link in the
    body only. Without an identity (a preview) the shop's name stands in and no footer is added:
    the rules never let such an email be sent."""
    from_name, from_email = parseaddr(config.mail_from)
    identity = identity_of(shop)
    if identity is not None:
        html, text = with_sender_footer(
            identity, recipient_language(customer.locale, shop.locale), html, text
        )
    return OutgoingEmail(
        kizuna_message_id=str(msg.id),
        shop_id=str(shop.id),
        from_email=from_email,
        from_name=(identity.sender_name if identity else shop.name) or from_name or None,
        reply_to=identity.reply_to if identity else None,
        reply_to_name=identity.sender_name if identity else None,
        to_email=customer.email or "",
        subject=subject,
        html=html,
        text=text,
        categories=("kizuna", f"flow-{flow_key}", f"{flow_key}-step-{msg.step}"),
        substitutions=dict(substitutions or {}),
        unsubscribe_url=link if link.startswith("https://") else None,
    )


def shared_content_email(
    config: Config,
    shop: Shop,
    customer: Customer,
    msg: Message,
    flow_key: str,
    content: SharedContent,
    *,
    text_greeting_own_line: bool,
    substitutions: Mapping[str, str] | None = None,
) -> OutgoingEmail | None:
    """This recipient's email on shared content: the greeting (HTML-escaped for the HTML part),
    the unsubscribe link and the flow's own `substitutions` (already escaped where they go into
    HTML); None when they pass SendGrid's per-personalization limit (send it on its own)."""
    link = message_unsubscribe_link(config, shop, customer, msg)
    values = {
        GREETING_HTML_TAG: str(escape(greeting(customer, content.lang))),
        GREETING_TEXT_TAG: greeting(customer, content.lang, own_line=text_greeting_own_line),
        UNSUBSCRIBE_TAG: link,
        **(substitutions or {}),
    }
    if len(json.dumps(values).encode()) > MAX_SUBSTITUTIONS_BYTES:
        return None
    return flow_email(
        config,
        shop,
        customer,
        msg,
        flow_key,
        subject=content.subject,
        html=content.html,
        text=content.text,
        link=link,
        substitutions=values,
    )


def _no_values(session: Session, shop: Shop, step: int, lang: str) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class TemplateEmails:
    """The emails of a flow whose step email is `email/<flow_key>/step<n>.{html,txt}`, the same
    for every recipient of a shop, step and language but the greeting and the unsubscribe link:
    shared content with those two as substitutions (the text part greets on a line of its own).
    `subject(session, shop, lang, step)` is the step's subject; `values(session, shop, step,
    lang)` adds the flow's own template values. Rendering has no side effects (a coupon is added
    by the send step, `coupons.with_coupon`)."""

    flow_key: str
    subject: Callable[[Session, Shop, str, int], str]
    values: Callable[[Session, Shop, int, str], Mapping[str, Any]] = _no_values

    def templates(
        self,
        session: Session,
        shop: Shop,
        step: int,
        lang: str,
        greetings: tuple[str, str],
        link: str,
    ) -> tuple[str, str]:
        """The step's HTML and text in `lang`, greeting with `greetings` (HTML, text)."""
        context = {
            "lang": lang,
            "shop_name": shop.name or shop.domain,
            "shop_url": shop_home_url(shop),
            "unsubscribe_url": link,
            **self.values(session, shop, step, lang),
        }
        template = f"email/{self.flow_key}/step{step}"
        with force_locale(lang):
            return (
                render_template(f"{template}.html", greeting=greetings[0], **context),
                render_template(f"{template}.txt", greeting=greetings[1], **context),
            )

    def render(
        self,
        config: Config,
        session: Session,
        shop: Shop,
        customer: Customer,
        run: FlowRun,
        msg: Message,
        lang: str,
        now: datetime,
        *,
        discount_code: str | None,
    ) -> OutgoingEmail:
        """One recipient's email of the step, in `lang`."""
        link = message_unsubscribe_link(config, shop, customer, msg)
        greetings = (greeting(customer, lang), greeting(customer, lang, own_line=True))
        html, text = self.templates(session, shop, msg.step, lang, greetings, link)
        subject = self.subject(session, shop, lang, msg.step)
        return flow_email(
            config,
            shop,
            customer,
            msg,
            self.flow_key,
            subject=subject,
            html=html,
            text=text,
            link=link,
        )

    def render_shared(self, session: Session, shop: Shop, step: int, lang: str) -> SharedContent:
        """What every recipient of the step shares: the greeting and the unsubscribe link are
        substitution tags."""
        html, text = self.templates(
            session, shop, step, lang, (GREETING_HTML_TAG, GREETING_TEXT_TAG), UNSUBSCRIBE_TAG
        )
        return SharedContent(lang, self.subject(session, shop, lang, step), html, text)

    def shared_email(
        self,
        config: Config,
        shop: Shop,
        customer: Customer,
        run: FlowRun,
        msg: Message,
        content: SharedContent,
        context: Mapping[str, Any],
    ) -> OutgoingEmail | None:
        """This recipient's email on shared content (`shared_content_email`)."""
        return shared_content_email(
            config, shop, customer, msg, self.flow_key, content, text_greeting_own_line=True
        )
