"""Campaign test worlds: a shop with customers in a tagged segment and RFM groups, campaign
content in both languages, and the send run the way the job runs it.

Test builders, no tests: test modules import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.models import Customer, SavedSegment, Shop
from app.models.campaign import Campaign
from app.models.scores import CustomerScore
from tests.factories.shops import build_shop

VIP_RULE = {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}


@dataclass(frozen=True)
class Person:
    """One customer of a campaign world (`consent`: Shopify's marketing state)."""

    first: str | None = "Hanako"
    last: str | None = "Yamada"
    locale: str = "en"
    consent: str | None = "SUBSCRIBED"
    tags: tuple[str, ...] = ("vip",)
    group: str | None = None  # RFM group
    email: str | None = ""  # "" = c<n>@example.jp


def campaign_shop(
    db: Session, domain: str = "camp.myshopify.com", *, platform: str = "shopify", **columns: Any
) -> Shop:
    return build_shop(
        db,
        domain,
        platform=platform,
        name="絆ストア",
        timezone="Asia/Tokyo",
        locale="ja",
        currency="JPY",
        installed_at=datetime(2026, 1, 1, tzinfo=UTC),
        access_token_encrypted=b"ciphertext-access",
        **columns,
    )


def add_people(
    db: Session, shop: Shop, people: list[Person], first_id: int = 5000
) -> list[Customer]:
    made = []
    for n, person in enumerate(people):
        email = person.email if person.email != "" else f"c{first_id + n}@example.jp"
        customer = Customer(
            shop_id=shop.id,
            external_id=str(first_id + n),
            email=email,
            email_normalized=(email or "").strip().lower() or None,
            first_name=person.first,
            last_name=person.last,
            locale=person.locale,
            email_marketing_state=person.consent,
            tags=list(person.tags),
        )
        db.add(customer)
        made.append(customer)
    db.flush()
    for customer, person in zip(made, people, strict=True):
        if person.group:
            db.add(
                CustomerScore(
                    shop_id=shop.id,
                    customer_id=customer.id,
                    as_of=date(2026, 12, 1),
                    r=3,
                    f=3,
                    m=3,
                    fm=3,
                    rfm_group=person.group,
                    recency_days=30,
                    orders=2,
                    monetary=Decimal(5000),
                    probability_alive=0.8,
                    expected_orders_365=1.5,
                    predicted_clv=Decimal(8000),
                    currency="JPY",
                    confidence="medium",
                )
            )
    db.commit()
    return made


def vip_segment(db: Session, shop: Shop, name: str = "VIP") -> SavedSegment:
    segment = SavedSegment(shop_id=shop.id, name=name, rule=VIP_RULE)
    db.add(segment)
    db.commit()
    return segment


def blocks(lang: str, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    heading = "冬のセール" if lang == "ja" else "Winter sale"
    text = (
        "今週末だけの特別価格です。\n\nお見逃しなく。"
        if lang == "ja"
        else "Special prices.\n\nDon't miss it."
    )
    return [
        {"type": "heading", "text": heading},
        {"type": "text", "text": text},
        {
            "type": "button",
            "label": "Shop" if lang == "en" else "見る",
            "url": "https://camp.example/sale",
        },
        *extra,
    ]


def content(
    *, coupon: dict[str, Any] | None = None, extra: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    return {
        "coupon": coupon,
        "en": {
            "subject": "Winter sale",
            "preheader": "This weekend only",
            "blocks": blocks("en", *extra),
        },
        "ja": {
            "subject": "冬のセールのお知らせ",
            "preheader": "今週末だけ",
            "blocks": blocks("ja", *extra),
        },
    }


def draft(
    db: Session,
    shop: Shop,
    audience: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    holdout_percent: int = 0,
    smart_sending_hours: int | None = None,
) -> Campaign:
    campaign = Campaign(
        shop_id=shop.id,
        name="Winter sale",
        status="draft",
        audience=audience,
        content=body or content(),
        holdout_percent=holdout_percent,
        smart_sending_hours=smart_sending_hours,
    )
    db.add(campaign)
    db.commit()
    return campaign
