"""Browse abandonment end to end: product views posted as the Shopify web pixel and the
WooCommerce storefront script post them → a run for a consenting customer → one email with
the viewed products and what goes with them, in the simulated SendGrid (real HTTP), on real
PostgreSQL and Redis; orders, checkouts and adds to cart end it; the backtest agrees."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.flows.browse import BROWSE
from app.flows.post_purchase import refresh_history_stats
from app.flows.simulation import simulate
from app.models import Account, Checkout, Customer
from app.models.flow import FlowRun, Message
from app.queueing import EMAIL, WEBHOOKS
from app.storefront import capture_key
from connectors.sandbox.sendgrid import SandboxSendGrid
from jobs.flows import run_flow_step
from jobs.send_email import send_message
from tests.factories import cart_flow
from tests.factories.admin import login, text_of
from tests.factories.post_purchase import (
    BOWL,
    SCOOP,
    TEA,
    TRAY,
    WHISK,
    add_history,
    deliver_order,
    now,
    order_body,
    runs,
)
from tests.factories.shopify_webhooks import deliver
from tests.factories.storefront import event, pixel_post, stored_events, storefront_shop

sendgrid = cart_flow.sendgrid
config = cart_flow.config


def test_views_of_a_consenting_customer_get_one_email_with_the_products_and_cross_sells(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, _customer = storefront_shop(db)
    add_history(db, shop, "2", 30, [BOWL, SCOOP])  # the scoop goes with the bowl
    add_history(db, shop, "3", 20, [BOWL, SCOOP])
    refresh_history_stats(db, shop.id)

    response = pixel_post(client, [event(BOWL), event(WHISK)])
    assert response.status_code == 202
    assert response.get_json() == {"stored": 2}
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    [run] = runs(db, BROWSE)
    assert run.status == "running"
    assert run.next_step_at is not None
    assert abs(run.next_step_at - (run.started_at + timedelta(hours=2))) < timedelta(seconds=1)

    # More views in the same period start nothing new: one run per customer per lookback.
    assert pixel_post(client, [event(TEA)]).status_code == 202
    assert len(runs(db, BROWSE)) == 1

    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [sent] = sendgrid.outbox
    html, text = sent.html or "", sent.text or ""
    assert sent.subject == "宇治抹茶 30g、ご検討中ですか？"  # the latest viewed product
    assert sent.categories == ("kizuna", "flow-browse", "browse-step-1")
    for body in (html, text):
        assert "山田 花子 様" in body
        for viewed in ("抹茶碗", "茶筅", "宇治抹茶 30g"):
            assert viewed in body
        assert "茶杓" in body  # bought with the bowl by others
        assert "https://kizuna.test/unsubscribe/" in body
    [msg] = db.scalars(select(Message)).all()
    assert msg.status == "sent"


def test_an_order_ends_the_run(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    storefront_shop(db)
    pixel_post(client, [event(BOWL)])
    [run] = runs(db, BROWSE)
    deliver_order(client, drain_jobs, order_body(990001, [BOWL], placed=now()))
    [run] = runs(db, BROWSE)
    assert (run.status, run.exit_reason) == ("exited", "ordered")
    assert run_flow_step(run.id, 1) == "stopped"
    drain_jobs(EMAIL)
    assert sendgrid.outbox == []


def test_a_checkout_hands_the_customer_to_the_cart_flow(
    client: Any, db: Session, drain_jobs: Any
) -> None:
    storefront_shop(db)
    pixel_post(client, [event(BOWL)])
    body = cart_flow.checkout_body(
        customer={"id": 7001, "email": "hanako@example.jp", "first_name": "花子"}
    )
    assert deliver(client, "checkouts/create", body, webhook_id="wh-co-1").status_code == 200
    drain_jobs(WEBHOOKS)
    [run] = runs(db, BROWSE)
    assert (run.status, run.exit_reason) == ("exited", "cart_started")
    assert len(runs(db, "cart")) == 1
    # A later view within the lookback starts nothing while the checkout is open.
    pixel_post(client, [event(TEA)])
    assert len(runs(db, BROWSE)) == 1


def test_an_add_to_cart_ends_the_run(client: Any, db: Session) -> None:
    storefront_shop(db)
    pixel_post(client, [event(BOWL)])
    pixel_post(client, [event(BOWL, "product_added_to_cart")])
    [run] = runs(db, BROWSE)
    assert (run.status, run.exit_reason) == ("exited", "added_to_cart")


def test_consent_decides_what_is_kept_and_who_is_emailed(client: Any, db: Session) -> None:
    shop, customer = storefront_shop(db)
    # Analytics not allowed: nothing is kept.
    response = pixel_post(client, [event(BOWL)], analytics=False)
    assert (response.status_code, response.get_json()) == (202, {"stored": 0})
    assert stored_events(db, shop) == []
    # Marketing not allowed: the view is kept (recommendations) but starts no email.
    pixel_post(client, [event(BOWL)], marketing=False)
    assert len(stored_events(db, shop)) == 1
    assert runs(db, BROWSE) == []
    # An anonymous visitor's view is kept against the visitor only.
    pixel_post(client, [event(TEA)], customer=None, visitor="visitor-anon-1")
    assert stored_events(db, shop)[-1].customer_id is None
    assert runs(db, BROWSE) == []
    # A customer without email consent gets no run.
    customer.email_marketing_state = "NOT_SUBSCRIBED"
    db.commit()
    pixel_post(client, [event(WHISK)])
    assert runs(db, BROWSE) == []


def test_minimum_views_are_counted_over_the_lookback(client: Any, db: Session) -> None:
    storefront_shop(db, min_views=2)
    pixel_post(client, [event(BOWL)])
    pixel_post(client, [event(BOWL)])  # the same product again counts once
    assert runs(db, BROWSE) == []
    pixel_post(client, [event(WHISK)])
    assert len(runs(db, BROWSE)) == 1


def test_the_frequency_cap_postpones_the_email(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop, customer = storefront_shop(db)
    pixel_post(client, [event(BOWL)])
    [run] = runs(db, BROWSE)
    # Another flow emailed her an hour ago: the 16-hour cap holds this one back.
    earlier = FlowRun(
        shop_id=shop.id,
        flow_key="winback",
        customer_id=customer.id,
        trigger_key="lapse:1",
        status="completed",
        started_at=now() - timedelta(hours=2),
    )
    db.add(earlier)
    db.flush()
    sent_at = now() - timedelta(hours=1)
    db.add(
        Message(
            shop_id=shop.id,
            flow_run_id=earlier.id,
            step=1,
            customer_id=customer.id,
            status="sent",
            sent_at=sent_at,
        )
    )
    db.commit()
    assert run_flow_step(run.id, 1) == "created"
    msg = db.scalars(select(Message).where(Message.flow_run_id == run.id)).one()
    assert send_message(msg.id) == "postponed"
    db.expire_all()
    assert msg.not_before == sent_at + timedelta(hours=16)
    assert sendgrid.outbox == []


def test_the_backtest_counts_the_runs_a_hand_count_gives(client: Any, db: Session) -> None:
    shop, customer = storefront_shop(db, min_views=2, lookback_days=1)
    other = Customer(
        shop_id=shop.id,
        external_id="7002",
        email="taro@example.jp",
        email_normalized="taro@example.jp",
        email_marketing_state="SUBSCRIBED",
    )
    db.add(other)
    db.commit()
    base = now() - timedelta(hours=20)
    # Hanako: two products within the day → one run; the third view the same day adds none.
    pixel_post(client, [event(BOWL, at=base), event(WHISK, at=base + timedelta(minutes=5))])
    pixel_post(client, [event(TEA, at=base + timedelta(hours=1))])
    # Taro: one product only → no run; then he adds to a cart.
    pixel_post(client, [event(BOWL, at=base)], customer=7002, visitor="visitor-0002")
    live = runs(db, BROWSE)
    assert [r.customer_id for r in live] == [customer.id]
    result = simulate(db, shop, BROWSE, base - timedelta(hours=1))
    entered = [entry for entry in result.entries if entry.outcome == "entered"]
    assert [entry.customer_id for entry in entered] == [customer.id]
    assert result.totals.entered == 1
    assert result.totals.emails == 1


def test_woocommerce_views_become_the_customers_once_the_visitor_checks_out(
    client: Any, db: Session, runtime: Any
) -> None:
    shop, customer = storefront_shop(db, domain="tea.example.com")
    shop.platform, shop.domain = "woocommerce", "https://tea.example.com"
    db.commit()
    key = capture_key(runtime.config.secret_key, shop.id)
    origin = {"Origin": "https://tea.example.com"}
    url = f"/storefront/events?shop={shop.id}&key={key}"
    token = "cart0123456789"

    def view(product: str) -> Any:
        body = {
            "visitor": token,
            "consent": {"analytics": True, "marketing": True},
            "customer": "7001",  # ignored: a WooCommerce page cannot vouch for it
            "events": [event(product)],
        }
        return client.post(url, json=body, headers=origin)

    assert view(BOWL).status_code == 202
    assert stored_events(db, shop)[0].customer_id is None
    assert runs(db, BROWSE) == []
    # The shopper types her address at checkout: the capture identifies the visitor.
    capture = {
        "email": "hanako@example.jp",
        "cart_token": token,
        "currency": "JPY",
        "items": [{"title": "抹茶碗", "quantity": 1, "price": "4800", "product_id": 101}],
    }
    capture_url = f"/storefront/woocommerce/capture?shop={shop.id}&key={key}"
    assert client.post(capture_url, json=capture, headers=origin).status_code == 200
    assert stored_events(db, shop)[0].customer_id == customer.id
    # Days later the checkout is long gone; her new views start a browse run.
    for checkout in db.scalars(select(Checkout).where(Checkout.shop_id == shop.id)):
        checkout.platform_created_at = now() - timedelta(days=5)
        checkout.created_at = now() - timedelta(days=5)
    db.commit()
    assert view(TEA).status_code == 202
    assert stored_events(db, shop)[-1].customer_id == customer.id
    [run] = runs(db, BROWSE)
    assert run.customer_id == customer.id


def test_products_a_customer_viewed_lead_their_thank_you_recommendations(
    client: Any, db: Session, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    storefront_shop(db)  # no purchase stats yet: no cross-sells, no best sellers
    pixel_post(client, [event(TRAY), event(BOWL)])
    deliver_order(client, drain_jobs, order_body(990002, [BOWL], placed=now()))
    [run] = runs(db, "thank_you")
    assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    [sent] = sendgrid.outbox
    text = sent.text or ""
    assert "盆" in text  # viewed, not bought: recommended
    assert text.count("抹茶碗") == 1  # viewed and bought: only as the order's line


def test_the_admin_lists_previews_and_backtests_the_flow_in_both_languages(
    client: Any, db: Session, runtime: Any
) -> None:
    shop, customer = storefront_shop(db)
    pixel_post(client, [event(BOWL)])
    login(client, runtime, db.get_one(Account, shop.account_id))
    en = {"Accept-Language": "en"}
    listing = text_of(client.get("/app/flows", headers=en))
    assert 'id="flow-browse"' in listing
    assert "Browse abandonment" in listing
    assert "Back in stock" in listing
    assert "閲覧放棄" in text_of(client.get("/app/flows?locale=ja"))
    page = text_of(client.get(f"/app/flows/browse?customer_id={customer.id}", headers=en))
    assert 'name="min_views"' in page
    assert 'name="lookback_days"' in page
    assert "抹茶碗" in page  # the preview shows what she viewed
    backtest = text_of(client.get("/app/flows/backtest?flow=browse&days=7", headers=en))
    assert 'data-flow="browse"' in backtest
    assert "Product views at" in backtest
    ja = text_of(client.get("/app/flows/backtest?flow=browse&days=7&locale=ja"))
    assert "の商品閲覧" in ja
