"""The Shopify extensions declare what the app expects (read without the Shopify CLI or node):
the web pixel's type, consent and settings, the events its script subscribes to and posts, the
theme block's endpoint; and the app configuration asks for the scopes and topics they need."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from app.models.storefront import EVENT_KINDS
from connectors.shopify.subscriptions import TOPICS
from connectors.shopify.webhooks import SUPPORTED_TOPICS

ROOT = Path(__file__).resolve().parents[2]
PIXEL = ROOT / "extensions" / "kizuna-pixel"
THEME = ROOT / "extensions" / "kizuna-theme"


def test_the_pixel_is_a_strict_web_pixel_loaded_only_with_analytics_consent() -> None:
    declared = tomllib.loads((PIXEL / "shopify.extension.toml").read_text())
    assert declared["type"] == "web_pixel_extension"
    assert declared["runtime_context"] == "strict"
    assert declared["customer_privacy"]["analytics"] is True
    assert declared["settings"]["type"] == "object"
    assert declared["settings"]["fields"]["endpoint"]["type"] == "single_line_text_field"


def test_the_pixel_subscribes_to_the_events_the_endpoint_accepts() -> None:
    script = (PIXEL / "src" / "index.js").read_text()
    subscribed = set(re.findall(r'analytics\.subscribe\("([a-z_]+)"', script))
    assert subscribed == set(EVENT_KINDS)
    assert "settings.endpoint" in script
    assert "shop_domain=" in script
    assert "analyticsProcessingAllowed" in script
    assert "marketingAllowed" in script
    assert "visitorConsentCollected" in script
    package = json.loads((PIXEL / "package.json").read_text())
    assert "@shopify/web-pixels-extension" in package["dependencies"]


def test_the_theme_block_posts_to_the_back_in_stock_endpoint_in_both_languages() -> None:
    assert tomllib.loads((THEME / "shopify.extension.toml").read_text())["type"] == "theme"
    block = (THEME / "blocks" / "back-in-stock.liquid").read_text()
    schema = json.loads(block.split("{% schema %}")[1].split("{% endschema %}")[0])
    assert [setting["id"] for setting in schema["settings"]] == ["endpoint"]
    assert "shop_domain=" in block
    keys = set(re.findall(r"'(back_in_stock\.[a-z]+)' \| t", block))
    for name in ("en.default.json", "ja.json"):
        texts = json.loads((THEME / "locales" / name).read_text())["back_in_stock"]
        assert {f"back_in_stock.{key}" for key in texts} == keys


def test_the_app_asks_for_the_scopes_and_topics_the_extensions_need() -> None:
    app = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    scopes = set(app["access_scopes"]["scopes"].split(","))
    assert {"read_inventory", "write_pixels", "read_customer_events"} <= scopes
    declared = {
        topic
        for subscription in app["webhooks"]["subscriptions"]
        for topic in subscription.get("topics", ())
    }
    assert "inventory_levels/update" in declared
    assert "inventory_levels/update" in TOPICS
    assert "inventory_levels/update" in SUPPORTED_TOPICS
