"""The languages Kizuna speaks (English, Japanese): the one locale rule and keyed messages.

Layer: web presentation. `choose_language` is the only place a language is picked. Msgids are
literal strings (`pybabel extract` finds them); a message picked by data comes from
`KEYED_MESSAGES`, never a msgid built at run time; one that counts (`Counted`) has plural
forms, picked by its `count` value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import g, has_app_context, has_request_context, request
from flask_babel import (
    LazyString,
    force_locale,
    get_locale,
    lazy_gettext,
    lazy_pgettext,
    ngettext,
)
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from app.formatting import format_number

SUPPORTED = ("en", "ja")
DEFAULT_LANGUAGE = "en"


def normalize_language(value: str | None) -> str | None:
    """`ja-JP` / `ja_JP` / `JA` → `ja`; None when the language is not one Kizuna speaks."""
    primary = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in SUPPORTED else None


def choose_language(
    requested: str | None, accept_language: str | None, shop_locale: str | None
) -> str:
    """The one language rule, in order: an explicitly requested locale (Shopify's `locale`
    parameter, an email link's `lang`, a recipient customer's own locale) is honoured even when
    we lack it (English then); else the best of `Accept-Language`; else the shop's; else English.
    """
    if requested:
        return normalize_language(requested) or DEFAULT_LANGUAGE
    if accept_language:
        best = parse_accept_header(accept_language, LanguageAccept).best_match(SUPPORTED)
        if best:
            return best
    return normalize_language(shop_locale) or DEFAULT_LANGUAGE


def recipient_language(customer_locale: str | None, shop_locale: str | None) -> str:
    """An email's language: the customer's own locale, else the shop's (else English)."""
    return choose_language(customer_locale or shop_locale, None, None)


def select_locale() -> str | None:
    """Flask-Babel's locale selector: the request's language (`g.shop` is the admin's shop);
    None (the default, English) outside a request."""
    if not has_request_context():
        return None
    shop = g.get("shop")
    return choose_language(
        request.args.get("locale"),
        request.headers.get("Accept-Language"),
        shop.locale if shop is not None else None,
    )


def current_language() -> str:
    """The language in force (a request's, or the one `force_locale` set); English outside."""
    if not has_app_context():
        return DEFAULT_LANGUAGE
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Counted:
    """A keyed message with plural forms: `forms(count, values)` is its `ngettext`, the form
    picked by the message's `count` value (English has two, Japanese one)."""

    forms: Callable[[int, dict[str, Any]], str]

    def word(self, values: Mapping[str, Any]) -> str:
        return self.forms(int(values["count"]), dict(values))


def text_for(key: str, default: str | None = None, **values: Any) -> str:
    """The keyed message `key` in the current language, its `%(name)s` values filled in;
    `default` (else the key itself) when the table has no such key."""
    message = KEYED_MESSAGES.get(key)
    if message is None:
        return default if default is not None else key
    if isinstance(message, Counted):
        try:
            return message.word(values)
        except (KeyError, ValueError, TypeError):
            return default if default is not None else key
    try:
        return str(message) % values
    except (KeyError, ValueError, TypeError):
        return str(message)


def confidence_reason(reason: Mapping[str, Any] | None) -> str:
    """Why a shop's predictions deserve their confidence, in the current language: the stored
    message key and numbers (`domain.predictions`) put into words here; a row scored before
    they were stored so holds a text per language, and its own is shown."""
    if not reason:
        return ""
    key = reason.get("key")
    if isinstance(key, str):
        language = current_language()
        values = {
            name: format_number(value, language)
            for name, value in (reason.get("params") or {}).items()
        }
        return text_for(f"confidence_reason.{key}", default="", **values)
    return str(reason.get(current_language()) or reason.get(DEFAULT_LANGUAGE) or "")


def stored_error_text(
    text: str | None, code: str | None, params: Mapping[str, Any] | None
) -> str | None:
    """A stored problem (a `last_error` and its key) in the current language: the keyed
    message filled in with its values, or the stored text when it has no key this version
    knows (rows written before). A value named `*_key` is itself a message key, worded too; a
    value `{"code": key, "params": {...}}` is a nested problem, worded the same way; a list of
    such values is worded item by item and joined as a list (as sentences when its name ends
    in `_sentences`)."""
    if not code or code not in KEYED_MESSAGES:
        return text
    values: dict[str, Any] = {}
    for name, value in (params or {}).items():
        if name.endswith("_key"):
            values[name.removesuffix("_key")] = text_for(str(value))
        elif name.endswith("_sentences"):
            values[name.removesuffix("_sentences")] = _worded_value(value, "list.sentences")
        else:
            values[name] = _worded_value(value)
    return text_for(code, **values)


def _worded_value(value: Any, separator: str = "list.separator") -> Any:
    if isinstance(value, Mapping) and isinstance(value.get("code"), str):
        return stored_error_text(value["code"], value["code"], value.get("params"))
    if isinstance(value, list):
        return text_for(separator).join(str(_worded_value(item)) for item in value)
    return value


# A message's stored problem with values: `code: name=value, …` (`message_error`).
_PROBLEM_VALUES = re.compile(r"\w+=[\w.-]+(?:, \w+=[\w.-]+)*")


def message_error(code: str, **values: Any) -> str:
    """A message's `last_error` for the problem `code` with `values` (`sendgrid_refused:
    status=400`), which `message_problem` words; each value a number or a word."""
    if not values:
        return code
    return f"{code}: " + ", ".join(f"{name}={value}" for name, value in sorted(values.items()))


def message_problem(text: str | None) -> str | None:
    """Why an email was not sent (`Message.last_error`) in the current language: its reason key
    worded (a send outcome, a skip, or the run's exit; `sendgrid_unavailable: …` as SendGrid
    not answering, `sendgrid_refused: status=400` as a refusal and its HTTP status), else the
    stored text (a row written before the keys: SendGrid's answer to a refused flow send).
    A problem with values (`message_error`) is worded by `message.problem.<code>.<names>`,
    else, as one without, by `message.problem.<code>`."""
    if not text:
        return None
    code, _, detail = text.partition(":")
    code, detail = code.strip(), detail.strip()
    if _PROBLEM_VALUES.fullmatch(detail):
        pairs = (pair.partition("=") for pair in detail.split(", "))
        values = {name: value for name, _, value in pairs}
        key = f"message.problem.{code}." + ".".join(sorted(values))
        if key in KEYED_MESSAGES:
            return text_for(key, **values)
    for key in (f"message.problem.{code}", f"run.exit.{code}"):
        if key in KEYED_MESSAGES:
            return text_for(key)
    return text


def translate(language: str, key: str, **values: Any) -> str:
    """`text_for` in `language` rather than the request's (a job writing an English error);
    inside an app context, like every gettext."""
    with force_locale(language):
        return text_for(key, **values)


