"""Configuration is read once, checked, and fails fast with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.config import ConfigError, load_config


def test_nothing_configured_runs_embedded_with_generated_secrets(tmp_path: Path) -> None:
    config = load_config({}, instance_path=tmp_path)
    assert config.embedded
    assert config.database_url == f"sqlite:///{tmp_path / 'kizuna.sqlite3'}"
    assert config.redis_url is None
    again = load_config({}, instance_path=tmp_path)
    assert again.secret_key == config.secret_key
    assert again.encryption_keys == config.encryption_keys
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_database_without_secrets_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"DATABASE_URL": "postgresql://db/kizuna"}, instance_path=tmp_path)


def production_env(**overrides: str) -> dict[str, str]:
    """A complete production environment; a test removes or changes one value."""
    env = {
        "DATABASE_URL": "postgresql://db/kizuna",
        "SECRET_KEY": "x" * 32,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SHOPIFY_API_KEY": "real-client-id",
        "SHOPIFY_API_SECRET": "s",
        "APP_URL": "https://kizuna.example.com",
        "SENDGRID_API_KEY": "SG.key",
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value}


def test_complete_production_environment_starts(tmp_path: Path) -> None:
    config = load_config(production_env(), instance_path=tmp_path)
    assert not config.embedded
    assert config.shopify_api_key == "real-client-id"
    assert config.app_url == "https://kizuna.example.com"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SHOPIFY_API_KEY": ""}, "SHOPIFY_API_KEY"),
        ({"APP_URL": ""}, "APP_URL"),
        ({"APP_URL": "http://kizuna.example.com"}, "APP_URL"),
        ({"APP_URL": "https://127.0.0.1:8000"}, "APP_URL"),
        ({"APP_URL": "https://localhost"}, "APP_URL"),
        ({"APP_URL": "https://[::1]:8443"}, "APP_URL"),
        ({"APP_URL": "https://0.0.0.0"}, "APP_URL"),
        ({"SENDGRID_API_KEY": ""}, "SENDGRID_API_KEY"),
        ({"KIZUNA_ENV": "staging"}, "KIZUNA_ENV"),
    ],
)
def test_production_refuses_demo_stand_ins(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(production_env(**overrides), instance_path=tmp_path)


def test_sendgrid_sandbox_counts_as_a_mail_setting(tmp_path: Path) -> None:
    env = production_env(SENDGRID_API_KEY="", SENDGRID_SANDBOX_URL="https://mail.sandbox.example")
    assert load_config(env, instance_path=tmp_path).sendgrid_sandbox_url


def test_development_relaxes_only_key_app_url_and_mail(tmp_path: Path) -> None:
    env = production_env(
        KIZUNA_ENV="development", SHOPIFY_API_KEY="", APP_URL="http://127.0.0.1:8000",
        SENDGRID_API_KEY="",
    )  # fmt: skip
    config = load_config(env, instance_path=tmp_path)
    assert config.app_url == "http://127.0.0.1:8000"
    assert config.shopify_api_key == "kizuna-demo-app"
    for required in ("SECRET_KEY", "ENCRYPTION_KEYS", "SHOPIFY_API_SECRET"):
        with pytest.raises(ConfigError, match=required):
            load_config({**env, required: ""}, instance_path=tmp_path)


def test_postgres_urls_use_psycopg3(tmp_path: Path) -> None:
    env = production_env(DATABASE_URL="postgres://u@db/kizuna")
    assert (
        load_config(env, instance_path=tmp_path).database_url == "postgresql+psycopg://u@db/kizuna"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "mysql://db/kizuna", "DATABASE_URL"),
        ("REDIS_URL", "http://redis", "REDIS_URL"),
        ("ENCRYPTION_KEYS", "not-a-key", "ENCRYPTION_KEYS"),
        ("SHOPIFY_API_VERSION", "2024-01", "SHOPIFY_API_VERSION"),
        ("SHOPIFY_API_VERSION", "latest", "SHOPIFY_API_VERSION"),
        ("APP_URL", "kizuna.example.com", "APP_URL"),
        ("SHOPIFY_SANDBOX_URL", "ftp://x", "SHOPIFY_SANDBOX_URL"),
        ("SECRET_KEY", "short", "SECRET_KEY"),
        ("KIZUNA_TRUSTED_PROXIES", "yes", "KIZUNA_TRUSTED_PROXIES"),
        ("KIZUNA_TRUSTED_PROXIES", "-1", "KIZUNA_TRUSTED_PROXIES"),
        ("KIZUNA_TRUSTED_PROXIES", "11", "KIZUNA_TRUSTED_PROXIES"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({name: value}, instance_path=tmp_path)


def test_trusted_proxies_default_to_none(tmp_path: Path) -> None:
    assert load_config({}, instance_path=tmp_path).trusted_proxies == 0
    env = {"KIZUNA_TRUSTED_PROXIES": " 2 "}
    assert load_config(env, instance_path=tmp_path).trusted_proxies == 2


def test_encryption_keys_rotate_first_encrypts_all_decrypt(tmp_path: Path) -> None:
    from app.crypto import TokenCipher

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = TokenCipher((old,))
    stored = before.encrypt("shpat_secret")
    after = TokenCipher((new, old))
    assert after.decrypt(stored) == "shpat_secret"
    rotated = after.rotate(stored)
    assert TokenCipher((new,)).decrypt(rotated) == "shpat_secret"
    assert b"shpat_secret" not in stored
    with pytest.raises(ValueError, match="ENCRYPTION_KEYS"):
        TokenCipher((Fernet.generate_key().decode(),)).decrypt(stored)


def test_previous_shopify_secret_is_accepted_second(tmp_path: Path) -> None:
    config = load_config(
        {"SHOPIFY_API_SECRET": "current", "SHOPIFY_API_SECRET_PREVIOUS": "previous"},
        instance_path=tmp_path,
    )
    assert config.shopify_secrets == ("current", "previous")
