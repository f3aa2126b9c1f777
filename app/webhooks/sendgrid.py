"""`POST /webhooks/sendgrid`: SendGrid's signed event webhook (see connectors/sendgrid)."""

from app.webhooks import bp  # noqa: F401
