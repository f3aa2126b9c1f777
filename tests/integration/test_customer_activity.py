"""The customer page's email, flow-run, suppression and other-stores sections, on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.models.flow import FlowRun, Message, MessageEvent, Suppression
from app.services import people
from tests.factories.admin import login, make_account, make_customer, make_order, make_shop, text_of

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture
def emailed(db: Session) -> dict[str, Any]:
    account = make_account(db)
    shop = make_shop(db, account, "tea-house.myshopify.com", name="Tea House")
    customer = make_customer(db, shop, email="hanako@example.jp", first_name="Hanako")
    run = FlowRun(
        shop_id=shop.id,
        flow_key="cart",
        customer_id=customer.id,
        trigger_key="tok-1",
        status="exited",
        exit_reason="ordered",
        started_at=NOW - timedelta(days=2),
    )
    db.add(run)
    db.flush()
    message = Message(
        shop_id=shop.id,
        flow_run_id=run.id,
        step=1,
        customer_id=customer.id,
        status="sent",
        subject="You left something in your cart",
        sent_at=NOW - timedelta(days=2),
    )
    db.add(message)
    db.flush()
    for n, kind in enumerate(("delivered", "open", "click")):
        db.add(
            MessageEvent(
                shop_id=shop.id,
                message_id=message.id,
                event=kind,
                occurred_at=NOW - timedelta(days=2) + timedelta(minutes=n + 1),
                sg_event_id=f"evt-{n}",
                natural_key=f"nk-{n}",
            )
        )
    db.add(Suppression(shop_id=shop.id, email_normalized="hanako@example.jp", reason="bounce"))
    db.commit()
    return {"account": account, "shop": shop, "customer": customer, "message": message}


def test_messages_events_runs_and_suppression_are_shown(
    client: Any, runtime: Any, emailed: dict[str, Any]
) -> None:
    login(client, runtime, emailed["account"])
    page = text_of(client.get(f"/app/customers/{emailed['customer'].id}"))
    assert f'data-message-id="{emailed["message"].id}"' in page
    assert "You left something in your cart" in page
    for label in ("delivered", "opened", "clicked"):
        assert f">{label}</span>" in page
    assert 'data-field="suppression"' in page
    assert "The address bounced." in page
    assert "Exited" in page
    assert "(ordered)" in page

    japanese = text_of(
        client.get(f"/app/customers/{emailed['customer'].id}", headers={"Accept-Language": "ja"})
    )
    assert "アドレスがバウンスしました。" in japanese
    assert ">開封</span>" in japanese


def test_another_customers_messages_are_not_shown(
    client: Any, runtime: Any, db: Session, emailed: dict[str, Any]
) -> None:
    other = make_customer(db, emailed["shop"], email="someone@example.jp")
    login(client, runtime, emailed["account"])
    page = text_of(client.get(f"/app/customers/{other.id}"))
    assert "data-message-id" not in page
    assert 'data-field="suppression"' not in page
    assert "No email sent to this customer yet." in page


def test_the_same_persons_orders_in_the_accounts_other_store(
    client: Any, runtime: Any, db: Session, emailed: dict[str, Any]
) -> None:
    account, shop = emailed["account"], emailed["shop"]
    sister = make_shop(db, account, "tea-house-wholesale.myshopify.com", name="Tea Wholesale")
    twin = make_customer(db, sister, email="Hanako@Example.jp")
    there = make_order(db, sister, twin, "#W-7", [("Gyokuro 1kg", 1, "9800")], processed_at=NOW)
    # Another account's store with the same address is never joined to this person.
    rival = make_shop(db, make_account(db, "Rival"), "rival.myshopify.com")
    stranger = make_customer(db, rival, email="hanako@example.jp")
    hidden = make_order(db, rival, stranger, "#R-1", [("Hojicha", 1, "500")], processed_at=NOW)
    for each in (shop, sister, rival):
        people.link_shop(db, each.id)
    db.commit()

    login(client, runtime, account)
    page = text_of(client.get(f"/app/customers/{emailed['customer'].id}"))
    assert 'id="other-stores"' in page
    assert f'data-shop-id="{sister.id}"' in page
    assert f'data-order-id="{there.id}"' in page
    assert "#W-7" in page
    assert "¥9,800" in page
    assert f'data-order-id="{hidden.id}"' not in page
    assert "#R-1" not in page

    # The sister store's own page shows the first store's (orderless) customer: nothing to add.
    page = text_of(client.get(f"/app/customers/{twin.id}?shop_id={sister.id}"))
    assert 'id="other-stores"' not in page
