"""Deterministic generation of a believable store: catalogue, customers, orders, checkouts.

Layer: connectors/sandbox (pure: the same seed, domain and `now` give the same store). Emails use
reserved example domains only, so no real inbox is reached.
"""

from __future__ import annotations

import math
import random
import zlib
from bisect import bisect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import ClassVar
from zoneinfo import ZoneInfo

from connectors.sandbox.shopify.records import (
    ZERO_DECIMAL_CURRENCIES,
    Address,
    Checkout,
    Collection,
    Customer,
    LineItem,
    Order,
    Product,
    ShopInfo,
    Variant,
    quantize,
    whole_seconds,
)

# Custom collections besides one per product type: (title, handle, is a member?). Membership
# follows from the catalogue alone (no random draw), so adding collections changed no other data.
EXTRA_COLLECTIONS: tuple[tuple[str, str, str], ...] = (
    ("Tea Ceremony", "tea-ceremony", "ceremony"),
    ("Gift Ideas", "gift-ideas", "gift"),
)
CEREMONY_WORDS = ("Matcha", "Kyusu", "Yunomi", "Gyokuro")
GIFT_MIN_JPY = 4000

# JPY prices convert at these rates; unknown currencies use the USD rate.
JPY_RATES = {
    "JPY": Decimal(1),
    "USD": Decimal("0.0067"),
    "EUR": Decimal("0.0062"),
    "GBP": Decimal("0.0053"),
    "AUD": Decimal("0.0102"),
    "CAD": Decimal("0.0092"),
    "SGD": Decimal("0.0090"),
    "KRW": Decimal("9.2"),
}

