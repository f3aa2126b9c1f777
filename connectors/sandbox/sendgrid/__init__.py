"""The simulated SendGrid that the demo (without SENDGRID_API_KEY) and the tests send mail to.

Layer: connectors/sandbox. A real HTTP server speaking Mail Send v3 (validation, 202 +
X-Message-Id, SendGrid-shaped errors), a subset of the Email Activity API, an in-memory outbox,
injectable faults (429 with X-RateLimit-Reset, 5xx, slow answers) and Event Webhook deliveries
signed with its own P-256 key, whose public half it exposes as SendGrid's settings page does.
"""

from connectors.sandbox.sendgrid.sandbox import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Fault,
    OutboxMessage,
    RequestRecord,
    SandboxSendGrid,
)
from connectors.sandbox.sendgrid.server import serve_sandbox
from connectors.sandbox.sendgrid.validation import mail_send_errors

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Fault",
    "OutboxMessage",
    "RequestRecord",
    "SandboxSendGrid",
    "mail_send_errors",
    "serve_sandbox",
]
