"""The shared email-address check: its verdicts, and that no input makes it slow.

Unit tests: no database, no network.
"""

from __future__ import annotations

import time

import pytest

from connectors.email_address import MAX_EMAIL_LENGTH, is_email_address


@pytest.mark.parametrize(
    "value",
    ["hanako@example.jp", "Taro.Yamada+tea@mail.example.co.jp", "a@b.cd", "名前@例え.jp"],
)
def test_addresses_are_accepted(value: str) -> None:
    assert is_email_address(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-an-email",
        "@example.jp",
        "hanako@",
        "hanako@example",
        "hanako@example.j",
        "hanako@.jp",
        "hanako@example..jp",
        "hanako@example.jp.",
        "ha nako@example.jp",
        "hanako@exa\nmple.jp",
        "a@b@example.jp",
        "<hanako@example.jp>",
        "hanako@example.jp, taro@example.jp",
        "x" * 65 + "@example.jp",
        "a@" + "b" * (MAX_EMAIL_LENGTH - 4) + ".jp",  # 255 characters
        None,
        12345,
    ],
)
def test_non_addresses_are_refused(value: object) -> None:
    assert not is_email_address(value)


@pytest.mark.parametrize(
    "value",
    [
        "." * 5_000_000,
        "a@" + "." * 5_000_000 + "@",
        "." * 64 + "@" + "." * 5_000_000 + " x",
        "a" * 64 + "@" + "b." * 2_500_000,
    ],
)
def test_a_multi_megabyte_input_is_refused_at_once(value: str) -> None:
    started = time.perf_counter()
    assert not is_email_address(value)
    assert time.perf_counter() - started < 0.5  # a backtracking scan takes minutes
