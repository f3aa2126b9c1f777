"""Post-purchase emails sent set-wise, on PostgreSQL, Redis and the simulated SendGrid: due
thank-yous, review requests and replenishment reminders of a shop leave as shared content with
per-recipient substitutions, one Mail Send request (valid against SendGrid's OpenAPI) for up to
1,000 of them; the same emails as a message sent alone; and a batch's reads do not grow with
its size (cross-sells from the shop's precomputed stats, owned products from
`customer_products`, never the order history)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domain.orchestration import REPLENISHMENT, REVIEW_REQUEST, THANK_YOU
from app.flows.dispatch import dispatch_due
from app.flows.post_purchase import refresh_history_stats
from app.models.flow import Message
from app.queueing import EMAIL
from connectors.sandbox.sendgrid import SandboxSendGrid
from connectors.sendgrid.mail import build_batch
from jobs.flows import dispatch_due_steps, run_flow_step
from tests.factories import cart_flow, sql
from tests.factories.post_purchase import (
    BOWL,
    SCOOP,
    TEA,
    TRAY,
    WHISK,
    add_history,
    due_runs,
    setup_shop,
)
from tests.factories.sendgrid_mail import assert_valid

config = cart_flow.config
sendgrid = cart_flow.sendgrid
statements = sql.statements

pytestmark = pytest.mark.integration

FLOWS = (THANK_YOU, REVIEW_REQUEST, REPLENISHMENT)


def with_history(db: Session, domain: str) -> Any:
    """The post-purchase shop with a history that gives the bowl cross-sells and makes tea a
    consumable, its stats refreshed as the daily job does."""
    shop, _customer = setup_shop(db, domain=domain)
    for customer, days, products in (
        ("2", 100, [BOWL, WHISK, TEA]), ("2", 70, [TEA]), ("2", 40, [TEA]),
        ("3", 90, [BOWL, TEA, SCOOP]), ("3", 60, [TEA]), ("4", 80, [BOWL, WHISK]),
        ("4", 50, [TEA]), ("4", 20, [TEA]), ("5", 10, [TRAY]),
    ):  # fmt: skip
        add_history(db, shop, customer, days, products)
    refresh_history_stats(db, shop.id)
    return shop


@pytest.mark.parametrize("flow_key", FLOWS)
def test_due_emails_go_in_one_valid_request_per_language_each_with_its_own_order(
    db: Session, runtime: Any, app: Any, flow_key: str
) -> None:
    shop = with_history(db, f"batch-{flow_key.replace('_', '-')}.myshopify.com")
    due_runs(db, shop, flow_key, 30, products=[BOWL, TEA])
    with app.app_context(), runtime.db.session() as session:
        batch = dispatch_due(session, runtime.config, shop.id, flow_key, 1, utcnow())
        bodies = build_batch(batch.emails)
        session.rollback()  # only the bodies are wanted here
    assert batch.claimed == 30
    assert len(batch.emails) == 30
    assert len(bodies) == 2  # the Japanese and the English content
    assert sum(len(body["personalizations"]) for body in bodies) == 30
    for body in bodies:
        assert_valid(body)  # SendGrid's own OpenAPI
        shared = " ".join(part["value"] for part in body["content"])
        assert "#90" not in shared  # no order of anyone in the shared content
        assert "@example.jp" not in shared
        for personalization in body["personalizations"]:
            n = int(re.sub(r"\D", "", personalization["to"][0]["email"].split("@")[0]))
            values = " ".join(personalization["substitutions"].values())
            assert f"#{9000 + n}" in values or flow_key == REPLENISHMENT
            assert set(personalization["custom_args"]) == {"kizuna_message_id", "kizuna_shop_id"}
    if flow_key == REPLENISHMENT:
        assert {body["subject"] for body in bodies} == {
            "宇治抹茶 30gのお買い替え時期が近づいています",
            "Running low on 宇治抹茶 30g?",
        }


def _normalized(text: str | None, domain: str) -> str:
    text = (text or "").replace(domain, "SHOP")
    return re.sub(r"/unsubscribe/[^\s\"<>]+", "/unsubscribe/TOKEN", text)


@pytest.mark.parametrize("flow_key", FLOWS)
def test_set_wise_sends_the_same_emails_as_messages_sent_alone(
    db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid, flow_key: str
) -> None:
    alone_domain = f"alone-{flow_key.replace('_', '-')}.myshopify.com"
    batched_domain = f"batched-{flow_key.replace('_', '-')}.myshopify.com"
    alone = due_runs(db, with_history(db, alone_domain), flow_key, 4)
    batched = due_runs(db, with_history(db, batched_domain), flow_key, 4)

    for run in alone:
        assert run_flow_step(run.id, 1) == "created"
    drain_jobs(EMAIL)
    sent_alone = {m.to_email: m for m in sendgrid.outbox}
    sendgrid.clear_outbox()
    requests_before = len(sendgrid.requests_to("/v3/mail/send"))

    outcomes = dispatch_due_steps(batched[0].shop_id, flow_key, 1)
    drain_jobs(EMAIL)
    assert outcomes["sent:sent"] == 4
    assert len(sendgrid.requests_to("/v3/mail/send")) == requests_before + 2  # ja, en
    sent_batched = {m.to_email: m for m in sendgrid.outbox}
    assert sorted(sent_batched) == sorted(sent_alone)
    for address, email in sent_batched.items():
        other = sent_alone[address]
        assert (email.subject, email.categories) == (other.subject, other.categories)
        for part in ("html", "text"):
            assert _normalized(getattr(email, part), batched_domain) == _normalized(
                getattr(other, part), alone_domain
            ), (address, part)
        assert "-pp_" not in (email.html or "") + (email.text or "")
    ja = sent_batched[f"{flow_key}0@example.jp"]
    assert "花子 様" in (ja.html or "")
    english = sent_batched[f"{flow_key}2@example.jp"]
    assert "Tom &amp; &lt;Jerry&gt;" in (english.html or "")
    assert "Tom & <Jerry>" in (english.text or "")
    if flow_key == THANK_YOU:
        # Cross-sells from the shop's stats; Hanako-like buyers own the bowl and tea already.
        assert "茶筅" in (ja.html or "")  # bought with the bowl
        assert "#9000" in (ja.text or "")
    with runtime.db.session() as session:
        statuses = {m.status for m in session.query(Message)}
    assert statuses == {"sent"}


def test_a_batch_costs_the_same_statements_at_5_and_at_60_thank_yous(
    db: Session, runtime: Any, app: Any, statements: list[str]
) -> None:
    costs = []
    for size in (5, 60):
        shop = with_history(db, f"cost-{size}.myshopify.com")
        due_runs(db, shop, THANK_YOU, size)
        statements.clear()
        with app.app_context(), runtime.db.session() as session:
            batch = dispatch_due(session, runtime.config, shop.id, THANK_YOU, 1, utcnow())
            session.commit()
        assert len(batch.emails) == size
        costs.append(len(statements))
        assert not [s for s in statements if "FROM order_lines" in s and "GROUP BY" in s]
    assert costs[0] == costs[1]
