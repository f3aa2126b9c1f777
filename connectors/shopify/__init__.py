"""The Shopify connector: auth, Admin GraphQL client, streams, bulk reads, webhooks, mapping."""
