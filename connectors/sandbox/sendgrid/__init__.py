"""The simulated SendGrid the demo (without SENDGRID_API_KEY) and the tests send mail to.

Layer: connectors/sandbox. Mail Send v3, part of Email Activity, an in-memory outbox, injectable
faults, and Event Webhook deliveries signed with its own P-256 key: asked for by a test, or posted
on their own at realistic rates once `start_engagement` is called (the demo does).
"""

from connectors.sandbox.sendgrid.engagement import EngagementModel
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
    "EngagementModel",
    "Fault",
    "OutboxMessage",
    "RequestRecord",
    "SandboxSendGrid",
    "mail_send_errors",
    "serve_sandbox",
]
