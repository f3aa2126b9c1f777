"""The RQ entry of a consent write-back: `write_back_consent` (queue `sync`, `consent-<customer>`).

Layer: jobs, a thin entry: binds the app context and calls
`app.services.consent_writeback.write_back_consent`. Queued jobs are stored by dotted path, so
`jobs.consent.write_back_consent` keeps its name and arguments.
"""

from __future__ import annotations

from app.kizuna import Kizuna
from app.services import consent_writeback
from jobs.context import kizuna_job


@kizuna_job
def write_back_consent(runtime: Kizuna, customer_id: int) -> str:
    """Push the customer's opt-out to the platform; written, skipped, unsupported or failed."""
    return consent_writeback.write_back_consent(runtime, customer_id)