def translate_for_shop(shop_locale: str | None, word: Callable[[], str | None]) -> str | None:
    """`word()` in a shop's language, for output with no request (the CLI); inside an app
    context."""
    with force_locale(choose_language(None, None, shop_locale)):
        return word()


def group_label(group: str, language: str | None = None) -> str:
    """An RFM group's display name (`app.domain.rfm.GROUP_KEYS`), in `language` or the current."""
    key = f"rfm_group.{group}"
    return text_for(key, default=group) if language is None else translate(language, key)


KEYED_MESSAGES: dict[str, LazyString | Counted] = {
    # Between the items of a list worded into a message, and between sentences
    # (`stored_error_text`).
    "list.separator": lazy_pgettext("list.separator", ", "),
    "list.sentences": lazy_pgettext("list.sentences", " "),
    "write_back.bad_prefix": lazy_gettext(
        "The prefix must be 1 to 40 characters without spaces or commas."
    ),
    "write_back.unknown_segment": lazy_gettext("Choose segments of this store."),
    # Why a segment write-back run stopped or left customers out (`TagWriteBack.last_error_code`).
    "write_back.error.broken_segments": lazy_gettext(
        "Segments that could not be evaluated (their tags are left as they were): %(segments)s"
    ),
    "write_back.error.customer_refused": lazy_gettext(
        "The store refused a customer's tags: %(reason)s"
    ),
    "write_back.error.failed": lazy_gettext("The run stopped: %(reason)s"),
    "write_back.error.unavailable": lazy_gettext(
        "The store is unavailable: the run continues when it answers again."
    ),
    "write_back.status.done": lazy_pgettext("write_back.status", "Up to date"),
    "write_back.status.failed": lazy_pgettext("write_back.status", "Failed"),
    "write_back.status.idle": lazy_pgettext("write_back.status", "Not started"),
    "write_back.status.running": lazy_pgettext("write_back.status", "Writing"),
    "account.link_invalid": lazy_gettext(
        "This link has expired, was already used, or is not valid. Ask for a new one."
    ),
    "account.not_an_email": lazy_gettext("Enter a valid email address."),
    "account.rate_limited": lazy_gettext(
        "Too many requests from this address. Wait a while, then try again."
    ),
    "account.verified": lazy_gettext("Your email address is confirmed. Sign in to continue."),
    # Why connecting a store failed (`services.woocommerce_install`, `services.install_shop`).
    "connect.address_not_allowed": lazy_gettext("This address is not allowed."),
    "connect.connected_elsewhere": lazy_gettext(
        "This store is already connected to another Kizuna account."
    ),
    "connect.key_refused": lazy_gettext(
        "The store did not accept Kizuna's key. Connect it again and approve access."
    ),
    "connect.no_answer": lazy_gettext("The store did not answer."),
    "connect.not_a_store": lazy_gettext("This is not a WooCommerce store."),
    "connect.not_a_store_address": lazy_gettext(
        "That is not a store address. Use the address of your WordPress site."
    ),
    "install.connected_elsewhere": lazy_gettext(
        "%(domain)s is already connected to another Kizuna account."
    ),
    "install.enter_domain": lazy_gettext(
        "Enter the shop's myshopify.com domain, e.g. my-store.myshopify.com."
    ),
    "install.enter_token": lazy_gettext("Enter the Admin API access token of the custom app."),
    "install.not_a_shop_domain": lazy_gettext("That is not a *.myshopify.com shop domain."),
    "install.token_refused": lazy_gettext(
        "Shopify refused this access token for %(domain)s. Check that you copied the Admin API "
        "access token of a custom app installed on this shop."
    ),
    "install.unreachable": lazy_gettext(
        "Could not reach %(domain)s. Check the domain, then try again in a few minutes."
    ),
    # A store's problem (`Shop.last_error_code`, `services.shop_errors`); `%(reason)s` is one of
    # the `connect.*` or `shop_error.reason.*` messages.
    "shop_error.shopify_reconnect": lazy_gettext(
        "Shopify refused the access token: reconnect the shop."
    ),
    "shop_error.shopify_reinstall": lazy_gettext(
        "Shopify no longer accepts Kizuna's access: reinstall the app to reconnect."
    ),
    "shop_error.woocommerce_reconnect": lazy_gettext(
        "WooCommerce refused Kizuna's API key: connect the store again."
    ),
    "shop_error.sync_failed": lazy_gettext("Sync failed: %(reason)s"),
    "shop_error.webhook_setup_failed": lazy_gettext("Webhook setup failed: %(reason)s"),
    "shop_error.install_follow_up_failed": lazy_gettext("Install follow-up failed: %(reason)s"),
    # `%(detail)s` is a `shop_error.reason.*` message (`shop_errors.shopify_sync_failure`); an
    # older row holds an English text there, shown as it is.
    "shop_error.backfill_failed": lazy_gettext("Backfill failed: %(detail)s"),
    "shop_error.reason.internal": lazy_gettext("an internal error (logged)."),
    "shop_error.reason.gave_up": lazy_gettext(
        "Shopify did not answer, even after several retries."
    ),
    "shop_error.reason.no_answer": lazy_gettext("Shopify did not answer."),
    "shop_error.reason.status": lazy_gettext("Shopify answered with HTTP status %(status)s."),
    "shop_error.reason.bulk_busy": lazy_gettext(
        "Shopify was already running another bulk export for this store."
    ),
    "shop_error.reason.bulk_timeout": lazy_gettext(
        "Shopify's bulk export of the data did not finish in time."
    ),
    "shop_error.reason.database": lazy_gettext(
        "Kizuna could not save the store's data (database error %(error)s, logged)."
    ),
    "shop_error.webhook_failed": lazy_gettext(
        "A %(platform)s webhook (%(topic)s, event %(event)s, attempts: %(attempts)s) could not "
        "be processed: %(reason)s The next sync reconciles the data."
    ),
    "shop_error.consent_write_back_refused": lazy_gettext(
        "%(platform)s did not record a customer's unsubscribe: %(reason)s The customer stays "
        "unsubscribed in Kizuna."
    ),
    "shop_error.email_refused": lazy_gettext(
        "An email of the %(flow)s flow (message %(message)s) was not sent: %(reason)s"
    ),
    "shop_error.campaign_coupons_failed": lazy_gettext(
        "Campaign “%(campaign)s”: no coupon code could be created for %(count)s of its "
        "recipients, who were skipped."
    ),
    "shop_error.campaign_emails_failed": Counted(
        lambda count, values: ngettext(
            "Campaign “%(campaign)s”: %(count)s email was not sent: %(reason)s",
            "Campaign “%(campaign)s”: %(count)s emails were not sent: %(reason)s",
            count,
            **values,
        )
    ),
    # Why a campaign's send is held or what failed (`Campaign.last_error_code`); `%(reason)s`
    # is an `email_refusal.*` message.
    "campaign_error.waiting_for_sender": lazy_gettext(
        "Waiting for your sender details: the campaign goes out once they are set."
    ),
    "campaign_error.shop_inactive": lazy_gettext(
        "The store is disconnected: the campaign goes on once it is connected again."
    ),
    "campaign_error.emails_failed": Counted(
        lambda count, values: ngettext(
            "%(count)s email was not sent: %(reason)s",
            "%(count)s emails were not sent: %(reason)s",
            count,
            **values,
        )
    ),
    "shop_error.coupon_refused": lazy_gettext(
        "An email of the %(flow)s flow (message %(message)s) went out without its discount "
        "code: %(reason)s"
    ),
    "email_refusal.gave_up": lazy_gettext("SendGrid did not answer, even after several retries."),
    "email_refusal.other": lazy_gettext("SendGrid did not accept it (logged)."),
    "email_refusal.status": lazy_gettext("SendGrid refused it with HTTP status %(status)s."),
    "shop_error.write_back_failed": lazy_gettext(
        "Writing segments back to the store failed: %(reason)s"
    ),
    # Records a sync left out (`services.shop_errors.record_skipped_records`): per stream, a
    # count and why (`sync.skip_reason.*`), never the records themselves.
    "shop_error.records_skipped": lazy_gettext(
        "The sync left out %(count)s records from %(platform)s that Kizuna could not read: "
        "%(streams)s"
    ),
    "shop_error.records_skipped.stream": lazy_gettext("%(stream)s: %(count)s (%(reasons)s)"),
    "sync.skip_reason.bad_amount": lazy_gettext("unreadable amount"),
    "sync.skip_reason.bad_currency": lazy_gettext("unreadable currency code"),
    "sync.skip_reason.bad_date": lazy_gettext("unreadable date"),
    "sync.skip_reason.malformed": lazy_gettext("unreadable data"),
    "sync.skip_reason.no_id": lazy_gettext("no id"),
    # Why a webhook delivery could not be applied (`WebhookEvent.last_error_code`).
    "webhook_error.unreadable": lazy_gettext("The store sent data Kizuna could not read."),
    "webhook_error.internal": lazy_gettext("Kizuna hit an internal error (logged)."),
    # Why a store refused a change Kizuna wrote to it (`services.shop_errors.store_refusal`).
    "store_refusal.access": lazy_gettext(
        "The store refused Kizuna's access: connect the store again."
    ),
    "store_refusal.gave_up": lazy_gettext("The store did not answer, even after several retries."),
    "store_refusal.internal": lazy_gettext("Kizuna hit an internal error (logged)."),
    "store_refusal.not_found": lazy_gettext("The customer no longer exists in the store."),
    "store_refusal.rejected": lazy_gettext("The store rejected the change."),
    "store_refusal.status": lazy_gettext("The store answered with HTTP status %(status)s."),
    "store_refusal.unavailable": lazy_gettext("The store did not answer."),
    "shop_error.reason.token_refused": lazy_gettext("Shopify refused the access token."),
    "shop_error.reason.unexpected": lazy_gettext("Shopify answered unexpectedly."),
    "sync.notice.read_all_orders": lazy_gettext(
        "Shopify did not grant read_all_orders: only orders from the last 60 days can be imported."
    ),
    "disconnect.confirm_mismatch": lazy_gettext(
        "Type the store's address exactly as shown to confirm."
    ),
    "team.address_taken": lazy_gettext(
        "This address cannot be invited: each email address signs in to one Kizuna account."
    ),
    "team.already_member": lazy_gettext("This address is already on your team."),
    "team.invited": lazy_gettext("Invitation sent. It works for 7 days."),
    "team.not_an_email": lazy_gettext("Enter a valid email address."),
    "team.rate_limited": lazy_gettext("Too many invitations this hour. Try again later."),
    "team.removed": lazy_gettext("Removed from the team and signed out."),
    "backtest.deferred.cap": lazy_gettext("frequency cap"),
    "backtest.deferred.priority": lazy_gettext("another flow first"),
    "backtest.deferred.quiet_hours": lazy_gettext("quiet hours"),
    "backtest.outcome.entered": lazy_gettext("Entered"),
    "backtest.outcome.exited": lazy_gettext("Exited"),
    "backtest.outcome.held_out": lazy_gettext("Held out"),
    "backtest.outcome.not_eligible": lazy_gettext("Not eligible"),
    "backtest.trigger.checkout": lazy_gettext("Checkout %(id)s"),
    "backtest.trigger.fulfilled": lazy_gettext("Order %(order)s fulfilled"),
    "backtest.trigger.lapse": lazy_gettext("Lapsing after order %(id)s"),
    "backtest.trigger.order": lazy_gettext("Order %(order)s"),
    "backtest.trigger.product": lazy_gettext("Product %(product)s of order %(order)s"),
    "backtest.trigger.restock": lazy_gettext("Product %(id)s back in stock"),
    "backtest.trigger.views": lazy_gettext("Product views at %(id)s"),
    "attribution.error.model": lazy_gettext("Choose a model."),
    "sender.error.required": lazy_gettext("Required: every email must show it."),
    "sender.error.too_long": lazy_gettext("Too long."),
    "sender.error.email": lazy_gettext("Enter an email address, such as support@example.com."),
    "recommendations.error.hold_days": lazy_gettext("Enter a number of days from 1 to 3650."),
    "recommendations.error.grouping": lazy_gettext("Choose collections or product types."),
    "recommendations.error.kind": lazy_gettext("Choose durable, consumable or the default."),
    "recommendations.error.supply_days": lazy_gettext("Enter a number of days from 1 to 730."),
    "attribution.error.window": lazy_gettext("Choose 1 to 30 days."),
    "attribution.model.click": lazy_gettext("the last email clicked"),
    "attribution.model.click_or_open": lazy_gettext("the last email clicked or opened"),
    "attribution.model.send": lazy_gettext("the last email sent"),
    "checkout.items": lazy_gettext("Items"),
    "checkout.started": lazy_gettext("Started"),
    "checkout.total": lazy_gettext("Total"),
    "confidence.high": lazy_gettext("High confidence"),
    "confidence.low": lazy_gettext("Low confidence"),
    "confidence.medium": lazy_gettext("Medium confidence"),
    # Why the predictions deserve their confidence (`confidence_reason`); the numbers come from
    # the scoring (`domain.predictions._reason`).
    "confidence_reason.fit_failed": lazy_gettext(
        "Your shop's history (customers: %(customers)s, repeat buyers: %(repeat_buyers)s, days "
        "of orders: %(history_days)s) did not yield a stable model of its own, so these "
        "predictions start from buying patterns published for an online store, adjusted by "
        "your own orders. Treat them as rough guides."
    ),
    "confidence_reason.high": lazy_gettext(
        "Learned from your shop's own history (customers: %(customers)s, repeat buyers: "
        "%(repeat_buyers)s, days of orders: %(history_days)s)."
    ),
    "confidence_reason.low": lazy_gettext(
        "Your shop's history so far (customers: %(customers)s, repeat buyers: "
        "%(repeat_buyers)s, days of orders: %(history_days)s) is not yet enough for a model of "
        "its own. These predictions start from buying patterns published for an online store "
        "and from your average order value, adjusted by your own orders; treat them as rough "
        "guides until you reach %(fitted_customers)s customers, %(fitted_repeat_buyers)s repeat "
        "buyers and %(fitted_history_days)s days of orders."
    ),
    "confidence_reason.medium": lazy_gettext(
        "Learned from your shop's own history (customers: %(customers)s, repeat buyers: "
        "%(repeat_buyers)s, days of orders: %(history_days)s). Expect it to firm up at "
        "%(high_customers)s customers, %(high_repeat_buyers)s repeat buyers and "
        "%(high_history_days)s days of orders."
    ),
    "confidence_reason.no_orders": lazy_gettext(
        "No orders yet, so there is nothing to predict from."
    ),
    "consent.invalid": lazy_gettext("Invalid"),
    "consent.not_subscribed": lazy_gettext("Not subscribed"),
    "consent.pending": lazy_gettext("Pending confirmation"),
    "consent.redacted": lazy_gettext("Redacted"),
    "consent.subscribed": lazy_gettext("Subscribed"),
    "consent.unknown": lazy_gettext("Unknown"),
    "consent.unsubscribed": lazy_pgettext("consent.unsubscribed", "Unsubscribed"),
    "financial.authorized": lazy_gettext("Authorized"),
    "financial.paid": lazy_gettext("Paid"),
    "financial.partially_paid": lazy_gettext("Partially paid"),
    "financial.partially_refunded": lazy_gettext("Partially refunded"),
    "financial.pending": lazy_gettext("Payment pending"),
    "financial.refunded": lazy_gettext("Refunded"),
    "financial.voided": lazy_gettext("Voided"),
    "flows.audience.unavailable_error": lazy_gettext(
        "The %(flow)s flow's audience segment “%(segment)s” can't be evaluated: %(reason)s "
        "Nobody enters the flow until the segment is fixed."
    ),
    "flows.delay_unit.days": lazy_pgettext("flows.delay_unit", "days"),
    "flows.delay_unit.hours": lazy_pgettext("flows.delay_unit", "hours"),
    "flows.delay_unit.minutes": lazy_pgettext("flows.delay_unit", "minutes"),
    "flows.delays_help": lazy_gettext(
        "Time after the cart was left; each email later than the one before."
    ),
    "flows.delays_help.thank_you": lazy_gettext("Time after the order was paid (0 = at once)."),
    "flows.delays_help.welcome": lazy_gettext(
        "Time after the customer subscribed or placed a first order (0 = at once); each email "
        "later than the one before."
    ),
    "flows.delays_help.birthday": lazy_gettext(
        "Time after the start of the birthday (or of the birthday month) in the store's time "
        "zone (0 = at once)."
    ),
    "flows.delays_help.winback": lazy_gettext(
        "Time after the daily scan finds the customer lapsing (0 = at once); email 2 later "
        "than email 1."
    ),
    "flows.error.audience": lazy_gettext("Choose one of this store's saved segments."),
    "flows.error.choice": lazy_gettext("Choose one of the options."),
    "flows.error.cap_order": lazy_gettext("Cannot be lower than the limit for 16 hours."),
    "flows.error.delay_order": lazy_gettext("Must be later than email %(step)s."),
    "flows.error.integer": lazy_gettext("Enter a whole number."),
    "flows.error.number": lazy_gettext("Enter a number."),
    "flows.error.quiet_same": lazy_gettext("Start and end must differ."),
    "flows.error.range": lazy_gettext("Enter a value from %(low)s to %(high)s."),
    "flows.error.required": lazy_gettext("Enter a value."),
    "flows.error.time": lazy_gettext("Enter a time as HH:MM."),
    "flows.error.unit": lazy_gettext("Choose minutes, hours or days."),
    "flows.error.too_long": lazy_gettext("At most %(max)s characters."),
    "flows.field.audience": lazy_gettext("Audience"),
    "flows.field.cap_short": lazy_gettext("At most, in any 16 hours"),
    "flows.field.cap_week": lazy_gettext("At most, in any 7 days"),
    "flows.field.coupon_days": lazy_gettext("Code valid for"),
    "flows.field.coupon_kind": lazy_gettext("Kind of coupon"),
    "flows.field.coupon_step": lazy_gettext("Coupon in email"),
    "flows.field.coupon_value": lazy_gettext("Coupon value"),
    "flows.field.granularity": lazy_gettext("Send on"),
    "flows.field.delay": lazy_gettext("Email %(step)s after"),
    "flows.field.delay.thank_you": lazy_gettext("Send after"),
    "flows.field.delay.browse": lazy_gettext("Send after the views"),
    "flows.field.delay.back_in_stock": lazy_gettext("Send after the restock"),
    "flows.field.discount_days": lazy_gettext("Code valid for"),
    "flows.field.discount_min_total": lazy_gettext("Only for carts of at least (0 = every cart)"),
    "flows.field.discount_percent": lazy_gettext("Discount (0 = no code)"),
    "flows.field.enabled": lazy_gettext("Flow is on"),
    "flows.field.holdout": lazy_gettext("Holdout share"),
    "flows.field.lapse_min_days": lazy_gettext("At least"),
    "flows.field.lapse_multiplier": lazy_gettext("Multiple"),
    "flows.field.lead_days": lazy_gettext("Send before the expected re-order"),
    "flows.field.lookback_days": lazy_gettext("Views counted over, and at most one email per"),
    "flows.field.min_views": lazy_gettext("At least this many products viewed"),
    "flows.field.one_time_days": lazy_gettext("One-time buyers after"),
    "flows.field.quiet_enabled": lazy_gettext("Send no email at night (%(zone)s)"),
    "flows.field.quiet_end": lazy_gettext("Until"),
    "flows.field.quiet_start": lazy_pgettext("flows.field.quiet_start", "From"),
    "flows.field.review_delay_days": lazy_gettext("Send after fulfilment"),
    "flows.field.subject": lazy_gettext("Email %(step)s subject (%(lang_name)s)"),
    "flows.field.subject_single": lazy_gettext("Subject (%(lang_name)s)"),
    "flows.help.lead_days": lazy_gettext(
        "Days before the date the customer is expected to buy the product again, from their "
        "own rhythm or the store's (0 = on that day)."
    ),
    "flows.help.review_delay_days": lazy_gettext("Days after the order was fulfilled (1 to 90)."),
    "flows.holdout_help": lazy_gettext(
        "This share of carts gets no email, to measure what the flow adds."
    ),
    "flows.holdout_help.generic": lazy_gettext(
        "This share of customers gets no email, to measure what the flow adds."
    ),
    "flows.language.en": lazy_gettext("English"),
    "flows.language.ja": lazy_gettext("Japanese"),
    "flows.lift.help": lazy_gettext(
        "Both groups count orders within %(days)s days after the cart entered the flow, "
        "whether or not an email went out (intention to treat). The interval is the normal "
        "approximation for a difference of proportions."
    ),
    "flows.lift.help.generic": lazy_gettext(
        "Both groups count orders within %(days)s days after the customer entered the flow, "
        "whether or not an email went out (intention to treat). The interval is the normal "
        "approximation for a difference of proportions."
    ),
    "flows.lift.not_enough": lazy_gettext(
        "Not enough data yet: the comparison needs at least %(runs)s carts in each group and "
        "%(conversions)s orders in all."
    ),
    "flows.lift.not_enough.generic": lazy_gettext(
        "Not enough data yet: the comparison needs at least %(runs)s customers in each group "
        "and %(conversions)s orders in all."
    ),
    "flows.lift.runs": lazy_gettext("Carts"),
    "flows.lift.runs.generic": lazy_pgettext("flows.lift.runs.generic", "Customers"),
    "flows.name.cart": lazy_gettext("Abandoned cart"),
    "flows.name.birthday": lazy_gettext("Birthday"),
    "flows.name.back_in_stock": lazy_gettext("Back in stock"),
    "flows.name.browse": lazy_gettext("Browse abandonment"),
    "flows.name.replenishment": lazy_gettext("Replenishment reminder"),
    "flows.name.review_request": lazy_gettext("Review request"),
    "flows.name.thank_you": lazy_gettext("Thank-you"),
    "flows.name.welcome": lazy_gettext("Welcome series"),
    "flows.name.winback": lazy_gettext("Win-back"),
    "flows.preview.email": lazy_pgettext("flows.preview.email", "Email"),
    "flows.preview.for": lazy_gettext("For %(name)s (customer %(id)s), checkout %(checkout)s."),
    "flows.preview.for_birthday": lazy_gettext(
        "For %(name)s (customer %(id)s), birthday %(birthday)s."
    ),
    "flows.preview.for_customer": lazy_gettext("For %(name)s (customer %(id)s)."),
    "flows.preview.for_order": lazy_gettext("For %(name)s (customer %(id)s), order %(order)s."),
    "flows.preview.for_product": lazy_gettext(
        "For %(name)s (customer %(id)s), product %(product)s."
    ),
    "flows.preview.help": lazy_gettext(
        "Rendered as the sender does, in the customer's language. The discount code is "
        "created only when email 2 is sent; links are inactive here."
    ),
    "flows.preview.help.generic": lazy_gettext(
        "Rendered as the sender does, in the customer's language; links are inactive here."
    ),
    "flows.preview.no_checkout": lazy_gettext("This customer has no checkout in this store."),
    "flows.preview.no_fulfilled_order": lazy_gettext(
        "This customer has no fulfilled order in this store."
    ),
    "flows.preview.no_order": lazy_gettext("This customer has no order in this store."),
    "flows.preview.no_birthday": lazy_gettext("This customer's birthday is not known."),
    "flows.preview.no_paid_order": lazy_gettext("This customer has no paid order in this store."),
    "flows.preview.no_repeat_product": lazy_gettext(
        "This customer has not bought any product twice in this store."
    ),
    "flows.preview.no_stock_request": lazy_gettext(
        "This customer has not asked to hear when a product is back in stock."
    ),
    "flows.preview.no_views": lazy_gettext(
        "This customer has viewed no product recently (or the store sends no product views)."
    ),
    "flows.preview.none": lazy_gettext(
        "No customer has an abandoned checkout yet: search for one by name or email."
    ),
    "flows.preview.none.replenishment": lazy_gettext(
        "No customer has bought a product twice yet: search for one by name or email."
    ),
    "flows.preview.none.back_in_stock": lazy_gettext(
        "No shopper has asked to hear when a product is back yet: enter a customer ID."
    ),
    "flows.preview.none.browse": lazy_gettext(
        "No known customer has viewed a product yet: enter a customer ID."
    ),
    "flows.preview.none.review_request": lazy_gettext(
        "No customer has a fulfilled order yet: search for one by name or email."
    ),
    "flows.preview.none.thank_you": lazy_gettext(
        "No customer has a paid order yet: search for one by name or email."
    ),
    "flows.preview.none.welcome": lazy_gettext(
        "No customer who has not yet bought twice: enter a customer ID."
    ),
    "flows.preview.none.birthday": lazy_gettext(
        "No customer with a known birthday yet: enter a customer ID."
    ),
    "flows.preview.repeat_buyer": lazy_gettext(
        "This customer has already bought twice: the welcome series is over for them."
    ),
    "flows.preview.none.winback": lazy_gettext(
        "No customer has an order yet: search for one by name or email."
    ),
    "flows.preview.step": lazy_gettext("Email %(step)s"),
    "flows.section.audience": lazy_gettext("Holdout and frequency"),
    "flows.section.birthday": lazy_gettext("Birthday"),
    "flows.section.coupon": lazy_gettext("Coupon"),
    "flows.section.browse": lazy_gettext("Which visits count"),
    "flows.section.discount": lazy_gettext("Discount in email 2"),
    "flows.section.lapse": lazy_gettext("When a customer is lapsing"),
    "flows.section.quiet": lazy_gettext("Quiet hours"),
    "flows.section.steps": lazy_gettext("Timing"),
    "flows.section.subjects": lazy_gettext("Subject lines"),
    "flows.stat.runs": lazy_gettext("Carts entered"),
    "flows.stat.runs.generic": lazy_gettext("Customers entered"),
    "flows.subjects_help": lazy_gettext("Leave empty to use the built-in subject."),
    "flows.subjects_help.replenishment": lazy_gettext(
        "Leave empty to use the built-in subject. {product} is replaced by the product's name."
    ),
    "flows.summary": lazy_gettext(
        "Emails %(d1)s, %(d2)s and %(d3)s after the cart was left; holdout %(holdout)s %%."
    ),
    "flows.summary.back_in_stock": lazy_gettext(
        "One email %(d1)s after a product a shopper asked about is back, to the first "
        "subscribers up to the units in stock; holdout %(holdout)s %%."
    ),
    "flows.summary.browse": lazy_gettext(
        "One email %(d1)s after a consenting customer viewed %(min_views)s or more products "
        "without adding to a cart, at most once per %(lookback_days)s days; holdout "
        "%(holdout)s %%."
    ),
    "flows.summary.replenishment": lazy_gettext(
        "One email %(lead_days)s days before the expected re-order of a product the customer "
        "buys repeatedly; holdout %(holdout)s %%."
    ),
    "flows.summary.review_request": lazy_gettext(
        "One email %(review_delay_days)s days after fulfilment; holdout %(holdout)s %%."
    ),
    "flows.summary.thank_you": lazy_gettext(
        "One email %(d1)s after payment, with cross-sells; holdout %(holdout)s %%."
    ),
    "flows.summary.welcome": lazy_gettext(
        "Emails %(d1)s, %(d2)s and %(d3)s after a customer subscribes or first orders, until "
        "their second order; holdout %(holdout)s %%."
    ),
    "flows.summary.birthday": lazy_gettext(
        "One email on each customer's birthday (or at the start of their birthday month), once "
        "a year; holdout %(holdout)s %%."
    ),
    "flows.summary.winback": lazy_gettext(
        "Emails %(d1)s and %(d2)s after a customer is found lapsing (no order for the "
        "longer of %(lapse_min_days)s days and %(lapse_multiplier)s × their usual gap; "
        "%(one_time_days)s days after a single order); holdout %(holdout)s %%."
    ),
    "flows.unit.days": lazy_gettext("days"),
    "flows.unit.emails": lazy_gettext("emails"),
    "flows.unit.hours": lazy_gettext("hours"),
    "flows.option.coupon_kind.fixed": lazy_gettext("Fixed amount off"),
    "flows.option.coupon_kind.percentage": lazy_gettext("Percentage off"),
    "flows.option.granularity.day": lazy_gettext("The birthday itself"),
    "flows.option.granularity.month": lazy_gettext("The first day of the birthday month"),
    "flows.unit.step": lazy_gettext("(0 = no coupon)"),
    "flows.unit.products": lazy_gettext("products"),
    "flows.unit.times": lazy_gettext("× the usual gap"),
    "fulfillment.fulfilled": lazy_gettext("Fulfilled"),
    "fulfillment.partial": lazy_gettext("Partially fulfilled"),
    "fulfillment.partially_fulfilled": lazy_gettext("Partially fulfilled"),
    "fulfillment.restocked": lazy_gettext("Restocked"),
    "fulfillment.unfulfilled": lazy_gettext("Unfulfilled"),
    "inquiry.channel.chat": lazy_gettext("Chat"),
    "inquiry.channel.email": lazy_pgettext("inquiry.channel.email", "Email"),
    "inquiry.channel.in_person": lazy_gettext("In person"),
    "inquiry.channel.other": lazy_gettext("Other"),
    "inquiry.channel.phone": lazy_pgettext("inquiry.channel.phone", "Phone"),
    "inquiry.kind.complaint": lazy_gettext("Complaint"),
    "inquiry.kind.other": lazy_gettext("Other"),
    "inquiry.kind.question": lazy_gettext("Question"),
    "inquiry.problem.channel": lazy_gettext("choose a channel."),
    "inquiry.problem.kind": lazy_gettext("choose a type."),
    "inquiry.problem.notes": lazy_gettext("notes are limited to 5,000 characters."),
    "inquiry.problem.subject": lazy_gettext("a subject is required (up to 200 characters)."),
    "inquiry.status.open": lazy_gettext("Open"),
    "inquiry.status.resolved": lazy_gettext("Resolved"),
    "install_method.code_grant": lazy_gettext("OAuth (authorization code)"),
    "install_method.custom_app": lazy_gettext("Custom app token"),
    "install_method.key_exchange": lazy_gettext("WooCommerce key exchange"),
    "install_method.managed": lazy_gettext("Shopify managed install"),
    "login.unverified": lazy_gettext(
        "Confirm your email address first: we sent you the link again. Open it, then sign in."
    ),
    "login.form_expired": lazy_gettext("This form has expired. Please sign in again."),
    "login.invalid": lazy_gettext("The email or password is not correct."),
    "login.missing": lazy_gettext("Enter your email and password."),
    "login.rate_limited": lazy_gettext(
        "Too many failed sign-in attempts from this address. Wait a few minutes, then try again."
    ),
    "message.event.bounce": lazy_gettext("bounced"),
    "message.event.click": lazy_gettext("clicked"),
    "message.event.deferred": lazy_gettext("deferred"),
    "message.event.delivered": lazy_gettext("delivered"),
    "message.event.dropped": lazy_gettext("dropped"),
    "message.event.group_unsubscribe": lazy_gettext("unsubscribed (group)"),
    "message.event.open": lazy_gettext("opened"),
    "message.event.processed": lazy_gettext("processed"),
    "message.event.spamreport": lazy_gettext("spam report"),
    "message.event.unsubscribe": lazy_gettext("unsubscribed"),
    "message.status.failed": lazy_gettext("Failed"),
    # Why a message was not sent (`message_problem`), beside the run exits (`run.exit.*`).
    "message.problem.outcome_unknown": lazy_gettext(
        "SendGrid's answer was lost: it may have been sent, and is never sent again"
    ),
    "message.problem.worker_lost": lazy_gettext(
        "the sending worker stopped mid-send: it may have been sent, and is never sent again"
    ),
    "message.problem.sendgrid_unavailable": lazy_gettext(
        "SendGrid did not answer, even after several retries"
    ),
    "message.problem.sendgrid_refused": lazy_gettext("SendGrid refused it"),
    "message.problem.sendgrid_refused.status": lazy_gettext(
        "SendGrid refused it with HTTP status %(status)s"
    ),
    "message.problem.invalid_email": lazy_gettext(
        "SendGrid would refuse it: an address or header of the email is not valid"
    ),
    "message.problem.waiting_for_sender_identity": lazy_gettext("waiting for your sender details"),
    "message.problem.smart_sending": lazy_gettext("emailed recently (smart sending)"),
    "message.problem.frequency_cap": lazy_gettext("frequency cap reached"),
    "message.problem.run_exited": lazy_gettext("the customer left the flow"),
    "message.status.pending": lazy_pgettext("message.status.pending", "Pending"),
    "message.status.sending": lazy_gettext("Sending"),
    "message.status.sent": lazy_pgettext("message.status.sent", "Sent"),
    "message.status.skipped": lazy_gettext("Skipped"),
    "message.status.suppressed": lazy_pgettext("message.status.suppressed", "Suppressed"),
    "message.status.unknown": lazy_gettext("Unknown"),
    "opt_in.confirmed_opt_in": lazy_gettext("Confirmed opt-in (double)"),
    "opt_in.single_opt_in": lazy_gettext("Single opt-in"),
    "opt_in.unknown": lazy_gettext("Unknown"),
    "order.cancelled": lazy_gettext("Cancelled"),
    "order.date": lazy_gettext("Date"),
    "order.item": lazy_gettext("Item"),
    "order.items": lazy_gettext("Items"),
    "order.name": lazy_gettext("Order"),
    "order.no_lines": lazy_gettext("No line items."),
    "order.price": lazy_gettext("Price"),
    "order.quantity": lazy_gettext("Qty"),
    "order.sku": lazy_gettext("SKU"),
    "order.status": lazy_gettext("Status"),
    "order.total": lazy_gettext("Total"),
    "outbox.source.messages": lazy_gettext("Emails Kizuna sent for this store (latest first)."),
    "outbox.source.sandbox": lazy_gettext(
        "Emails accepted by the simulated SendGrid for this store (latest first)."
    ),
    "password.mismatch": lazy_gettext("The two new passwords are not the same."),
    "password.too_long": lazy_gettext("The new password is too long."),
    "password.too_short": lazy_gettext("The new password needs at least 8 characters."),
    "password.wrong_current": lazy_gettext("The current password is not correct."),
    "platform.shopify": lazy_gettext("Shopify"),
    "platform.woocommerce": lazy_gettext("WooCommerce"),
    "rfm_thresholds.dimension.frequency_orders": lazy_gettext("Frequency: number of orders"),
    "rfm_thresholds.dimension.monetary": lazy_gettext(
        "Monetary: total spent, in the store's currency"
    ),
    "rfm_thresholds.dimension.recency_days": lazy_gettext("Recency: days since the last order"),
    "rfm_thresholds.edge.frequency_orders.1": lazy_gettext("F2 from (orders)"),
    "rfm_thresholds.edge.frequency_orders.2": lazy_gettext("F3 from (orders)"),
    "rfm_thresholds.edge.frequency_orders.3": lazy_gettext("F4 from (orders)"),
    "rfm_thresholds.edge.frequency_orders.4": lazy_gettext("F5 from (orders)"),
    "rfm_thresholds.edge.monetary.1": lazy_gettext("M2 from (spent)"),
    "rfm_thresholds.edge.monetary.2": lazy_gettext("M3 from (spent)"),
    "rfm_thresholds.edge.monetary.3": lazy_gettext("M4 from (spent)"),
    "rfm_thresholds.edge.monetary.4": lazy_gettext("M5 from (spent)"),
    "rfm_thresholds.edge.recency_days.1": lazy_gettext("R5: ordered within (days)"),
    "rfm_thresholds.edge.recency_days.2": lazy_gettext("R4: within (days)"),
    "rfm_thresholds.edge.recency_days.3": lazy_gettext("R3: within (days)"),
    "rfm_thresholds.edge.recency_days.4": lazy_gettext("R2: within (days); longer ago is R1"),
    "rfm_thresholds.error.ascending": lazy_gettext("Must be larger than the boundary before it."),
    "rfm_thresholds.error.integer": lazy_gettext("Enter a whole number."),
    "rfm_thresholds.error.mode": lazy_gettext("Choose automatic or custom."),
    "rfm_thresholds.error.number": lazy_gettext("Enter a number."),
    "rfm_thresholds.error.places": lazy_gettext("Use at most %(places)s decimal places."),
    "rfm_thresholds.error.range": lazy_gettext("Enter a value from %(low)s to %(high)s."),
    "rfm_thresholds.error.required": lazy_gettext("Enter a value."),
    "rfm_thresholds.source.custom": lazy_gettext("in use: custom"),
    "rfm_thresholds.source.quintiles": lazy_gettext("in use: quintiles"),
    "rfm_thresholds.source.standard": lazy_gettext("in use: standard boundaries"),
    "rfm_group.champions": lazy_gettext("Champions"),
    "rfm_group.loyal": lazy_gettext("Loyal"),
    "rfm_group.potential_loyalists": lazy_gettext("Potential loyalists"),
    "rfm_group.new": lazy_gettext("New"),
    "rfm_group.promising": lazy_gettext("Promising"),
    "rfm_group.need_attention": lazy_gettext("Need attention"),
    "rfm_group.about_to_sleep": lazy_gettext("About to sleep"),
    "rfm_group.at_risk": lazy_gettext("At risk"),
    "rfm_group.cant_lose_them": lazy_gettext("Can't lose them"),
    "rfm_group.hibernating": lazy_gettext("Hibernating"),
    "rfm_group.lost": lazy_gettext("Lost"),
    "run.exit.complaint_open": lazy_gettext("open complaint"),
    "run.exit.no_customer": lazy_gettext("no customer linked"),
    "run.exit.no_email": lazy_gettext("no email address"),
    "run.exit.order_cancelled": lazy_gettext("order cancelled"),
    "run.exit.order_gone": lazy_gettext("order deleted"),
    "run.exit.order_refunded": lazy_gettext("order refunded"),
    "run.exit.added_to_cart": lazy_gettext("added to a cart"),
    "run.exit.cart_started": lazy_gettext("started a checkout"),
    "run.exit.subscription_gone": lazy_gettext("request deleted"),
    "run.exit.product_unavailable": lazy_gettext("product unavailable"),
    "run.exit.reordered": lazy_gettext("ordered again"),
    "run.exit.audience_unavailable": lazy_gettext("audience segment can't be evaluated"),
    "run.exit.checkout_completed": lazy_gettext("checkout completed"),
    "run.exit.customer_gone": lazy_gettext("customer deleted"),
    "run.exit.flow_disabled": lazy_gettext("flow turned off"),
    "run.exit.no_consent": lazy_gettext("no consent"),
    "run.exit.not_in_audience": lazy_gettext("left the flow's audience"),
    "run.exit.ordered": lazy_gettext("ordered"),
    "run.exit.shop_inactive": lazy_gettext("store inactive"),
    "run.exit.suppressed": lazy_gettext("suppressed"),
    "run.status.completed": lazy_gettext("Completed"),
    "run.status.exited": lazy_gettext("Exited"),
    "run.status.holdout": lazy_gettext("Holdout (no email)"),
    "run.status.running": lazy_pgettext("run.status.running", "Running"),
    "segments.consent.not_subscribed": lazy_gettext("Not subscribed"),
    "segments.consent.subscribed": lazy_gettext("Subscribed"),
    "segments.consent.unsubscribed": lazy_pgettext("segments.consent.unsubscribed", "Unsubscribed"),
    "segments.field.collection_bought": lazy_gettext("Bought from collection"),
    "segments.field.consent": lazy_gettext("Email consent"),
    "segments.field.country": lazy_gettext("Country"),
    "segments.field.expected_next_order_at": lazy_pgettext(
        "segments.field.expected_next_order_at", "Expected next order"
    ),
    "segments.field.expected_orders_365": lazy_gettext("Predicted orders (365 days)"),
    "segments.field.first_order_at": lazy_gettext("First order date"),
    "segments.field.last_order_at": lazy_gettext("Last order date"),
    "segments.field.orders_count": lazy_gettext("Number of orders"),
    "segments.field.predicted_clv": lazy_gettext("Predicted value (365 days)"),
    "segments.field.probability_alive": lazy_pgettext(
        "segments.field.probability_alive", "Probability still active"
    ),
    "segments.field.product_bought": lazy_gettext("Product bought"),
    "segments.field.rfm_group": lazy_gettext("RFM group"),
    "segments.field.tag": lazy_gettext("Tag"),
    "segments.field.total_spent": lazy_pgettext("segments.field.total_spent", "Total spent"),
    "segments.hint.choice": lazy_gettext("Pick a value"),
    "segments.hint.count": lazy_gettext("A whole number"),
    "segments.hint.country": lazy_gettext("Two-letter code, e.g. JP"),
    "segments.hint.date": lazy_gettext("YYYY-MM-DD, or a number of days"),
    "segments.hint.id": lazy_gettext("Product"),
    "segments.hint.money": lazy_gettext("Amount in %(currency)s, e.g. 5000"),
    "segments.hint.score": lazy_gettext("A number, e.g. 0.5"),
    "segments.hint.text": lazy_gettext("Text"),
    "segments.model.fitted": lazy_gettext("Fitted to this store"),
    "segments.model.prior_blended": lazy_gettext("Industry priors + this store"),
    "segments.op.after": lazy_gettext("is after (date)"),
    "segments.op.before": lazy_gettext("is before (date)"),
    "segments.op.eq": lazy_gettext("is exactly"),
    "segments.op.gt": lazy_gettext("is more than"),
    "segments.op.gte": lazy_gettext("is at least"),
    "segments.op.has": lazy_gettext("has"),
    "segments.op.has_not": lazy_gettext("does not have"),
    "segments.op.is": lazy_gettext("is"),
    "segments.op.is_not": lazy_gettext("is not"),
    "segments.op.lt": lazy_gettext("is less than"),
    "segments.op.lte": lazy_gettext("is at most"),
    "segments.op.over_days_ago": lazy_gettext("is more than N days ago"),
    "segments.op.within_days": lazy_gettext("is within the last/next N days"),
    "segments.rule.cannot_run": lazy_gettext("The rule can't be run on this store's data."),
    "segments.rule.characters": lazy_gettext("Remove control characters from this value."),
    "segments.rule.choice": lazy_gettext("Choose one of the listed values."),
    "segments.rule.country": lazy_gettext("Enter a two-letter country code (e.g. JP)."),
    "segments.rule.date": lazy_gettext("Enter a date as YYYY-MM-DD."),
    "segments.rule.depth": lazy_gettext("Groups can be nested at most %(max)s levels deep."),
    "segments.rule.empty_group": lazy_gettext("A group needs at least one rule."),
    "segments.rule.integer": lazy_gettext("Enter a whole number."),
    "segments.rule.match": lazy_gettext("Choose “all” or “any”."),
    "segments.rule.not_list": lazy_gettext("The rules of a group must be a list."),
    "segments.rule.not_object": lazy_gettext("This rule is not valid."),
    "segments.rule.number": lazy_gettext("Enter a number."),
    "segments.rule.places": lazy_gettext("Use at most %(max)s decimal places."),
    "segments.rule.range": lazy_gettext("Enter a value from %(low)s to %(high)s."),
    "segments.rule.required": lazy_gettext("Enter a value."),
    "segments.rule.scalar": lazy_gettext("Enter a single value."),
    "segments.rule.too_long": lazy_gettext("At most %(max)s characters."),
    "segments.rule.too_many": lazy_gettext("At most %(max)s conditions (%(count)s given)."),
    "segments.rule.unknown_field": lazy_gettext("Choose a field."),
    "segments.rule.unknown_op": lazy_gettext("Choose a condition for this field."),
    "segments.search.collection_bought": lazy_gettext("Search collections by name"),
    "segments.search.product_bought": lazy_gettext("Search products by name"),
    "segments.saved.name_taken": lazy_gettext("Another segment already has this name."),
    "segments.saved.not_found": lazy_gettext("This segment no longer exists."),
    "segments.saved.too_many": lazy_gettext("A store can keep at most %(max)s segments."),
    "shop_status.active": lazy_pgettext("shop_status.active", "Active"),
    "shop_status.error": lazy_gettext("Error"),
    "shop_status.installing": lazy_gettext("Installing"),
    "shop_status.uninstalled": lazy_pgettext("shop_status.uninstalled", "Uninstalled"),
    "stores.status.active": lazy_pgettext("stores.status.active", "Active"),
    "stores.status.installing": lazy_gettext("Installing"),
    "stores.status.uninstalled": lazy_pgettext("stores.status.uninstalled", "Uninstalled"),
    "stream.checkouts": lazy_gettext("Checkouts"),
    "stream.customers": lazy_pgettext("stream.customers", "Customers"),
    "stream.orders": lazy_pgettext("stream.orders", "Orders"),
    "stream.products": lazy_gettext("Products"),
    "suppression.bounce": lazy_gettext("The address bounced."),
    "suppression.dropped": lazy_gettext("SendGrid dropped a message to this address."),
    "suppression.group_unsubscribe": lazy_gettext("Unsubscribed from this kind of email."),
    "suppression.spamreport": lazy_gettext("Marked an email as spam."),
    "suppression.unsubscribe": lazy_gettext("Unsubscribed."),
    "sync.status": lazy_gettext("Status"),
    "sync.status.done": lazy_gettext("Done"),
    "sync.status.failed": lazy_gettext("Failed"),
    "sync.status.not_started": lazy_gettext("Not started"),
    "sync.status.running": lazy_pgettext("sync.status.running", "Running"),
    "timeline.checkout_abandoned": lazy_gettext("Abandoned a checkout"),
    "timeline.checkout_completed": lazy_gettext("Completed a checkout"),
    "timeline.checkout_started": lazy_gettext("Started a checkout"),
    "timeline.consent_changed": lazy_gettext("Email consent changed"),
    "timeline.customer_created": lazy_gettext("Became a customer"),
    "timeline.inquiry_opened": lazy_gettext("Inquiry logged"),
    "timeline.inquiry_resolved": lazy_gettext("Inquiry resolved"),
    "timeline.message_clicked": lazy_gettext("Clicked an email"),
    "timeline.message_opened": lazy_gettext("Opened an email"),
    "timeline.message_sent": lazy_gettext("Was sent an email"),
    "timeline.order_cancelled": lazy_gettext("Cancelled an order"),
    "timeline.order_placed": lazy_gettext("Placed an order"),
    "timeline.unsubscribed": lazy_pgettext("timeline.unsubscribed", "Unsubscribed"),
    "webhooks.failed": lazy_gettext("Failed"),
    "webhooks.ignored": lazy_gettext("Ignored"),
    "webhooks.last_error": lazy_gettext("Last processing error"),
    "webhooks.last_received_at": lazy_gettext("Last received"),
    "webhooks.pending": lazy_pgettext("webhooks.pending", "Pending"),
    "webhooks.processed": lazy_gettext("Processed"),
    "webhooks.received": lazy_gettext("Received"),
    "webhooks.rejected": lazy_gettext("Rejected (bad signature)"),
    "webhooks.title": lazy_gettext("Webhooks"),
    "webhooks.unavailable": lazy_gettext("unavailable"),
}