# (title, product type, vendor, base price in JPY, grams, variant option titles, price factors)
CATALOGUE: tuple[tuple[str, str, str, int, int, tuple[str, ...], tuple[float, ...]], ...] = (
    (
        "Uji Ceremonial Matcha",
        "Green Tea",
        "Uji Chaen",
        3200,
        40,
        ("20g", "40g", "100g"),
        (1, 1.9, 4.2),
    ),
    ("Shizuoka Sencha", "Green Tea", "Uji Chaen", 1400, 120, ("100g", "200g"), (1, 1.85)),
    ("Gyokuro Premium", "Green Tea", "Uji Chaen", 3800, 70, ("50g", "100g"), (1, 1.9)),
    ("Roasted Hojicha", "Green Tea", "Kizuna Tea Co.", 1100, 120, ("100g", "200g"), (1, 1.8)),
    ("Genmaicha with Matcha", "Green Tea", "Kizuna Tea Co.", 980, 220, ("Default Title",), (1,)),
    (
        "Kabusecha Tea Bags",
        "Green Tea",
        "Kizuna Tea Co.",
        1200,
        80,
        ("20 bags", "50 bags"),
        (1, 2.2),
    ),
    (
        "Mino-yaki Yunomi Cup",
        "Ceramics",
        "Mino Kiln",
        2800,
        260,
        ("Indigo", "Celadon", "Ash White"),
        (1, 1, 1),
    ),
    (
        "Arita Porcelain Plate 21cm",
        "Ceramics",
        "Arita Studio",
        4800,
        480,
        ("White", "Blue Pattern"),
        (1, 1.2),
    ),
    (
        "Tokoname Kyusu Teapot",
        "Ceramics",
        "Tokoname Works",
        9800,
        520,
        ("250ml", "360ml"),
        (1, 1.25),
    ),
    ("Hagi-yaki Matcha Bowl", "Ceramics", "Mino Kiln", 12000, 600, ("Default Title",), (1,)),
    ("Chopstick Rest Set", "Ceramics", "Arita Studio", 1800, 150, ("Default Title",), (1,)),
    ("Rice Bran Face Wash", "Skincare", "Komenuka Beauty", 1800, 130, ("100g", "200g"), (1, 1.7)),
    (
        "Yuzu Hydrating Lotion",
        "Skincare",
        "Komenuka Beauty",
        3600,
        200,
        ("150ml", "300ml"),
        (1, 1.8),
    ),
    ("Camellia Hair Oil", "Skincare", "Komenuka Beauty", 2900, 90, ("Default Title",), (1,)),
    (
        "Sake Lees Sheet Mask (5 pack)",
        "Skincare",
        "Komenuka Beauty",
        1500,
        110,
        ("Default Title",),
        (1,),
    ),
    ("Hinoki Bath Salts", "Skincare", "Komenuka Beauty", 2200, 420, ("Default Title",), (1,)),
    (
        "Indigo-dyed T-shirt",
        "Apparel",
        "Aizome Works",
        5800,
        220,
        ("S", "M", "L", "XL"),
        (1, 1, 1, 1.1),
    ),
    (
        "Tenugui Hand Towel",
        "Apparel",
        "Aizome Works",
        1500,
        60,
        ("Wave", "Plum", "Dragonfly"),
        (1, 1, 1),
    ),
    ("Linen Noren Curtain", "Apparel", "Aizome Works", 8800, 450, ("Default Title",), (1,)),
    ("Sashiko Tote Bag", "Apparel", "Aizome Works", 4200, 300, ("Navy", "Natural"), (1, 1)),
    ("Tabi Socks", "Apparel", "Aizome Works", 1200, 70, ("22-24cm", "25-27cm"), (1, 1)),
    (
        "Matcha Langue de Chat",
        "Snacks",
        "Kizuna Pantry",
        1600,
        180,
        ("12 pieces", "24 pieces"),
        (1, 1.9),
    ),
    ("Kyoto Yatsuhashi", "Snacks", "Kizuna Pantry", 1080, 200, ("Default Title",), (1,)),
    ("Soy Sauce Senbei", "Snacks", "Kizuna Pantry", 780, 160, ("Default Title",), (1,)),
    ("Yokan Red Bean Jelly", "Snacks", "Kizuna Pantry", 1900, 300, ("Default Title",), (1,)),
    ("Kuromitsu Warabi Mochi", "Snacks", "Kizuna Pantry", 1350, 250, ("Default Title",), (1,)),
)


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """("佐藤", "Sato") pairs from "佐藤:Sato 鈴木:Suzuki ..."."""
    return tuple((kanji, romaji) for kanji, _, romaji in (w.partition(":") for w in text.split()))


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# (kanji, romaji)
JP_FAMILY = _pairs(
    "佐藤:Sato 鈴木:Suzuki 高橋:Takahashi 田中:Tanaka 伊藤:Ito 渡辺:Watanabe "
    "山本:Yamamoto 中村:Nakamura 小林:Kobayashi 加藤:Kato 吉田:Yoshida 山田:Yamada "
    "佐々木:Sasaki 山口:Yamaguchi 松本:Matsumoto 井上:Inoue 木村:Kimura 林:Hayashi "
    "清水:Shimizu 山崎:Yamazaki 森:Mori 池田:Ikeda 橋本:Hashimoto 阿部:Abe "
    "石川:Ishikawa 前田:Maeda 藤田:Fujita 小川:Ogawa 岡田:Okada 後藤:Goto"
)
JP_GIVEN = _pairs(
    "陽翔:Haruto 蓮:Ren 湊:Minato 大翔:Hiroto 悠真:Yuma 翔太:Shota 健太:Kenta "
    "拓也:Takuya 大輔:Daisuke 誠:Makoto 浩二:Koji 隆:Takashi 結衣:Yui 陽葵:Himari "
    "葵:Aoi 美咲:Misaki さくら:Sakura 花子:Hanako 愛:Ai 恵子:Keiko 由美:Yumi "
    "真由美:Mayumi 彩:Aya 千尋:Chihiro 優子:Yuko 奈々:Nana 芽依:Mei 直樹:Naoki "
    "美穂:Miho 和也:Kazuya"
)
EN_GIVEN = _words(
    "Emma Olivia Ava Sophia Mia Charlotte Amelia Grace Chloe Lily James Liam Noah Oliver "
    "William Lucas Henry Jack Daniel Samuel Ethan Thomas Hannah Sarah Emily Isabella "
    "Benjamin Leo Ruby Zoe"
)
EN_FAMILY = _words(
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Anderson Thomas Moore "
    "Martin Clark Lewis Walker Hall Young King Wright Scott Green Baker Adams Campbell "
    "Evans Murphy Reed Brooks"
)
# Reserved for documentation (RFC 2606 and JPRS), so a misrouted email never reaches anyone.
JP_MAIL_DOMAINS = ("example.jp", "example.co.jp", "example.ne.jp", "example.com")
EN_MAIL_DOMAINS = ("example.com", "example.net", "example.org")

