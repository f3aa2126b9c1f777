"""Writing a customer's email marketing consent back to Shopify.

Layer: connectors (no Flask, no database). `customerEmailMarketingConsentUpdate`: apps may set
only SUBSCRIBED, UNSUBSCRIBED and PENDING; needs `write_customers`; userErrors raise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.base import ConnectorError
from connectors.shopify.queries import CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE

SETTABLE_STATES = frozenset({"SUBSCRIBED", "UNSUBSCRIBED", "PENDING"})
OPT_IN_LEVELS = frozenset({"SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN"})


class GraphQLExecutor(Protocol):
    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]: ...


def customer_gid(external_id: str) -> str:
    """A Kizuna customer's `external_id` (the trailing number) as a Shopify GID."""
    if external_id.startswith("gid://shopify/Customer/"):
        return external_id
    if not external_id.isdigit():
        raise ValueError(f"not a Shopify customer id: {external_id!r}")
    return f"gid://shopify/Customer/{external_id}"


def update_email_marketing_consent(
    client: GraphQLExecutor,
    *,
    customer_gid: str,
    state: str,
    consent_updated_at: datetime,
    opt_in_level: str = "SINGLE_OPT_IN",
) -> dict[str, Any]:
    """Set the customer's consent; Shopify's `defaultEmailAddress` consent fields afterwards."""
    if state not in SETTABLE_STATES:
        raise ValueError(f"Shopify only accepts {sorted(SETTABLE_STATES)}, not {state!r}")
    if opt_in_level not in OPT_IN_LEVELS:
        raise ValueError(f"unknown opt-in level {opt_in_level!r}")
    if consent_updated_at.tzinfo is None:
        raise ValueError("consent_updated_at must be timezone-aware")
    variables = {
        "input": {
            "customerId": customer_gid,
            "emailMarketingConsent": {
                "marketingState": state,
                "marketingOptInLevel": opt_in_level,
                "consentUpdatedAt": consent_updated_at.astimezone(UTC)
                .isoformat()
                .replace("+00:00", "Z"),
            },
        }
    }
    data = client.execute(CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE, variables)
    payload = data.get("customerEmailMarketingConsentUpdate") or {}
    errors = [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
    if errors:
        message = "; ".join(str(e.get("message")) for e in errors)
        raise ConnectorError(
            f"Shopify refused the consent update: {message}",
            status=200,
            code=errors[0].get("code"),
        )
    customer = payload.get("customer") or {}
    consent: dict[str, Any] = customer.get("defaultEmailAddress") or {}
    return consent
