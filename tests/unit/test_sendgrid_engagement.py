"""The simulated SendGrid's recipients: shares and order of the events it plans per message."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from connectors.sandbox.sendgrid import EngagementModel, OutboxMessage
from connectors.sandbox.sendgrid.engagement import links_of

HTML = (
    '<a href="https://shop.example/products/tea">Tea</a>'
    '<a href="https://shop.example/cart">Cart</a>'
    '<a href="https://kizuna.test/unsubscribe/abc">Unsubscribe</a>'
)


def _message(index: int) -> OutboxMessage:
    return OutboxMessage(
        sg_message_id=f"x{index}.filter",
        x_message_id=f"x{index}",
        accepted_at=datetime.now(UTC),
        from_email="shop@example.com",
        from_name=None,
        to=((f"c{index}@example.com", None),),
        cc=(),
        bcc=(),
        reply_to=None,
        subject="s",
        text="t",
        html=HTML,
        categories=(),
        custom_args={},
        headers={},
        send_at=None,
    )


def test_most_are_delivered_a_share_opened_and_clicked_a_few_bounce() -> None:
    model, rng = EngagementModel(), random.Random(1)
    counts: Counter[str] = Counter()
    for index in range(4000):
        plan = model.plan(_message(index), rng)
        kinds = [kind for _at, kind, _url in plan]
        times = [at for at, _kind, _url in plan]
        assert times == sorted(times)  # delivered before opened before clicked
        assert not ({"delivered", "bounce"} <= set(kinds))
        counts.update(set(kinds))
        for _at, kind, url in plan:
            assert (url is not None) == (kind == "click")
            assert url is None or "/unsubscribe" not in url
    assert counts["processed"] == 4000
    assert 0.95 < counts["delivered"] / 4000 < 0.99
    assert 0.01 < counts["bounce"] / 4000 < 0.05
    assert 0.38 < counts["open"] / counts["delivered"] < 0.52
    assert 0.28 < counts["click"] / counts["open"] < 0.42
    assert 0 < counts["unsubscribe"] < counts["click"]


def test_pace_brings_everything_sooner() -> None:
    slow = EngagementModel(open_share=1.0)
    fast = EngagementModel(open_share=1.0, pace=60)
    slow_plan = slow.plan(_message(1), random.Random(3))
    fast_plan = fast.plan(_message(1), random.Random(3))
    assert [kind for _, kind, _ in slow_plan] == [kind for _, kind, _ in fast_plan]
    for (slow_at, _, _), (fast_at, _, _) in zip(slow_plan, fast_plan, strict=True):
        assert abs(fast_at * 60 - slow_at) < 1e-6


def test_only_the_emails_own_links_are_clicked() -> None:
    assert links_of(_message(1)) == [
        "https://shop.example/products/tea",
        "https://shop.example/cart",
    ]