# (city, province, province code, zip prefix)
JP_PLACES: tuple[tuple[str, str, str, str], ...] = (
    ("渋谷区", "Tokyo", "JP-13", "150"),
    ("世田谷区", "Tokyo", "JP-13", "154"),
    ("新宿区", "Tokyo", "JP-13", "160"),
    ("横浜市", "Kanagawa", "JP-14", "220"),
    ("大阪市", "Osaka", "JP-27", "530"),
    ("京都市", "Kyoto", "JP-26", "604"),
    ("名古屋市", "Aichi", "JP-23", "460"),
    ("札幌市", "Hokkaido", "JP-01", "060"),
    ("福岡市", "Fukuoka", "JP-40", "810"),
    ("神戸市", "Hyogo", "JP-28", "650"),
    ("仙台市", "Miyagi", "JP-04", "980"),
    ("広島市", "Hiroshima", "JP-34", "730"),
)
# (city, province, province code, country, country code, zip)
EN_PLACES: tuple[tuple[str, str | None, str | None, str, str, str], ...] = (
    ("New York", "New York", "NY", "United States", "US", "10001"),
    ("San Francisco", "California", "CA", "United States", "US", "94103"),
    ("Seattle", "Washington", "WA", "United States", "US", "98101"),
    ("Austin", "Texas", "TX", "United States", "US", "78701"),
    ("London", None, None, "United Kingdom", "GB", "EC1A 1BB"),
    ("Manchester", None, None, "United Kingdom", "GB", "M1 1AE"),
    ("Sydney", "New South Wales", "NSW", "Australia", "AU", "2000"),
    ("Melbourne", "Victoria", "VIC", "Australia", "AU", "3000"),
    ("Toronto", "Ontario", "ON", "Canada", "CA", "M5H 2N2"),
    ("Vancouver", "British Columbia", "BC", "Canada", "CA", "V6B 1A1"),
    ("Singapore", None, None, "Singapore", "SG", "018956"),
)

# Relative order volume by month: the year-end gift season and a summer (ochugen) bump.
MONTH_WEIGHT = (0.8, 0.75, 0.9, 0.9, 0.95, 1.0, 1.25, 1.3, 0.9, 1.0, 1.7, 2.0)
# Relative order volume by local hour: evenings after work, a smaller lunch peak.
# fmt: off
HOUR_WEIGHT = (
    0.4, 0.25, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.8, 0.9, 1.0, 1.1,
    1.3, 1.1, 1.0, 1.0, 1.1, 1.3, 1.6, 1.9, 2.2, 2.3, 1.9, 1.0,
)
# fmt: on
HOUR_CUMULATIVE = tuple(accumulate(HOUR_WEIGHT))

# (state, opt-in level, weight) of the email marketing consent a customer starts with
CONSENT_MIX = (
    ("SUBSCRIBED", "SINGLE_OPT_IN", 26),
    ("SUBSCRIBED", "CONFIRMED_OPT_IN", 16),
    ("SUBSCRIBED", "UNKNOWN", 3),
    ("NOT_SUBSCRIBED", "SINGLE_OPT_IN", 20),
    ("NOT_SUBSCRIBED", None, 15),
    ("UNSUBSCRIBED", "SINGLE_OPT_IN", 8),
    ("UNSUBSCRIBED", "CONFIRMED_OPT_IN", 4),
    ("PENDING", "CONFIRMED_OPT_IN", 8),
)
CONSENT_CUMULATIVE = tuple(accumulate(weight for _, _, weight in CONSENT_MIX))

WELCOME_CODE = "WELCOME10"
TAX_RATE_JP = Decimal("0.10")


