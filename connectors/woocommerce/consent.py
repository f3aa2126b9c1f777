"""Email marketing consent on WooCommerce: read from `meta_data`, written back as customer meta.

Layer: connectors. `kizuna_marketing_consent` wins over Mailchimp's key; no key is None (no
consent). `write_consent` is the one REST call; a guest has no record to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.woocommerce.client import WooCommerceClient

KIZUNA_KEY = "kizuna_marketing_consent"
MAILCHIMP_KEY = "mailchimp_woocommerce_is_subscribed"
SUBSCRIBED = "SUBSCRIBED"
UNSUBSCRIBED = "UNSUBSCRIBED"
NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
SINGLE_OPT_IN = "SINGLE_OPT_IN"

_KIZUNA_VALUES = {
    "subscribed": SUBSCRIBED,
    "yes": SUBSCRIBED,
    "1": SUBSCRIBED,
    "true": SUBSCRIBED,
    "unsubscribed": UNSUBSCRIBED,
    "not_subscribed": NOT_SUBSCRIBED,
    "no": NOT_SUBSCRIBED,
    "0": NOT_SUBSCRIBED,
    "false": NOT_SUBSCRIBED,
}
_MAILCHIMP_VALUES = {
    "1": SUBSCRIBED,
    "true": SUBSCRIBED,
    "unsubscribed": UNSUBSCRIBED,
    "0": NOT_SUBSCRIBED,
    "false": NOT_SUBSCRIBED,
    "": NOT_SUBSCRIBED,
}


@dataclass(frozen=True)
class Consent:
    state: str  # SUBSCRIBED, UNSUBSCRIBED or NOT_SUBSCRIBED
    opt_in_level: str | None


def meta_value(meta_data: Any, key: str) -> tuple[bool, Any]:
    """(found, value) of `key` in a REST `meta_data` list; the last entry wins (WooCommerce
    allows repeated keys)."""
    found, value = False, None
    if not isinstance(meta_data, list):
        return found, value
    for entry in meta_data:
        if isinstance(entry, dict) and entry.get("key") == key:
            found, value = True, entry.get("value")
    return found, value


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip().lower()
    return None


def _state(meta_data: Any, key: str, values: dict[str, str]) -> str | None:
    found, value = meta_value(meta_data, key)
    text = _text(value) if found else None
    return values.get(text) if text is not None else None


def consent_from_meta(meta_data: Any) -> Consent | None:
    """The consent a customer's or order's `meta_data` states, or None when it states none.

    Kizuna's key: subscribed/yes/1/true, unsubscribed, not_subscribed/no/0/false. Mailchimp's:
    "1" subscribed, "unsubscribed", "0" or "" not subscribed. Unreadable values count as absent.
    """
    state = _state(meta_data, KIZUNA_KEY, _KIZUNA_VALUES) or _state(
        meta_data, MAILCHIMP_KEY, _MAILCHIMP_VALUES
    )
    if state is None:
        return None
    return Consent(state, SINGLE_OPT_IN if state == SUBSCRIBED else None)


def is_registered(external_id: str) -> bool:
    """A WooCommerce customer id (numeric), not a guest known only from orders."""
    return external_id.isascii() and external_id.isdigit()


def consent_meta_update(state: str, current_meta: Any) -> list[dict[str, str]]:
    """The `meta_data` entries that record `state` (SUBSCRIBED or UNSUBSCRIBED) on a customer.

    An opt-out also goes to Mailchimp's key when the customer has it, so Mailchimp's own sync
    sees it; an opt-in is written to Kizuna's key only (it wins over Mailchimp's when read).
    """
    if state not in (SUBSCRIBED, UNSUBSCRIBED):
        raise ValueError(f"cannot write consent state {state!r}")
    value = state.lower()
    entries = [{"key": KIZUNA_KEY, "value": value}]
    if state == UNSUBSCRIBED and meta_value(current_meta, MAILCHIMP_KEY)[0]:
        entries.append({"key": MAILCHIMP_KEY, "value": "unsubscribed"})
    return entries


def write_consent(client: WooCommerceClient, customer_id: str, state: str) -> dict[str, Any]:
    """Record `state` in the customer's meta: GET the customer (to see Mailchimp's key), then
    PUT the meta entries. Errors are the client's (`RetryableError`, `AuthenticationError`,
    `ConnectorError`); returns the updated customer resource."""
    if not is_registered(customer_id):
        raise ValueError("only registered WooCommerce customers have a record to write")
    current = client.request("GET", f"customers/{customer_id}").json()
    meta = current.get("meta_data") if isinstance(current, dict) else None
    data = {"meta_data": consent_meta_update(state, meta)}
    updated: dict[str, Any] = client.request("PUT", f"customers/{customer_id}", data=data).json()
    return updated
