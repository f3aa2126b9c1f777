"""Every GraphQL document the Shopify connector sends, in one place.

Layer: connectors. Each is validated against the pinned Admin schema
(tests/unit/test_shopify_graphql_documents.py); page sizes keep a query's cost under Shopify's
1,000-point ceiling; deprecated fields are avoided.
"""

from __future__ import annotations

CUSTOMERS_PAGE_SIZE = 100
ORDERS_PAGE_SIZE = 15
ORDER_LINES_PAGE_SIZE = 10
PRODUCTS_PAGE_SIZE = 25
VARIANTS_PAGE_SIZE = 10
CHECKOUTS_PAGE_SIZE = 10
CHECKOUT_LINES_PAGE_SIZE = 10

SHOP = """
query KizunaShop {
  shop {
    id
    name
    myshopifyDomain
    currencyCode
    ianaTimezone
    email
  }
}
"""

CUSTOMER_FIELDS = """
fragment KizunaCustomer on Customer {
  id
  firstName
  lastName
  locale
  tags
  createdAt
  updatedAt
  defaultEmailAddress {
    emailAddress
    marketingState
    marketingOptInLevel
    marketingUpdatedAt
  }
  defaultPhoneNumber {
    phoneNumber
  }
  defaultAddress {
    city
    countryCodeV2
  }
  birthDate: metafield(namespace: "facts", key: "birth_date") {
    value
  }
}
"""

CUSTOMERS = (
    """
query KizunaCustomers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      ...KizunaCustomer
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
"""
    + CUSTOMER_FIELDS
)

# Every order field we read, for the paged query and the bulk query alike (a field added here
# reaches both); line items are a connection of their own in each.
ORDER_FIELDS = """
id
name
email
createdAt
updatedAt
processedAt
cancelledAt
currencyCode
displayFinancialStatus
displayFulfillmentStatus
checkoutToken
sourceName
totalPriceSet {
  shopMoney {
    amount
    currencyCode
  }
}
subtotalPriceSet {
  shopMoney {
    amount
    currencyCode
  }
}
customer {
  id
}
billingAddress {
  name
}
"""

ORDER_LINE_FIELDS = """
id
title
quantity
sku
originalUnitPriceSet {
  shopMoney {
    amount
    currencyCode
  }
}
product {
  id
}
variant {
  id
}
"""


def _with_fields(document: str, **fields: str) -> str:
    """`document` with each line `__NAME__` replaced by the field list `fields[NAME]`, indented
    like that line."""
    lines: list[str] = []
    for line in document.splitlines():
        marker = line.strip()
        name = marker.strip("_")
        if marker.startswith("__") and marker.endswith("__") and name in fields:
            indent = line[: len(line) - len(line.lstrip())]
            lines.extend(indent + field for field in fields[name].strip("\n").splitlines())
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


ORDERS = _with_fields(
    """
query KizunaOrders($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      __ORDER__
      lineItems(first: $lines) {
        nodes {
          __LINE__
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
""",
    ORDER=ORDER_FIELDS,
    LINE=ORDER_LINE_FIELDS,
)

PRODUCTS = """
query KizunaProducts($first: Int!, $after: String, $query: String, $variants: Int!) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id
      title
      handle
      productType
      vendor
      status
      updatedAt
      featuredMedia {
        preview {
          image {
            url
          }
        }
      }
      variants(first: $variants) {
        nodes {
          id
          title
          sku
          price
        }
      }
      collections(first: 10) {
        nodes {
          id
          title
          handle
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
"""

ABANDONED_CHECKOUTS = """
query KizunaAbandonedCheckouts($first: Int!, $after: String, $query: String, $lines: Int!) {
  abandonedCheckouts(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    nodes {
      id
      abandonedCheckoutUrl
      createdAt
      updatedAt
      completedAt
      totalPriceSet {
        shopMoney {
          amount
          currencyCode
        }
      }
      customer {
        id
        defaultEmailAddress {
          emailAddress
        }
      }
      lineItems(first: $lines) {
        nodes {
          id
          title
          quantity
          sku
          originalUnitPriceSet {
            shopMoney {
              amount
              currencyCode
            }
          }
          product {
            id
          }
          variant {
            id
          }
          image {
            url
          }
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
"""

