"""Attribution from the stored touches on PostgreSQL: last click by default, opens only when
chosen, the window configurable, one flow per order, recomputed when the settings change."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.domain.attribution import AttributionSettings
from app.flows.stats import flow_performance
from app.models.flow import MessageEvent
from app.services.attribution import attributed_orders
from tests.factories.admin import make_account, make_customer, make_shop
from tests.factories.flow_stats import NOW, T0, message, order, run

pytestmark = pytest.mark.integration


def touch(db: Session, msg: Any, name: str, at: Any, n: int) -> None:
    db.add(
        MessageEvent(
            shop_id=msg.shop_id,
            message_id=msg.id,
            event=name,
            occurred_at=at,
            sg_event_id=f"attr-{n}",
            natural_key=f"attr-nk-{n}",
        )
    )
    db.commit()


@pytest.fixture
def touched(db: Session) -> dict[str, Any]:
    shop = make_shop(db, make_account(db), "attr.myshopify.com", currency="JPY")
    clicker, opener, late = (make_customer(db, shop) for _ in range(3))
    cart_run = run(db, shop, clicker, "completed")
    winback_run = run(db, shop, clicker, "completed", started=T0 - timedelta(days=1))
    winback_run.flow_key = "winback"
    db.commit()
    cart_msg = message(db, cart_run, 1)
    winback_msg = message(db, winback_run, 1)
    touch(db, cart_msg, "click", T0 + timedelta(hours=1), 1)
    touch(db, winback_msg, "click", T0 + timedelta(days=1), 2)  # the later click
    order(db, shop, clicker, "3000", T0 + timedelta(days=2))

    opener_msg = message(db, run(db, shop, opener, "completed"), 1)
    touch(db, opener_msg, "open", T0 + timedelta(hours=2), 3)
    order(db, shop, opener, "5000", T0 + timedelta(days=1))

    late_msg = message(db, run(db, shop, late, "completed"), 1)
    touch(db, late_msg, "click", T0, 4)
    order(db, shop, late, "7000", T0 + timedelta(days=4))
    return {"shop": shop, "cart": cart_msg, "winback": winback_msg, "opener": opener_msg}


def credited(db: Session, shop_id: int, settings: AttributionSettings) -> dict[str, Decimal]:
    since, until = NOW - timedelta(days=90), NOW
    out: dict[str, Decimal] = {}
    for item in attributed_orders(db, shop_id, since, until, settings):
        out[item.flow_key] = out.get(item.flow_key, Decimal(0)) + item.revenue
    return out


def test_last_click_credits_one_flow_per_order(db: Session, touched: dict[str, Any]) -> None:
    shop_id = touched["shop"].id
    # The clicker's order goes to win-back (clicked last), never to both flows; the opener's
    # order counts nowhere; the late order (4 days after a cart click) goes to cart.
    assert credited(db, shop_id, AttributionSettings()) == {
        "winback": Decimal(3000),
        "cart": Decimal(7000),
    }
    cart = flow_performance(db, shop_id, "cart", now=NOW, attribution=AttributionSettings())
    winback = flow_performance(db, shop_id, "winback", now=NOW, attribution=AttributionSettings())
    assert (cart.orders, cart.revenue) == (1, Decimal(7000))
    assert (winback.orders, winback.revenue) == (1, Decimal(3000))


def test_opens_count_only_when_chosen(db: Session, touched: dict[str, Any]) -> None:
    with_opens = credited(db, touched["shop"].id, AttributionSettings("click_or_open", 5))
    assert with_opens == {"winback": Decimal(3000), "cart": Decimal(12000)}


def test_a_shorter_window_recomputes_past_numbers(db: Session, touched: dict[str, Any]) -> None:
    # With 3 days the late order (4 days after its click) is credited to nobody.
    assert credited(db, touched["shop"].id, AttributionSettings("click", 3)) == {
        "winback": Decimal(3000)
    }


def test_the_shops_saved_settings_are_the_default(db: Session, touched: dict[str, Any]) -> None:
    shop = touched["shop"]
    shop.attribution = {"model": "click", "window_days": 3}
    db.commit()
    assert flow_performance(db, shop.id, "cart", now=NOW).orders == 0
