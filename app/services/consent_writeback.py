"""Writing a Kizuna opt-out back to the shop's platform (job `jobs.consent.write_back_consent`,
queue `sync`, job id `consent-<customer>`, enqueued after the unsubscribe commits).

Layer: services; commits only a refusal. Retryable failures are raised for RQ's backoff; a refusal
(4xx, userErrors, no token) is not retried and goes on the shop as a keyed problem
(`services.shop_errors`: its class and HTTP status, never the customer or the store's words).
A WooCommerce guest has no record: "unsupported".
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from app.db import utcnow
from app.kizuna import Kizuna
from app.models import Customer, Shop
from app.services.shop_errors import platform_name, record_shop_error, store_refusal
from app.services.shop_tokens import shopify_client
from app.services.woocommerce_install import woocommerce_client
from connectors.base import ConnectorError, RetryableError
from connectors.shopify.consent import customer_gid, update_email_marketing_consent
from connectors.woocommerce.consent import is_registered, write_consent

log = logging.getLogger(__name__)

UNSUBSCRIBED = "UNSUBSCRIBED"


def _record_refusal(session: Session, shop: Shop, error: Exception) -> None:
    # Which customer stays in the log (by our id): the shop's problem names no one.
    record_shop_error(
        shop,
        "shop_error.consent_write_back_refused",
        platform=platform_name(shop.platform),
        reason=store_refusal(error),
    )
    session.commit()


def write_back_consent(runtime: Kizuna, customer_id: int) -> str:
    """Push the customer's opt-out to the platform; returns written, skipped, unsupported
    or failed (a refusal, on the shop's last_error). Retryable errors are raised for RQ."""
    with runtime.db.session() as session:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.redacted_at is not None:
            return "skipped"
        shop = session.get_one(Shop, customer.shop_id)
        if shop.status == "uninstalled":
            return "skipped"
        if customer.email_marketing_state != UNSUBSCRIBED:
            # Re-subscribed on the platform since: the platform already has the newer truth.
            log.info(
                "consent write-back skipped customer_id=%s (no longer unsubscribed)", customer_id
            )
            return "skipped"
        if shop.platform == "woocommerce":
            return _write_back_woocommerce(runtime, session, shop, customer)
        if not customer.email:
            log.info("consent write-back skipped customer_id=%s (no email)", customer_id)
            return "skipped"
        consent_at = customer.email_marketing_updated_at or utcnow()
        try:
            gid = customer_gid(customer.external_id)
            with shopify_client(runtime, shop) as client:
                update_email_marketing_consent(
                    client,
                    customer_gid=gid,
                    state=UNSUBSCRIBED,
                    opt_in_level="SINGLE_OPT_IN",
                    consent_updated_at=consent_at,
                )
        except RetryableError:
            log.warning("consent write-back will be retried customer_id=%s", customer_id)
            raise
        except (ConnectorError, ValueError) as error:
            log.warning(
                "consent write-back refused shop_id=%s customer_id=%s code=%s",
                shop.id,
                customer_id,
                getattr(error, "code", None),
            )
            _record_refusal(session, shop, error)
            return "failed"
    log.info("consent written back shop_id=%s customer_id=%s", shop.id, customer_id)
    return "written"


def _write_back_woocommerce(
    runtime: Kizuna, session: Session, shop: Shop, customer: Customer
) -> str:
    """The opt-out into the customer's meta; a guest has no record to write."""
    if not is_registered(customer.external_id):
        log.info(
            "consent write-back not possible: a WooCommerce guest has no customer record; "
            "the opt-out is kept in Kizuna (suppression) shop_id=%s customer_id=%s",
            shop.id,
            customer.id,
        )
        return "unsupported"
    try:
        with woocommerce_client(runtime, shop) as client:
            write_consent(client, customer.external_id, UNSUBSCRIBED)
    except RetryableError:
        log.warning("consent write-back will be retried customer_id=%s", customer.id)
        raise
    except (ConnectorError, ValueError) as error:  # ValueError: keys that cannot be decrypted
        log.warning(
            "consent write-back refused shop_id=%s customer_id=%s code=%s",
            shop.id,
            customer.id,
            getattr(error, "code", None),
        )
        _record_refusal(session, shop, error)
        return "failed"
    log.info("consent written back shop_id=%s customer_id=%s", shop.id, customer.id)
    return "written"