WEBHOOK_SUBSCRIPTION_CREATE = """
mutation KizunaWebhookSubscriptionCreate(
  $topic: WebhookSubscriptionTopic!
  $webhookSubscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription {
      id
      topic
      uri
    }
    userErrors {
      field
      message
    }
  }
}
"""

WEBHOOK_SUBSCRIPTION_UPDATE = """
mutation KizunaWebhookSubscriptionUpdate(
  $id: ID!
  $webhookSubscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
    webhookSubscription {
      id
      topic
      uri
      metafieldNamespaces
    }
    userErrors {
      field
      message
    }
  }
}
"""

WEBHOOK_SUBSCRIPTIONS = """
query KizunaWebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    nodes {
      id
      topic
      uri
      metafieldNamespaces
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
"""

# ---- sync: totals, bulk operations ------------------------------------------------------------

# One request for every stream's total (`limit: null`: exact past 10,000); the same search filter
# as the sync's window, so "done / total" compares like with like.
SYNC_COUNTS = """
query KizunaSyncCounts(
  $customers: String
  $orders: String
  $products: String
  $checkouts: String
) {
  customersCount(query: $customers, limit: null) {
    count
    precision
  }
  ordersCount(query: $orders, limit: null) {
    count
    precision
  }
  productsCount(query: $products, limit: null) {
    count
    precision
  }
  abandonedCheckoutsCount(query: $checkouts, limit: null) {
    count
    precision
  }
}
"""

BULK_OPERATION_RUN_QUERY = """
mutation KizunaBulkOperationRunQuery($query: String!, $groupObjects: Boolean!) {
  bulkOperationRunQuery(query: $query, groupObjects: $groupObjects) {
    bulkOperation {
      id
      status
    }
    userErrors {
      field
      message
      code
    }
  }
}
"""

BULK_OPERATION = """
query KizunaBulkOperation($id: ID!) {
  bulkOperation(id: $id) {
    id
    status
    errorCode
    objectCount
    rootObjectCount
    url
    partialDataUrl
    completedAt
  }
}
"""

# Bulk query texts (sent as the `query` string of bulkOperationRunQuery, so no variables):
# `__FILTER__` is replaced by an escaped search filter before sending (see `bulk_query`).
# Connections without first/after, as bulk operations require; edges/node as Shopify documents.
BULK_FILTER_MARKER = "__FILTER__"

BULK_CUSTOMERS = """
{
  customers(query: "__FILTER__", sortKey: UPDATED_AT) {
    edges {
      node {
        id
        firstName
        lastName
        locale
        tags
        createdAt
        updatedAt
        defaultEmailAddress {
          emailAddress
          marketingState
          marketingOptInLevel
          marketingUpdatedAt
        }
        defaultPhoneNumber {
          phoneNumber
        }
        defaultAddress {
          city
          countryCodeV2
        }
        birthDate: metafield(namespace: "facts", key: "birth_date") {
          value
        }
      }
    }
  }
}
"""

BULK_ORDERS = _with_fields(
    """
{
  orders(query: "__FILTER__", sortKey: UPDATED_AT) {
    edges {
      node {
        __ORDER__
        lineItems {
          edges {
            node {
              __LINE__
            }
          }
        }
      }
    }
  }
}
""",
    ORDER=ORDER_FIELDS,
    LINE=ORDER_LINE_FIELDS,
)

BULK_PRODUCTS = """
{
  products(query: "__FILTER__", sortKey: UPDATED_AT) {
    edges {
      node {
        id
        title
        handle
        productType
        vendor
        status
        updatedAt
        featuredMedia {
          preview {
            image {
              url
            }
          }
        }
        variants {
          edges {
            node {
              id
              title
              sku
              price
            }
          }
        }
        collections {
          edges {
            node {
              id
              title
              handle
            }
          }
        }
      }
    }
  }
}
"""


