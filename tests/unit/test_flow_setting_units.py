"""Flow settings in natural units: a delay is shown as minutes, hours or days, whichever says it
whole, and a posted amount in a chosen unit is stored in hours."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from app.domain.orchestration import CART
from app.flows import settings
from app.resources import TRANSLATIONS


@pytest.fixture(autouse=True)
def babel_app() -> object:
    app = Flask(__name__)
    Babel(app, default_translation_directories=str(TRANSLATIONS))
    with app.app_context():
        yield app


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (0.25, (15, "minutes")),
        (0.5, (30, "minutes")),
        (1, (1, "hours")),
        (26, (26, "hours")),
        (24, (1, "days")),
        (72, (3, "days")),
        (0, (0, "hours")),
        (1.5, (90, "minutes")),
    ],
)
def test_natural_span_picks_the_largest_whole_unit(
    hours: float, expected: tuple[float, str]
) -> None:
    assert settings.natural_span(hours) == expected


def test_span_text_in_both_languages() -> None:
    assert settings.span_text(0.25) == "15 minutes"
    assert settings.span_text(1) == "1 hour"
    assert settings.span_text(72) == "3 days"
    with force_locale("ja"):
        assert settings.span_text(72) == "3 日"
        assert settings.span_text(0.25) == "15 分"


def test_form_values_show_the_cart_delays_in_natural_units() -> None:
    values = settings.form_values(None, CART)
    assert [(values[f"delay_{n}"], values[f"delay_{n}_unit"]) for n in (1, 2, 3)] == [
        ("1", "hours"),
        ("1", "days"),
        ("3", "days"),
    ]
    assert settings.delay_texts(values) == {"d1": "1 hour", "d2": "1 day", "d3": "3 days"}


def _cart_form(**delays: str) -> dict[str, str]:
    form = settings.form_values(None, CART)
    form.update(delays)
    return form


def test_a_delay_posted_in_a_unit_is_stored_in_hours() -> None:
    result = settings.validate(
        _cart_form(delay_1="30", delay_1_unit="minutes", delay_2="2", delay_2_unit="days")
    )
    assert result.ok, result.errors
    assert result.config["step_delay_hours"] == [0.5, 48.0, 72.0]


def test_a_delay_without_its_unit_is_read_in_hours() -> None:
    form = _cart_form(delay_1="2")
    for n in (1, 2, 3):
        form.pop(f"delay_{n}_unit")
    form.update(delay_2="30", delay_3="96")
    result = settings.validate(form)
    assert result.ok, result.errors
    assert result.config["step_delay_hours"] == [2.0, 30.0, 96.0]


def test_out_of_range_and_unknown_units_are_refused_in_natural_words() -> None:
    too_soon = settings.validate(_cart_form(delay_1="5", delay_1_unit="minutes"))
    assert too_soon.errors["delay_1"].values == {"low": "15 minutes", "high": "30 days"}
    too_late = settings.validate(_cart_form(delay_3="31", delay_3_unit="days"))
    assert too_late.errors["delay_3"].key == "flows.error.range"
    odd_unit = settings.validate(_cart_form(delay_1="1", delay_1_unit="weeks"))
    assert odd_unit.errors["delay_1"].key == "flows.error.unit"


def test_an_odd_number_of_minutes_comes_back_as_minutes() -> None:
    result = settings.validate(_cart_form(delay_1="7", delay_1_unit="minutes"))
    assert result.errors["delay_1"].key == "flows.error.range"  # below 15 minutes
    result = settings.validate(_cart_form(delay_1="17", delay_1_unit="minutes"))
    assert result.ok, result.errors
    stored = result.config["step_delay_hours"][0]
    assert settings.natural_span(stored) == (17, "minutes")