def demo_birth_date(customer_id: int) -> date | None:
    """A birthday for one customer in four (the `facts.birth_date` metafield), spread over the
    year; derived from the id, so no random draw of the generated store changes."""
    if customer_id % 4:
        return None
    number = customer_id // 4
    return date(1960 + number % 45, 1 + number % 12, 1 + (number // 12) % 28)


@dataclass
class IdSequence:
    """Shopify-like numeric ids: large, increasing with creation, one sequence per kind."""

    next_values: dict[str, int] = field(default_factory=dict)

    BASES: ClassVar[dict[str, int]] = {
        "shop": 60_000_000_000,
        "customer": 7_400_000_000_000,
        "address": 9_100_000_000_000,
        "product": 8_100_000_000_000,
        "variant": 45_100_000_000_000,
        "image": 31_000_000_000_000,
        "order": 5_900_000_000_000,
        "line": 14_800_000_000_000,
        "checkout": 33_000_000_000_000,
        "collection": 480_000_000_000,
        "webhook": 1_400_000_000_000,
    }
    STEP: ClassVar[int] = 37

    def next(self, kind: str) -> int:
        value = self.next_values.get(kind, self.BASES[kind])
        self.next_values[kind] = value + self.STEP
        return value


@dataclass
class GeneratedStore:
    shop: ShopInfo
    customers: list[Customer]
    products: list[Product]
    orders: list[Order]
    checkouts: list[Checkout]
    ids: IdSequence
    next_order_number: int


@dataclass
class _OrderPlan:
    moment: datetime
    customer: Customer | None
    email: str | None
    first: bool
    lines: list[LineItem] | None = None
    checkout_token: str | None = None
    favourite: str | None = None  # the product type this buyer tends to come back for
    address: Address | None = None  # guests only; customers ship to their default address


class Generator:
    """Builds one store; also makes single new records for the live store (same conventions)."""

    def __init__(
        self,
        domain: str,
        *,
        seed: int,
        currency: str,
        timezone: str,
        image_base: str | None = None,
    ) -> None:
        self.rng = random.Random(f"{seed}/{domain}")
        self.domain = domain
        # Where product pictures live: the sandbox's own server (the demo), else Shopify's CDN.
        self.image_base = image_base
        self.currency = currency
        self.zone = ZoneInfo(timezone)
        self.japanese_share = 0.75 if currency == "JPY" or timezone == "Asia/Tokyo" else 0.2
        self.ids = IdSequence()
        self.products: list[Product] = []
        self._product_cumulative: list[float] = []
        self._by_type: dict[str, list[Product]] = {}
        self._used_emails: set[str] = set()

    # ---- primitives ------------------------------------------------------------------------

    def token(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def price(self, jpy: float) -> Decimal:
        rate = JPY_RATES.get(self.currency, JPY_RATES["USD"])
        amount = Decimal(str(jpy)) * rate
        if self.currency in ZERO_DECIMAL_CURRENCIES:
            return quantize(amount / 10, self.currency) * 10  # shelf prices end in 0
        return quantize(amount, "JPY") - Decimal("0.01") if amount >= 1 else quantize(amount, "USD")

    def local_moment(self, day: datetime) -> datetime:
        """A time on `day` (shop's local calendar) at a believable shopping hour, in UTC."""
        hour = bisect(HOUR_CUMULATIVE, self.rng.random() * HOUR_CUMULATIVE[-1])
        local = datetime(
            day.year,
            day.month,
            day.day,
            min(hour, 23),
            self.rng.randrange(60),
            self.rng.randrange(60),
            tzinfo=self.zone,
        )
        return local.astimezone(UTC)

    def seasonal_moment(self, start: datetime, end: datetime) -> datetime:
        """A moment in [start, end) drawn with the month weights (rejection sampling)."""
        start = min(start, end - timedelta(hours=1))
        span = (end - start).total_seconds()
        top = max(MONTH_WEIGHT)
        for _ in range(20):
            candidate = start + timedelta(seconds=self.rng.random() * span)
            if self.rng.random() * top <= MONTH_WEIGHT[candidate.month - 1]:
                break
        moment = self.local_moment(candidate.astimezone(self.zone))
        if not start <= moment < end:
            moment = candidate
        return whole_seconds(moment)

    # ---- people ----------------------------------------------------------------------------

    def _email(self, local_part: str, japanese: bool) -> str:
        domains = JP_MAIL_DOMAINS if japanese else EN_MAIL_DOMAINS
        base = local_part.lower().replace(" ", "")
        domain = self.rng.choice(domains)
        candidate = f"{base}@{domain}"
        number = 1
        while candidate in self._used_emails:
            number += self.rng.randrange(1, 90)
            candidate = f"{base}{number}@{domain}"
        self._used_emails.add(candidate)
        return candidate

    def person(self) -> tuple[str, str, str, str, bool]:
        """(first name, last name, email, locale, japanese) for a new buyer."""
        rng = self.rng
        if rng.random() < self.japanese_share:
            family_kanji, family = rng.choice(JP_FAMILY)
            given_kanji, given = rng.choice(JP_GIVEN)
            pattern = rng.randrange(4)
            local = (
                f"{given}.{family}",
                f"{given[0]}{family}{rng.randrange(70, 100)}",
                f"{family}_{given}",
                f"{given}{rng.randrange(1, 999)}",
            )[pattern]
            email = self._email(local, japanese=True)
            if rng.random() < 0.12:  # typed in romaji at checkout
                return given, family, email, "ja", True
            return given_kanji, family_kanji, email, ("ja" if rng.random() < 0.97 else "en"), True
        given = rng.choice(EN_GIVEN)
        family = rng.choice(EN_FAMILY)
        pattern = rng.randrange(3)
        local = (f"{given}.{family}", f"{given[0]}{family}", f"{given}{rng.randrange(1, 99)}")[
            pattern
        ]
        return given, family, self._email(local, japanese=False), "en", False

    def address(self, first: str, last: str, japanese: bool) -> Address:
        rng = self.rng
        if japanese or rng.random() < 0.15:
            city, province, code, zip_prefix = rng.choice(JP_PLACES)
            return Address(
                id=self.ids.next("address"),
                first_name=first,
                last_name=last,
                address1=f"{rng.randrange(1, 9)}-{rng.randrange(1, 30)}-{rng.randrange(1, 20)}",
                city=city,
                province=province,
                province_code=code,
                country="Japan",
                country_code="JP",
                zip=f"{zip_prefix}-{rng.randrange(10000):04d}",
                phone=None,
            )
        town, region, region_code, country, country_code, postcode = rng.choice(EN_PLACES)
        return Address(
            id=self.ids.next("address"),
            first_name=first,
            last_name=last,
            address1=f"{rng.randrange(1, 999)} {rng.choice(('Maple', 'Oak', 'Pine', 'Hill'))} St",
            city=town,
            province=region,
            province_code=region_code,
            country=country,
            country_code=country_code,
            zip=postcode,
        )

    def phone(self, japanese: bool) -> str:
        if japanese:
            return f"+8190{self.rng.randrange(10**8):08d}"
        return f"+1555{self.rng.randrange(10**7):07d}"

    def consent(self) -> tuple[str, str | None]:
        index = bisect(CONSENT_CUMULATIVE, self.rng.random() * CONSENT_CUMULATIVE[-1])
        state, level, _ = CONSENT_MIX[min(index, len(CONSENT_MIX) - 1)]
        return state, level

    def customer(self, created_at: datetime, **overrides: object) -> Customer:
        first, last, email, locale, japanese = self.person()
        state, level = self.consent()
        rng = self.rng
        customer = Customer(
            id=self.ids.next("customer"),
            first_name=first,
            last_name=last,
            email=email if rng.random() > 0.02 else None,
            phone=self.phone(japanese) if rng.random() < 0.35 else None,
            locale=locale,
            created_at=created_at,
            updated_at=created_at,
            marketing_state=state,
            marketing_opt_in_level=level,
            marketing_updated_at=created_at if state != "NOT_SUBSCRIBED" else None,
            address=self.address(first, last, japanese) if rng.random() < 0.9 else None,
            tags=[rng.choice(("VIP", "wholesale", "gift", "newsletter"))]
            if rng.random() < 0.1
            else [],
            state=rng.choices(("DISABLED", "ENABLED", "INVITED"), (70, 25, 5))[0],
        )
        customer.birth_date = demo_birth_date(customer.id)
        for name, value in overrides.items():
            setattr(customer, name, value)
        return customer

    # ---- catalogue -------------------------------------------------------------------------

    def catalogue(self, created_at: datetime, now: datetime) -> list[Product]:
        rng = self.rng
        products: list[Product] = []
        for title, product_type, vendor, base, grams, options, factors in CATALOGUE:
            product_id = self.ids.next("product")
            handle = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")
            while "--" in handle:
                handle = handle.replace("--", "-")
            made = whole_seconds(created_at + timedelta(hours=rng.randrange(0, 24 * 60)))
            product = Product(
                id=product_id,
                title=title,
                handle=handle,
                product_type=product_type,
                vendor=vendor,
                status="ACTIVE",
                description=f"{title} by {vendor}.",
                tags=[product_type.lower().replace(" ", "-")],
                created_at=made,
                updated_at=whole_seconds(made + (now - made) * rng.random()),
                image_id=self.ids.next("image"),
                image_url=(
                    f"{self.image_base}/{handle}.png"
                    if self.image_base
                    else f"https://cdn.shopify.com/s/files/1/{self.ids.BASES['shop'] % 10**4:04d}"
                    f"/{product_id % 10**4:04d}/files/{handle}.jpg"
                ),
            )
            for position, (option, factor) in enumerate(zip(options, factors, strict=True), 1):
                sku_suffix = "".join(ch for ch in option.upper() if ch.isalnum())[:6] or "STD"
                product.variants.append(
                    Variant(
                        id=self.ids.next("variant"),
                        product_id=product_id,
                        title=option,
                        sku=f"{handle[:10].upper().rstrip('-')}-{sku_suffix}",
                        price=self.price(base * factor),
                        grams=int(grams * factor),
                        position=position,
                        inventory_quantity=rng.randrange(0, 240),
                        created_at=made,
                        updated_at=product.updated_at,
                    )
                )
            products.append(product)
        # A couple of items are no longer sold; orders placed before still reference them.
        products[-1].status = "ARCHIVED"
        products[9].status = "DRAFT"
        self.assign_collections(products, created_at)
        self.set_catalogue(products)
        return products

    def assign_collections(self, products: list[Product], created_at: datetime) -> None:
        """One collection per product type, plus "Tea Ceremony" and "Gift Ideas"; archived
        products are in none. Deterministic from the catalogue (no random draw)."""
        base_prices = {row[0]: row[3] for row in CATALOGUE}
        made = whole_seconds(created_at)
        by_key: dict[str, Collection] = {}

        def collection(key: str, title: str, handle: str) -> Collection:
            if key not in by_key:
                by_key[key] = Collection(self.ids.next("collection"), title, handle, made, made)
            return by_key[key]

        for product in products:
            if product.status == "ARCHIVED":
                continue
            kind = product.product_type
            product.collections.append(
                collection(f"type:{kind}", kind, kind.lower().replace(" ", "-"))
            )
            for title, handle, rule in EXTRA_COLLECTIONS:
                member = (
                    any(word in product.title for word in CEREMONY_WORDS)
                    if rule == "ceremony"
                    else base_prices.get(product.title, 0) >= GIFT_MIN_JPY
                )
                if member:
                    product.collections.append(collection(rule, title, handle))

    def set_catalogue(self, products: list[Product]) -> None:
        order = list(range(len(products)))
        self.rng.shuffle(order)
        weights = [0.0] * len(products)
        for rank, index in enumerate(order):
            weights[index] = 1 / (rank + 1) ** 0.8 if products[index].status == "ACTIVE" else 0.02
        self.products = products
        self._product_cumulative = list(accumulate(weights))
        self._by_type = {}
        for product in products:
            if product.status == "ACTIVE":
                self._by_type.setdefault(product.product_type, []).append(product)

    def favourite_type(self) -> str:
        return self.rng.choice(sorted(self._by_type))

    def lines(self, favourite: str | None = None) -> list[LineItem]:
        rng = self.rng
        count = rng.choices((1, 2, 3, 4), (55, 28, 12, 5))[0]
        lines: list[LineItem] = []
        seen: set[int] = set()
        for _ in range(count):
            if favourite and rng.random() < 0.6:
                product = rng.choice(self._by_type[favourite])
            else:
                pick = rng.random() * self._product_cumulative[-1]
                product = self.products[bisect(self._product_cumulative, pick)]
            variant = rng.choice(product.variants)
            if variant.id in seen:
                continue
            seen.add(variant.id)
            lines.append(
                LineItem(
                    id=self.ids.next("line"),
                    product_id=product.id,
                    variant_id=variant.id,
                    title=product.title,
                    variant_title=variant.title,
                    sku=variant.sku,
                    vendor=product.vendor,
                    quantity=rng.choices((1, 2, 3), (80, 15, 5))[0],
                    price=variant.price,
                    grams=variant.grams,
                    image_url=product.image_url,
                )
            )
        return lines

    def copy_line(self, line: LineItem) -> LineItem:
        """The same item, quantity and price under a new line id (checkout → order)."""
        return LineItem(
            id=self.ids.next("line"),
            product_id=line.product_id,
            variant_id=line.variant_id,
            title=line.title,
            variant_title=line.variant_title,
            sku=line.sku,
            vendor=line.vendor,
            quantity=line.quantity,
            price=line.price,
            grams=line.grams,
            image_url=line.image_url,
        )

    # ---- orders and checkouts --------------------------------------------------------------

    def shipping_for(self, subtotal: Decimal) -> Decimal:
        if self.currency in ZERO_DECIMAL_CURRENCIES:
            return Decimal(0) if subtotal >= self.price(5000) else self.price(600)
        return Decimal(0) if subtotal >= self.price(7500) else self.price(800)

    def order(
        self,
        number: int,
        moment: datetime,
        customer: Customer | None,
        *,
        now: datetime,
        email: str | None = None,
        lines: list[LineItem] | None = None,
        first: bool = False,
        paid: bool = True,
        checkout_token: str | None = None,
        address: Address | None = None,
    ) -> Order:
        rng = self.rng
        items = lines or self.lines()
        subtotal = sum((line.line_total for line in items), Decimal(0))
        discount = Decimal(0)
        code = None
        if (first and rng.random() < 0.25) or rng.random() < 0.03:
            code = WELCOME_CODE
            discount = quantize(subtotal * Decimal("0.10"), self.currency)
        age = now - moment
        financial = "paid" if paid else "pending"
        cancelled_at = None
        cancel_reason = None
        roll = rng.random()
        if paid and age > timedelta(days=3) and roll < 0.02:
            financial = "refunded"
            cancelled_at = whole_seconds(moment + timedelta(hours=rng.randrange(2, 48)))
            cancel_reason = "customer"
        elif paid and age > timedelta(days=3) and roll < 0.03:
            financial = "partially_refunded"
        fulfilled = financial in ("paid", "partially_refunded") and age > timedelta(days=3)
        updated = moment + timedelta(minutes=rng.randrange(1, 20))
        if fulfilled:
            updated = moment + timedelta(hours=rng.randrange(20, 96))
        if cancelled_at:
            updated = cancelled_at
        if customer is not None:
            address = customer.address
            email = customer.email
            locale = customer.locale
        else:
            address = address or self.guest()[3]
            locale = "ja" if address.country_code == "JP" else "en"
        shipping = self.shipping_for(subtotal - discount)
        from_web = checkout_token is not None or rng.random() < 0.95
        return Order(
            id=self.ids.next("order"),
            number=number,
            token=self.token(),
            customer_id=customer.id if customer else None,
            email=email,
            locale=locale,
            created_at=moment,
            processed_at=moment,
            updated_at=whole_seconds(min(updated, now)),
            lines=items,
            shipping=shipping,
            discount=discount,
            discount_code=code,
            taxes_included=self.currency in ZERO_DECIMAL_CURRENCIES,
            tax_rate=TAX_RATE_JP if self.currency == "JPY" else Decimal(0),
            financial_status=financial,
            fulfillment_status="fulfilled" if fulfilled else None,
            checkout_token=(checkout_token or self.token()) if from_web else None,
            cart_token=self.token() if from_web else None,
            source_name="web" if from_web else "shopify_draft_order",
            billing_address=address,
            shipping_address=address,
            buyer_accepts_marketing=bool(customer and customer.marketing_state == "SUBSCRIBED"),
            cancelled_at=cancelled_at,
            cancel_reason=cancel_reason,
        )

    def checkout(self, moment: datetime, customer: Customer | None) -> Checkout:
        """A checkout where the buyer got as far as contact details (else Shopify keeps none)."""
        if customer is not None:
            email, address, locale = customer.email, customer.address, customer.locale
        else:
            _, _, email, address = self.guest()
            locale = "ja" if address.country_code == "JP" else "en"
        return Checkout(
            id=self.ids.next("checkout"),
            token=self.token(),
            cart_token=self.token(),
            recovery_key=self.token(),
            customer_id=customer.id if customer else None,
            email=email,
            locale=locale,
            created_at=moment,
            updated_at=whole_seconds(moment + timedelta(minutes=self.rng.randrange(1, 15))),
            lines=self.lines(),
            billing_address=address,
        )

    def guest(self) -> tuple[str, str, str, Address]:
        """(first name, last name, email, address) of a buyer without a customer record."""
        first, last, email, _, japanese = self.person()
        return first, last, email, self.address(first, last, japanese)

    # ---- the whole store -------------------------------------------------------------------

    def orders_for(self, tenure: float, years: int) -> int:
        """How many orders a customer places: 15% none, 40% once, a Pareto tail of regulars."""
        roll = self.rng.random()
        if roll < 0.15:
            return 0
        if roll < 0.55:
            return 1
        extra = min(40, int((self.rng.paretovariate(1.5) - 1) * 5.0) + 1) * max(years, 1) / 2
        return 1 + max(1, round(extra * math.sqrt(tenure)))


def generate_store(
    domain: str,
    *,
    seed: int,
    customers: int,
    years: int,
    currency: str,
    timezone: str,
    name: str,
    abandoned_checkouts: int | None,
    now: datetime,
    image_base: str | None = None,
) -> tuple[GeneratedStore, Generator]:
    """The full history of a store as of `now`, and the generator to continue it with;
    product pictures under `image_base` when given."""
    gen = Generator(domain, seed=seed, currency=currency, timezone=timezone, image_base=image_base)
    rng = gen.rng
    now = whole_seconds(now)
    years = max(years, 1)
    start = now - timedelta(days=365 * years)

    owner_first, owner_last, _, _, japanese = gen.person()
    shop = ShopInfo(
        id=gen.ids.BASES["shop"] + zlib.crc32(domain.encode()) % 10**9,
        domain=domain,
        name=name,
        email=f"owner@{domain.split('.', 1)[0]}.example.com",
        currency=currency,
        timezone=timezone,
        created_at=whole_seconds(start - timedelta(days=45)),
        plan="Basic",
        owner_name=f"{owner_last} {owner_first}" if japanese else f"{owner_first} {owner_last}",
        address=gen.address(owner_first, owner_last, japanese),
    )
    products = gen.catalogue(start - timedelta(days=40), now)

    span = (now - start).total_seconds()
    created_times = sorted(
        start + timedelta(seconds=span * rng.random() ** 0.85) for _ in range(customers)
    )
    people: list[Customer] = []
    plans: list[_OrderPlan] = []
    for created in created_times:
        created_at = gen.local_moment(created.astimezone(gen.zone))
        created_at = whole_seconds(min(max(created_at, start), now - timedelta(minutes=5)))
        customer = gen.customer(created_at)
        people.append(customer)
        tenure = (now - created_at).total_seconds() / span
        count = gen.orders_for(tenure, years)
        if not count:
            continue
        first_moment = whole_seconds(
            min(created_at + timedelta(hours=rng.expovariate(1 / 30)), now - timedelta(minutes=1))
        )
        plans.append(_OrderPlan(first_moment, customer, customer.email, first=True))
        favourite = gen.favourite_type()
        for _ in range(count - 1):
            moment = gen.seasonal_moment(first_moment + timedelta(days=2), now)
            plans.append(_OrderPlan(moment, customer, customer.email, False, favourite=favourite))

    for _ in range(int(len(plans) * 0.08)):
        _, _, email, address = gen.guest()
        plans.append(
            _OrderPlan(gen.seasonal_moment(start, now), None, email, True, address=address)
        )

    checkout_count = (
        abandoned_checkouts if abandoned_checkouts is not None else max(3, len(plans) // 8)
    )
    recent_count = max(1, checkout_count * 3 // 10)  # fresh carts for the recovery flows
    checkout_moments = sorted(
        gen.seasonal_moment(now - timedelta(days=14) if index < recent_count else start, now)
        for index in range(checkout_count)
    )
    checkouts: list[Checkout] = []
    for moment in checkout_moments:
        moment = min(moment, now - timedelta(minutes=30))
        known = [c for c in (rng.choice(people) for _ in range(3)) if c.created_at <= moment]
        checkout = gen.checkout(moment, known[0] if known and rng.random() < 0.8 else None)
        checkouts.append(checkout)
        if now - moment > timedelta(hours=2) and rng.random() < 0.15:
            completed = whole_seconds(
                min(moment + timedelta(hours=rng.uniform(1, 72)), now - timedelta(minutes=1))
            )
            checkout.completed_at = completed
            checkout.updated_at = completed
            buyer = known[0] if checkout.customer_id is not None else None
            plans.append(
                _OrderPlan(
                    completed,
                    buyer,
                    checkout.email,
                    first=False,
                    lines=[gen.copy_line(line) for line in checkout.lines],
                    checkout_token=checkout.token,
                    address=checkout.billing_address,
                )
            )

    plans.sort(key=lambda plan: plan.moment)
    orders: list[Order] = []
    by_token = {checkout.token: checkout for checkout in checkouts}
    for number, plan in enumerate(plans, start=1001):
        order = gen.order(
            number,
            plan.moment,
            plan.customer,
            now=now,
            email=plan.email,
            lines=plan.lines or gen.lines(plan.favourite),
            first=plan.first,
            checkout_token=plan.checkout_token,
            address=plan.address,
        )
        orders.append(order)
        if plan.checkout_token:
            by_token[plan.checkout_token].order_id = order.id
        if plan.customer is not None:
            plan.customer.updated_at = max(plan.customer.updated_at, order.updated_at)

    for customer in people:
        if rng.random() < 0.3:  # later profile edits: address change, phone added, note
            customer.updated_at = whole_seconds(
                customer.updated_at + (now - customer.updated_at) * rng.random()
            )
        if customer.marketing_updated_at is not None:
            customer.marketing_updated_at = min(customer.marketing_updated_at, customer.updated_at)

    store = GeneratedStore(
        shop=shop,
        customers=people,
        products=products,
        orders=orders,
        checkouts=checkouts,
        ids=gen.ids,
        next_order_number=1001 + len(orders),
    )
    return store, gen
