"""Both store-connect forms use the one CSRF check (`app.auth.csrf.csrf_valid`): an empty token
is refused even when the session's own token is empty, and nothing is connected."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Account, Shop
from app.models.woocommerce import PendingWooCommerceAuth

EXPIRED = b"This form has expired"
FORMS = {
    "/connect/shopify": {"domain": "demo-store.myshopify.com", "token": "shpat_x"},
    "/connect/woocommerce": {"store_url": "https://store.example.com"},
}


def _signed_in(app: Flask, db: Session) -> Any:
    account = Account(name="Merchant")
    db.add(account)
    db.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["account_id"] = account.id
    return client


@pytest.mark.parametrize("path", sorted(FORMS))
@pytest.mark.parametrize("session_token", [None, ""], ids=["no-session-token", "empty-session"])
def test_an_empty_csrf_token_is_refused(
    app: Flask, db: Session, path: str, session_token: str | None
) -> None:
    client = _signed_in(app, db)
    if session_token is not None:
        with client.session_transaction() as session:
            session["csrf_token"] = session_token
    response = client.post(path, data={**FORMS[path], "csrf_token": ""})
    assert response.status_code == 400
    assert EXPIRED in response.data
    assert db.scalar(select(func.count()).select_from(Shop)) == 0
    assert db.scalar(select(func.count()).select_from(PendingWooCommerceAuth)) == 0


@pytest.mark.parametrize("path", sorted(FORMS))
def test_the_form_carries_the_session_token_and_a_wrong_one_is_refused(
    app: Flask, db: Session, path: str
) -> None:
    client = _signed_in(app, db)
    page = client.get(path)
    with client.session_transaction() as session:
        token = session["csrf_token"]
    assert token
    assert token.encode() in page.data
    response = client.post(path, data={**FORMS[path], "csrf_token": token[:-1] + "x"})
    assert response.status_code == 400
    assert EXPIRED in response.data
