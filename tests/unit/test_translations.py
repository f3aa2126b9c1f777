"""The catalogue (app/translations) and the one language rule (app/i18n.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import Babel, force_locale, gettext, ngettext, npgettext

from app.domain.rfm import GROUP_KEYS
from app.i18n import (
    KEYED_MESSAGES,
    Counted,
    choose_language,
    confidence_reason,
    group_label,
    message_error,
    message_problem,
    normalize_language,
    recipient_language,
    stored_error_text,
    text_for,
    translate,
)
from app.resources import TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app() -> Iterator[Flask]:
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(TRANSLATIONS))
    with app.app_context():
        yield app


def _japanese() -> dict[tuple[str | None, str], object]:
    with (TRANSLATIONS / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    return {
        (m.context, m.id[0] if isinstance(m.id, tuple) else m.id): m.string for m in catalog if m.id
    }


def test_every_english_message_has_a_japanese_translation() -> None:
    japanese = _japanese()
    assert japanese
    assert all(japanese.values())


@pytest.mark.usefixtures("app")
def test_messages_format_their_values() -> None:
    plural = ("customers.count", "%(count)s customer", "%(count)s customers")
    with force_locale("ja"):
        assert npgettext(*plural, 1204, count="1,204") == "1,204 人の顧客"
    with force_locale("en"):
        assert npgettext(*plural, 3, count="3") == "3 customers"
    assert text_for("no.such.key") == "no.such.key"
    assert text_for("no.such.key", default="fallback") == "fallback"
    with force_locale("fr"):
        assert gettext("Home") == "Home"
    assert gettext("%(count)s customers match") == "%(count)s customers match"  # no values
    assert translate("ja", "flows.name.cart") == "カート放棄"
    assert translate("en", "flows.name.cart") == "Abandoned cart"


@pytest.mark.usefixtures("app")
def test_plural_forms_follow_each_language() -> None:
    with force_locale("en"):
        assert (
            npgettext("customers.count", "%(count)s customer", "%(count)s customers", 1, count="1")
            == "1 customer"
        )
        assert (
            npgettext("customers.count", "%(count)s customer", "%(count)s customers", 2, count="2")
            == "2 customers"
        )
        assert ngettext("%(num)s item", "%(num)s items", 0) == "0 items"
    with force_locale("ja"):  # Japanese has one form
        assert (
            npgettext("customers.count", "%(count)s customer", "%(count)s customers", 1, count="1")
            == "1 人の顧客"
        )
        assert (
            npgettext("customers.count", "%(count)s customer", "%(count)s customers", 7, count="7")
            == "7 人の顧客"
        )


@pytest.mark.parametrize(
    ("locale_param", "accept_language", "shop_locale", "expected"),
    [
        ("ja", "en-US,en;q=0.9", "en", "ja"),  # Shopify's locale param wins
        ("ja-JP", None, None, "ja"),
        ("fr", "ja", "ja", "en"),  # the admin user reads French: we have English, not Japanese
        (None, "ja-JP,ja;q=0.9,en;q=0.8", "en", "ja"),
        (None, "en-US,en;q=0.9,ja;q=0.8", "ja", "en"),
        (None, "de-DE", "ja", "ja"),  # nothing we speak: the shop's locale
        (None, None, "ja", "ja"),
        (None, "", "pt-BR", "en"),
        (None, None, None, "en"),
    ],
)
def test_choose_language(
    locale_param: str | None, accept_language: str | None, shop_locale: str | None, expected: str
) -> None:
    assert choose_language(locale_param, accept_language, shop_locale) == expected


def test_recipient_language_is_the_customers_then_the_shops() -> None:
    assert recipient_language("ja-JP", "en") == "ja"
    assert recipient_language(None, "ja") == "ja"
    assert recipient_language("fr", "ja") == "en"  # the customer reads French: not Japanese
    assert recipient_language(None, None) == "en"


def test_normalize_language() -> None:
    assert normalize_language("ja_JP") == "ja"
    assert normalize_language("JA") == "ja"
    assert normalize_language("en-GB") == "en"
    assert normalize_language("zh-TW") is None
    assert normalize_language(None) is None


def test_every_label_used_by_the_admin_templates_is_in_the_catalogue() -> None:
    options = {"extensions": "jinja2.ext.i18n"}
    used = {
        (context, msgid[0] if isinstance(msgid, tuple) else msgid)
        for _file, _line, msgid, _comments, context in extract_from_dir(
            ROOT / "templates" / "admin",
            method_map=[("**.html", "jinja2")],
            options_map={"**.html": options},
        )
    }
    assert used, "no messages found"
    japanese = _japanese()
    assert {k for k in used if not japanese.get(k)} == set()


def test_every_keyed_message_is_translated() -> None:
    japanese = _japanese()
    for key, message in KEYED_MESSAGES.items():
        if isinstance(message, Counted):
            continue  # its plural forms: test_a_counted_message_picks_its_form_in_each_language
        context = message._args[0] if len(message._args) == 2 else None
        assert japanese.get((context, message._args[-1])), key


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize(
    ("count", "english", "japanese"),
    [
        (
            1,
            "1 email was not sent: SendGrid refused it with HTTP status 400.",
            "1 通のメールを送信できませんでした: SendGrid が HTTP ステータス 400 で拒否しました。",
        ),
        (
            3,
            "3 emails were not sent: SendGrid refused it with HTTP status 400.",
            "3 通のメールを送信できませんでした: SendGrid が HTTP ステータス 400 で拒否しました。",
        ),
    ],
    ids=["one", "three"],
)
def test_a_counted_message_picks_its_form_in_each_language(
    count: int, english: str, japanese: str
) -> None:
    reason = {"code": "email_refusal.status", "params": {"status": 400}}
    params = {"count": count, "reason": reason}
    shop_params = {**params, "campaign": "Winter sale"}
    with force_locale("en"):
        assert stored_error_text(None, "campaign_error.emails_failed", params) == english
        assert (
            stored_error_text(None, "shop_error.campaign_emails_failed", shop_params)
            == f"Campaign “Winter sale”: {english}"
        )
        # A counted message without its values is its key, never a half-filled sentence.
        assert text_for("campaign_error.emails_failed") == "campaign_error.emails_failed"
    with force_locale("ja"):
        assert stored_error_text(None, "campaign_error.emails_failed", params) == japanese
        assert (
            stored_error_text(None, "shop_error.campaign_emails_failed", shop_params)
            == f"キャンペーン「Winter sale」: {japanese}"
        )
    counted = [key for key, message in KEYED_MESSAGES.items() if isinstance(message, Counted)]
    assert sorted(counted) == ["campaign_error.emails_failed", "shop_error.campaign_emails_failed"]


@pytest.mark.usefixtures("app")
def test_a_message_problem_with_values_is_worded_with_them() -> None:
    refused = message_error("sendgrid_refused", status=400)
    assert refused == "sendgrid_refused: status=400"
    assert message_error("sendgrid_unavailable") == "sendgrid_unavailable"
    with force_locale("en"):
        assert message_problem(refused) == "SendGrid refused it with HTTP status 400"
        assert message_problem("sendgrid_refused") == "SendGrid refused it"
        # Not values: a detail an older row kept beside its code, or free text.
        assert message_problem("sendgrid_refused: invalid request") == "SendGrid refused it"
        assert (
            message_problem("sendgrid_unavailable: 503 Service Unavailable")
            == "SendGrid did not answer, even after several retries"
        )
        assert (
            message_problem("SendGrid HTTP 400: invalid request")
            == "SendGrid HTTP 400: invalid request"
        )
        # Values no wording takes: the code's own wording.
        assert message_problem("sendgrid_refused: reason=other") == "SendGrid refused it"
    with force_locale("ja"):
        assert message_problem(refused) == "SendGrid が HTTP ステータス 400 で拒否しました"


def test_the_ci_check_passes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "check-translations")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.usefixtures("app")
def test_every_group_has_english_and_japanese_names() -> None:
    for group in GROUP_KEYS:
        english, japanese = group_label(group, "en"), group_label(group, "ja")
        assert english
        assert japanese
        assert japanese != english
    assert group_label("champions", "ja") == "チャンピオン"
    assert group_label("champions", "fr") == "Champions"


def test_a_prediction_explanation_is_stored_without_a_language_and_read_in_each(
    app: Flask,
) -> None:
    params = {
        "customers": 2357,
        "repeat_buyers": 412,
        "history_days": 300,
        "high_customers": 5000,
        "high_repeat_buyers": 1000,
        "high_history_days": 365,
    }
    reason = {"key": "medium", "params": params}
    with force_locale("en"):
        english = confidence_reason(reason)
    with force_locale("ja"):
        japanese = confidence_reason(reason)
    assert english.startswith("Learned from your shop's own history (customers: 2,357,")
    assert japanese.startswith("お店自身の購買履歴（顧客2,357人")
    # A row scored before holds a text per language.
    with force_locale("ja"):
        assert confidence_reason({"en": "Old.", "ja": "古い。"}) == "古い。"
