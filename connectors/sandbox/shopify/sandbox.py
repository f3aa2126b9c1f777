"""`SandboxShopify`: one simulated Shopify app platform with any number of stores.

Layer: connectors/sandbox. It owns the app's credentials, the token authority, the webhook
subscriptions declared for the app (as in shopify.app.toml), one cost bucket per shop and the
delivery queue. The API secret signs tokens and webhooks and is never logged or exposed.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from connectors.sandbox.shopify.activity import run_activity
from connectors.sandbox.shopify.bulk import SandboxBulkOperations
from connectors.sandbox.shopify.cost import PLANS, LeakyBucket, RateLimit
from connectors.sandbox.shopify.data import generate_store
from connectors.sandbox.shopify.oauth import (
    ID_TOKEN_TYPE,
    OFFLINE_TOKEN_TYPE,
    TOKEN_EXCHANGE_GRANT,
    TokenAuthority,
    mint_session_token,
    query_hmac,
)
from connectors.sandbox.shopify.server import SandboxApp
from connectors.sandbox.shopify.store import SandboxStore
from connectors.sandbox.shopify.webhooks import (
    ALWAYS_DELIVERED,
    Delivery,
    WebhookDispatcher,
    serialize,
)

log = logging.getLogger(__name__)

# What a managed install grants (the app's shopify.app.toml [access_scopes]).
DEFAULT_APP_SCOPES = (
    "read_customers,write_customers,read_orders,read_all_orders,read_products,"
    "read_checkouts,write_discounts"
)


class SandboxShopify:
    """A simulated Shopify serving one app (`api_key`/`api_secret`) to several stores."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        app_url: str | None = None,
        seed: int = 7,
        token_ttl: int = 3600,
        refresh_token_ttl: int = 90 * 24 * 3600,
        plan: str = "standard",
    ) -> None:
        if plan not in PLANS:
            raise ValueError(f"plan must be one of {', '.join(PLANS)}: got {plan!r}")
        self.api_key = api_key
        self._api_secret = api_secret
        self.app_url = app_url.rstrip("/") if app_url else None
        self.seed = seed
        self.plan = plan
        self.app_scopes = DEFAULT_APP_SCOPES
        self._shops: dict[str, SandboxStore] = {}
        self._buckets: dict[str, LeakyBucket] = {}
        # (topic, uri, metafield namespaces) as declared in shopify.app.toml
        self._app_subscriptions: list[tuple[str, str, tuple[str, ...]]] = []
        self._lock = threading.Lock()
        self.tokens = TokenAuthority(
            api_key, api_secret, token_ttl=token_ttl, refresh_token_ttl=refresh_token_ttl
        )
        self._dispatcher = WebhookDispatcher(lambda: self._api_secret)
        self.bulk = SandboxBulkOperations(self)
        self._muted: set[str] = set()
        self._admin_faults: list[int] = []
        self._admin_failure_share = 0.0
        self._random = random.Random(seed)
        self.wsgi_app = SandboxApp(self)

    def __repr__(self) -> str:
        return f"SandboxShopify(api_key={self.api_key!r}, shops={sorted(self._shops)})"

    # ---- stores ----------------------------------------------------------------------------

    def add_shop(
        self,
        domain: str,
        *,
        customers: int = 300,
        years: int = 2,
        currency: str = "JPY",
        timezone: str = "Asia/Tokyo",
        name: str = "Demo Store",
        abandoned_checkouts: int | None = None,
        image_base: str | None = None,
    ) -> SandboxStore:
        """Create a store with `years` of generated history; the app starts uninstalled.
        `image_base`: the sandbox's own URL + `/_sandbox/images`, so pictures load from it."""
        generated, generator = generate_store(
            domain,
            seed=self.seed,
            customers=customers,
            years=years,
            currency=currency,
            timezone=timezone,
            name=name,
            abandoned_checkouts=abandoned_checkouts,
            now=datetime.now(UTC),
            image_base=image_base,
        )
        store = SandboxStore(self, generated, generator)
        with self._lock:
            if domain in self._shops:
                raise ValueError(f"{domain} already exists in this sandbox")
            self._shops[domain] = store
            self._buckets[domain] = LeakyBucket(PLANS[self.plan])
        return store

    def shop(self, domain: str) -> SandboxStore:
        """The store at `domain`; KeyError when there is none."""
        return self._shops[domain]

    def find_shop(self, domain: str) -> SandboxStore | None:
        return self._shops.get(domain)

    @property
    def shops(self) -> list[SandboxStore]:
        return list(self._shops.values())

    def bucket(self, domain: str) -> LeakyBucket:
        return self._buckets[domain]

    def set_rate_limit(self, domain: str, *, restore_rate: float, maximum: float) -> None:
        """Give one shop another GraphQL cost bucket (full), e.g. a tiny one to test throttling."""
        self._buckets[domain] = LeakyBucket(RateLimit(float(restore_rate), float(maximum)))

    # ---- the app ---------------------------------------------------------------------------

    def fail_admin_api(self, status: int, count: int = 1) -> None:
        """Answer the next `count` Admin API (GraphQL) requests with HTTP `status`."""
        with self._lock:
            self._admin_faults.extend([status] * count)

    def fail_admin_share(self, share: float) -> None:
        """Answer a random `share` (0 to 1) of Admin API requests with a 502 or 503."""
        with self._lock:
            self._admin_failure_share = max(0.0, min(1.0, share))

    def take_admin_fault(self) -> int | None:
        """The HTTP status the next Admin API request must get instead of an answer, if any."""
        with self._lock:
            if self._admin_faults:
                return self._admin_faults.pop(0)
            if self._admin_failure_share and self._random.random() < self._admin_failure_share:
                return self._random.choice((502, 503))
            return None

    def set_app_url(self, url: str) -> None:
        """Kizuna's base URL: OAuth redirects must stay under it, "open app" lands on it."""
        self.app_url = url.rstrip("/")

    def declare_app_subscriptions(
        self, topics: list[str], uri: str, *, metafield_namespaces: Sequence[str] = ()
    ) -> None:
        """App-level subscriptions, like `[[webhooks.subscriptions]]` in shopify.app.toml.

        They apply to every shop where the app is installed; compliance topics and
        app/uninstalled are delivered regardless. A relative `uri` resolves against the app URL.
        `metafield_namespaces`: the resource's metafields in those namespaces ride along.
        """
        with self._lock:
            for topic in topics:
                declared = (topic, uri, tuple(metafield_namespaces))
                if declared not in self._app_subscriptions:
                    self._app_subscriptions.append(declared)

    def mint_session_token(
        self,
        shop_domain: str,
        *,
        user_id: int = 1,
        ttl: int = 60,
        secret: str | None = None,
        **claim_overrides: Any,
    ) -> str:
        """A session token exactly as App Bridge hands it to the embedded app."""
        return mint_session_token(
            shop_domain,
            api_key=self.api_key,
            secret=secret if secret is not None else self._api_secret,
            user_id=user_id,
            ttl=ttl,
            **claim_overrides,
        )

    def sign_query(self, params: dict[str, str]) -> str:
        """The `hmac` Shopify adds to a query string it sends to the app."""
        return query_hmac(self._api_secret, params)

    def install_app(self, shop_domain: str, *, expiring: bool = True) -> dict[str, Any]:
        """A managed install without HTTP: the token endpoint's answer to a token exchange."""
        session_token = self.mint_session_token(shop_domain)
        body = self.tokens.token_endpoint(
            shop_domain,
            {
                "client_id": self.api_key,
                "client_secret": self._api_secret,
                "grant_type": TOKEN_EXCHANGE_GRANT,
                "subject_token": session_token,
                "subject_token_type": ID_TOKEN_TYPE,
                "requested_token_type": OFFLINE_TOKEN_TYPE,
                "expiring": 1 if expiring else 0,
            },
            default_scope=self.app_scopes,
        )
        self.mark_installed(shop_domain)
        return body

    def mark_installed(self, domain: str) -> None:
        store = self.shop(domain)
        with store.lock:
            store.installed = True

    def is_installed(self, shop_domain: str) -> bool:
        store = self._shops.get(shop_domain)
        return bool(store and store.installed)

    def expire_access_tokens(self, shop_domain: str) -> None:
        """Every access token of the shop expires now; refresh tokens stay valid."""
        self.tokens.expire_access_tokens(shop_domain)

    def revoke_tokens(self, shop_domain: str) -> None:
        self.tokens.revoke_shop(shop_domain)

    def access_token_count(self, shop_domain: str) -> int:
        """Access tokens issued for the shop and not revoked (expired ones included)."""
        return self.tokens.access_token_count(shop_domain)

    # ---- webhooks --------------------------------------------------------------------------

    @property
    def webhook_retry_delays(self) -> tuple[float, ...]:
        return self._dispatcher.retry_delays

    @webhook_retry_delays.setter
    def webhook_retry_delays(self, delays: tuple[float, ...]) -> None:
        self._dispatcher.retry_delays = tuple(delays)

    def deliver(
        self,
        shop_domain: str,
        topic: str,
        payload: dict[str, Any],
        *,
        webhook_id: str | None = None,
        metafields: list[dict[str, Any]] | None = None,
    ) -> None:
        """Send `payload` to every subscriber of `topic` on that shop (in the background).

        Each subscriber gets its own webhook id (or `webhook_id`, to replay a delivery); all
        deliveries of this call share one event id. Nothing is sent for app subscriptions while
        the app is not installed (compliance topics and app/uninstalled excepted).
        """
        if not self.emit(shop_domain, topic, payload, webhook_id=webhook_id, metafields=metafields):
            log.warning(
                "webhook has no subscriber",
                extra={
                    "shop": shop_domain,
                    "topic": topic,
                    "installed": self.is_installed(shop_domain),
                },
            )

    def emit(
        self,
        shop_domain: str,
        topic: str,
        payload: dict[str, Any],
        *,
        webhook_id: str | None = None,
        metafields: list[dict[str, Any]] | None = None,
    ) -> int:
        """Queue `payload` for every current subscriber; returns how many deliveries that made.

        `metafields`: the resource's metafields (REST shape); a subscriber that named
        metafield namespaces gets the payload with `metafields` listing those in its namespaces.
        """
        store = self.shop(shop_domain)
        if shop_domain in self._muted:
            return 0
        targets: list[tuple[str, str | None, tuple[str, ...]]] = []
        with self._lock:
            declared = list(self._app_subscriptions)
        for declared_topic, uri, namespaces in declared:
            if declared_topic == topic and (store.installed or topic in ALWAYS_DELIVERED):
                resolved = self._resolve(uri)
                if resolved:
                    targets.append((resolved, None, namespaces))
        with store.lock:
            for subscription in store.subscriptions.values():
                if subscription.topic == topic and (store.installed or topic == "app/uninstalled"):
                    namespaces = tuple(subscription.metafield_namespaces)
                    targets.append((subscription.uri, subscription.name, namespaces))
        if not targets:
            return 0
        bodies: dict[tuple[str, ...], bytes] = {}
        event_id = str(uuid.uuid4())
        triggered_at = datetime.now(UTC)
        for uri, name, namespaces in targets:
            body = bodies.get(namespaces)
            if body is None:
                body = bodies[namespaces] = serialize(
                    _with_metafields(payload, metafields or [], namespaces)
                )
            self._dispatcher.enqueue(
                shop_domain=shop_domain,
                topic=topic,
                uri=uri,
                body=body,
                event_id=event_id,
                webhook_id=webhook_id or str(uuid.uuid4()),
                triggered_at=triggered_at,
                name=name,
            )
        return len(targets)

    def _resolve(self, uri: str) -> str | None:
        if uri.startswith(("http://", "https://")):
            return uri
        if self.app_url is None:
            log.warning("relative webhook uri without an app url", extra={"uri": uri})
            return None
        return urljoin(self.app_url + "/", uri.lstrip("/"))

    @contextmanager
    def webhooks_muted(self, shop_domain: str) -> Iterator[None]:
        """Changes made inside send no webhooks (a missed delivery, for reconcile tests)."""
        self._muted.add(shop_domain)
        try:
            yield
        finally:
            self._muted.discard(shop_domain)

    def wait_for_deliveries(self, timeout: float = 10.0) -> None:
        """Block until no delivery is queued or retrying; TimeoutError after `timeout` s."""
        self._dispatcher.wait(timeout)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every delivery so far (the latest 10,000), oldest first."""
        return list(self._dispatcher.history)

    # ---- life ------------------------------------------------------------------------------

    def run_activity(self, stop: threading.Event, *, interval: float = 5.0) -> None:
        """Keep every store busy until `stop` is set (blocks; run it in a thread)."""
        run_activity(self, stop, interval=interval)

    def close(self) -> None:
        """Stop the delivery threads (pending retries are dropped)."""
        self._dispatcher.close()


def _with_metafields(
    payload: dict[str, Any], metafields: list[dict[str, Any]], namespaces: tuple[str, ...]
) -> dict[str, Any]:
    """The payload a subscriber naming `namespaces` gets: with `metafields` listing the
    resource's metafields in those namespaces (empty when it has none), else unchanged."""
    if not namespaces:
        return payload
    return {**payload, "metafields": [m for m in metafields if m.get("namespace") in namespaces]}