def bulk_query(template: str, search: str | None) -> str:
    """A bulk query text with `search` (a Shopify search filter) in place of the marker."""
    escaped = (search or "").replace("\\", "\\\\").replace('"', '\\"')
    return template.replace(BULK_FILTER_MARKER, escaped)


# Discounts and consent write-back (connectors/shopify/discounts.py, consent.py). Mutations cost 10.
DISCOUNT_CODE_BASIC_CREATE = """
mutation KizunaDiscountCodeBasicCreate($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode {
      id
      codeDiscount {
        ... on DiscountCodeBasic {
          title
          endsAt
          usageLimit
          appliesOncePerCustomer
        }
      }
    }
    userErrors {
      field
      code
      message
    }
  }
}
"""

CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE = """
mutation KizunaCustomerEmailMarketingConsentUpdate(
  $input: CustomerEmailMarketingConsentUpdateInput!
) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer {
      id
      defaultEmailAddress {
        marketingState
        marketingOptInLevel
        marketingUpdatedAt
      }
    }
    userErrors {
      field
      code
      message
    }
  }
}
"""


# Customer tags written back from segments (connectors/shopify/tags.py). `tags` takes a list.
TAGS_ADD = """
mutation KizunaTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

TAGS_REMOVE = """
mutation KizunaTagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

# The variants an inventory item belongs to (`inventory_levels/update` names only the item).
INVENTORY_ITEM_VARIANTS = """
query KizunaInventoryItemVariants($id: ID!) {
  inventoryItem(id: $id) {
    id
    variants(first: 10) {
      nodes {
        legacyResourceId
        product { legacyResourceId }
      }
    }
  }
}
"""

# Turns the app's web pixel extension (extensions/kizuna-pixel) on for the shop, with its
# settings as declared in its shopify.extension.toml.
WEB_PIXEL_CREATE = """
mutation KizunaWebPixelCreate($webPixel: WebPixelInput!) {
  webPixelCreate(webPixel: $webPixel) {
    webPixel { id settings }
    userErrors { field message code }
  }
}
"""

ALL_DOCUMENTS: dict[str, str] = {
    "SHOP": SHOP,
    "CUSTOMERS": CUSTOMERS,
    "ORDERS": ORDERS,
    "PRODUCTS": PRODUCTS,
    "ABANDONED_CHECKOUTS": ABANDONED_CHECKOUTS,
    "WEBHOOK_SUBSCRIPTION_CREATE": WEBHOOK_SUBSCRIPTION_CREATE,
    "WEBHOOK_SUBSCRIPTION_UPDATE": WEBHOOK_SUBSCRIPTION_UPDATE,
    "WEBHOOK_SUBSCRIPTIONS": WEBHOOK_SUBSCRIPTIONS,
    "SYNC_COUNTS": SYNC_COUNTS,
    "BULK_OPERATION_RUN_QUERY": BULK_OPERATION_RUN_QUERY,
    "BULK_OPERATION": BULK_OPERATION,
    "BULK_CUSTOMERS": BULK_CUSTOMERS,
    "BULK_ORDERS": BULK_ORDERS,
    "BULK_PRODUCTS": BULK_PRODUCTS,
    "DISCOUNT_CODE_BASIC_CREATE": DISCOUNT_CODE_BASIC_CREATE,
    "CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE": CUSTOMER_EMAIL_MARKETING_CONSENT_UPDATE,
    "TAGS_ADD": TAGS_ADD,
    "TAGS_REMOVE": TAGS_REMOVE,
    "INVENTORY_ITEM_VARIANTS": INVENTORY_ITEM_VARIANTS,
    "WEB_PIXEL_CREATE": WEB_PIXEL_CREATE,
}
