"""Campaign content from the editor: normalised when valid, refused with a reason when hostile
(unknown blocks, javascript: and other non-http(s) links, oversized text, too many blocks,
malformed coupons); the languages sent and the fallback for the other."""

from __future__ import annotations

from typing import Any

import pytest

from app.campaigns.content import (
    MAX_BLOCKS,
    MAX_TEXT,
    ContentError,
    email_language,
    empty_content,
    paragraphs,
    ready_problem,
    validate_content,
)


def _with(*blocks: dict[str, Any], coupon: Any = None, subject: str = "Hello") -> dict[str, Any]:
    return {
        "coupon": coupon,
        "en": {"subject": subject, "preheader": "", "blocks": list(blocks)},
        "ja": {"subject": "", "preheader": "", "blocks": []},
    }


def test_valid_content_is_normalised() -> None:
    raw = _with(
        {"type": "heading", "text": "Sale"},
        {"type": "text", "text": "Line one\r\nline two\n\nNext"},
        {"type": "image", "url": "https://cdn.example/x.png", "alt": "A bowl", "link": ""},
        {"type": "button", "label": "Shop", "url": "http://shop.example/sale"},
        {"type": "divider", "ignored": True},
        {"type": "products", "mode": "chosen", "product_ids": [101, "101", "202"], "count": "2"},
        {"type": "products", "mode": "recommended", "product_ids": ["9"], "count": 3},
        {"type": "coupon"},
        coupon={"kind": "percentage", "value": "10", "expires_days": 7},
    )
    content = validate_content(raw)
    blocks = content["en"]["blocks"]
    assert blocks[1]["text"] == "Line one\nline two\n\nNext"
    assert blocks[2]["link"] is None
    assert blocks[4] == {"type": "divider"}
    assert blocks[5] == {
        "type": "products",
        "mode": "chosen",
        "product_ids": ["101", "202"],
        "count": 2,
    }
    assert blocks[6]["product_ids"] == []
    assert content["coupon"] == {"kind": "percentage", "value": 10.0, "expires_days": 7}
    assert ready_problem(content) is None
    assert paragraphs(blocks[1]["text"]) == [["Line one", "line two"], ["Next"]]


@pytest.mark.parametrize(
    "raw",
    [
        "not an object",
        {"en": {"blocks": "nope"}},
        {"fr": {}},
        _with({"type": "script", "text": "x"}),
        _with({"type": "image", "url": "javascript:alert(1)", "alt": ""}),
        _with({"type": "image", "url": "data:image/png;base64,AAAA", "alt": ""}),
        _with({"type": "button", "label": "x", "url": "https://ok.example/ a"}),
        _with({"type": "button", "label": "", "url": "https://ok.example/"}),
        _with({"type": "button", "label": "x", "url": "//evil.example"}),
        _with(
            {"type": "image", "url": "https://ok.example/x.png", "alt": "", "link": "vbscript:x"}
        ),
        _with({"type": "text", "text": "x" * (MAX_TEXT + 1)}),
        _with({"type": "text", "text": 42}),
        _with(*[{"type": "divider"}] * (MAX_BLOCKS + 1)),
        _with({"type": "products", "mode": "chosen", "product_ids": []}),
        _with({"type": "products", "mode": "chosen", "product_ids": [str(n) for n in range(7)]}),
        _with({"type": "products", "mode": "recommended", "count": 0}),
        _with({"type": "products", "mode": "recommended", "count": 2.5}),
        _with({"type": "products", "mode": "chosen", "product_ids": [{"id": 1}]}),
        _with(coupon={"kind": "percentage", "value": 150, "expires_days": 7}),
        _with(coupon={"kind": "percentage", "value": "nan", "expires_days": 7}),
        _with(coupon={"kind": "bogo", "value": 1, "expires_days": 7}),
        _with(coupon={"kind": "fixed_amount", "value": 500, "expires_days": 0}),
        _with(subject="two\nlines"),
    ],
)
def test_hostile_content_is_refused_with_a_reason(raw: Any) -> None:
    with pytest.raises(ContentError) as refused:
        validate_content(raw)
    assert str(refused.value.message)


def test_what_is_sent_in_which_language() -> None:
    only_english = validate_content(_with({"type": "text", "text": "Hi"}))
    assert email_language(only_english, "ja") == "en"  # the other language stands in
    assert email_language(only_english, "en") == "en"
    assert ready_problem(empty_content()) is not None  # no subject in any language
    with_coupon_block = validate_content(_with({"type": "coupon"}))
    assert ready_problem(with_coupon_block) is not None  # a coupon block needs its value
