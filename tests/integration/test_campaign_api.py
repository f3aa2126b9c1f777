"""Campaigns through `/api/v1` with a Shopify session token: the whole life of a campaign
(create, edit, count, schedule at the store's local time, send now, pause, resume, report),
scoped to the store, and hostile input refused with a 4xx and its reason."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.queueing import EMAIL
from connectors.sandbox.sendgrid import SandboxSendGrid
from tests.factories import cart_flow
from tests.factories.campaigns import Person, add_people, campaign_shop, content, vip_segment
from tests.factories.tenants import session_token

config = cart_flow.config
sendgrid = cart_flow.sendgrid

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

TEA, OTHER = "tea-camp.myshopify.com", "other-camp.myshopify.com"


def _shop(db: Session, runtime: Any, domain: str) -> Any:
    shop = campaign_shop(db, domain)
    shop.locale = "en"  # the API answers in the store's language
    shop.access_token_encrypted = runtime.cipher.encrypt(f"shpat_{shop.id}")
    db.commit()
    return shop


def _headers(domain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token(domain)}"}


def test_a_campaign_through_the_api_from_draft_to_report(
    client: Any, db: Session, runtime: Any, drain_jobs: Any, sendgrid: SandboxSendGrid
) -> None:
    shop = _shop(db, runtime, TEA)
    add_people(db, shop, [Person() for _ in range(4)] + [Person(consent="UNSUBSCRIBED")])
    segment = vip_segment(db, shop)
    headers = _headers(TEA)

    created = client.post(
        "/api/v1/campaigns", json={"name": "Winter sale", "content": content()}, headers=headers
    )
    assert created.status_code == 201, created.get_json()
    campaign = created.get_json()
    assert (campaign["status"], campaign["audience"]) == (
        "draft",
        {"segments": [], "rfm_groups": []},
    )
    url = f"/api/v1/campaigns/{campaign['id']}"
    refused = client.post(f"{url}/schedule", json={}, headers=headers)
    assert refused.status_code == 400  # no audience yet
    assert "segment" in refused.get_json()["message"]

    edited = client.patch(
        url,
        json={"audience": {"segments": [segment.id], "rfm_groups": []}, "holdout_percent": 0},
        headers=headers,
    )
    assert edited.status_code == 200, edited.get_json()
    count = client.get(f"{url}/audience", headers=headers).get_json()
    assert (count["total"], count["no_consent"], count["will_receive"]) == (5, 1, 4)

    later = client.post(f"{url}/schedule", json={"send_at": "2030-01-15T09:00"}, headers=headers)
    assert later.get_json()["scheduled_at"] == "2030-01-15T00:00:00+00:00"  # 09:00 in Tokyo
    assert later.get_json()["status"] == "scheduled"
    now = client.post(f"{url}/schedule", json={"send_at": None}, headers=headers)
    assert now.get_json()["status"] == "sending"
    assert client.post(f"{url}/pause", headers=headers).get_json()["status"] == "paused"
    assert client.patch(url, json={"name": "x"}, headers=headers).status_code == 409
    assert client.post(f"{url}/resume", headers=headers).get_json()["status"] == "sending"
    drain_jobs(EMAIL)
    assert len(sendgrid.outbox) == 4

    report = client.get(f"{url}/report", headers=headers).get_json()
    assert (report["status"], report["sent"], report["recipients"]) == ("sent", 4, 5)
    assert report["skipped"] == {"no_consent": 1}
    assert report["revenue"] == {"amount": "0", "currency": "JPY"}
    assert report["lift"] is None
    listed = client.get("/api/v1/campaigns", headers=headers).get_json()["campaigns"]
    assert [c["id"] for c in listed] == [campaign["id"]]
    assert client.post(f"{url}/cancel", headers=headers).status_code == 409  # already sent


def test_another_stores_campaign_is_not_found(client: Any, db: Session, runtime: Any) -> None:
    _shop(db, runtime, TEA)
    _shop(db, runtime, OTHER)
    created = client.post(
        "/api/v1/campaigns", json={"name": "Ours"}, headers=_headers(TEA)
    ).get_json()
    url = f"/api/v1/campaigns/{created['id']}"
    theirs = _headers(OTHER)
    assert client.get(url, headers=theirs).status_code == 404
    assert client.get(f"{url}/report", headers=theirs).status_code == 404
    assert client.patch(url, json={"name": "Mine"}, headers=theirs).status_code == 404
    assert client.post(f"{url}/cancel", headers=theirs).status_code == 404
    assert client.get("/api/v1/campaigns", headers=theirs).get_json() == {"campaigns": []}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "name"),
        ({"name": "x" * 201}, "200"),
        ({"name": "A", "secret": 1}, "secret"),
        ({"name": "A", "holdout_percent": 90}, "50"),
        ({"name": "A", "smart_sending_hours": -3}, "hours"),
        ({"name": "A", "audience": {"segments": [999999]}}, "segment"),
        ({"name": "A", "audience": {"rfm_groups": ["whales"]}}, "RFM"),
        (
            {
                "name": "A",
                "content": {
                    "en": {
                        "subject": "s",
                        "blocks": [{"type": "button", "label": "x", "url": "javascript:alert(1)"}],
                    }
                },
            },
            "http",
        ),
        (
            {"name": "A", "content": {"en": {"subject": "s", "blocks": [{"type": "iframe"}]}}},
            "block",
        ),
    ],
)
def test_hostile_input_is_refused_with_its_reason(
    client: Any, db: Session, runtime: Any, body: dict[str, Any], reason: str
) -> None:
    _shop(db, runtime, TEA)
    response = client.post("/api/v1/campaigns", json=body, headers=_headers(TEA))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_campaign"
    assert reason in response.get_json()["message"]
