"""All models, imported here so that Alembic and `Base.metadata` see every table."""

from app.models.account import Account, AccountMember
from app.models.campaign import Campaign, CampaignRecipient  # noqa: F401
from app.models.checkout import Checkout
from app.models.customer import Customer, CustomerProduct, TimelineEvent
from app.models.flow import FlowRun, FlowSetting, Message, MessageEvent, Suppression  # noqa: F401
from app.models.inquiry import Inquiry  # noqa: F401
from app.models.opt_in import OptInRequest  # noqa: F401
from app.models.order import Order, OrderLine
from app.models.person import Person  # noqa: F401
from app.models.product import Product, ProductCollection, ProductVariant
from app.models.purchase_stats import ProductPurchaseStats, ShopPurchaseStats  # noqa: F401
from app.models.recommendation_settings import (  # noqa: F401
    ProductGroup,
    ProductSupply,
    RecommendationSettings,
)
from app.models.scores import CustomerScore, RfmSnapshot  # noqa: F401
from app.models.segment import SavedSegment
from app.models.shop import Shop
from app.models.storefront import StockSubscription, StorefrontEvent  # noqa: F401
from app.models.tag_write_back import CustomerPlatformTags, TagWriteBack  # noqa: F401
from app.models.webhook_event import WebhookEvent
from app.models.woocommerce import PendingWooCommerceAuth, WooCommerceShop  # noqa: F401

__all__ = [
    "Account",
    "AccountMember",
    "Checkout",
    "Customer",
    "CustomerProduct",
    "Order",
    "OrderLine",
    "Product",
    "ProductCollection",
    "ProductVariant",
    "SavedSegment",
    "Shop",
    "TimelineEvent",
    "WebhookEvent",
]
