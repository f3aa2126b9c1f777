"""RQ entry points of campaigns (queue `email`): one campaign's send, and the scheduler's tick.

Layer: jobs, thin: the work is `app.campaigns.sending`. Queued jobs name the dotted paths
`jobs.campaigns.<name>`, so they stay.
"""

from __future__ import annotations

from app.campaigns import sending
from app.kizuna import Kizuna
from jobs.context import kizuna_job


@kizuna_job
def send_campaign(
    runtime: Kizuna, campaign_id: int, batch_size: int | None = None
) -> dict[str, int]:
    """Send the campaign's queued recipients, batch by batch (`sending.send_campaign`)."""
    return sending.send_campaign(runtime, campaign_id, batch_size=batch_size)


@kizuna_job
def start_due_campaigns(runtime: Kizuna, every: float = 30.0) -> dict[str, int]:
    """Start scheduled campaigns whose time has come; re-enqueue lost sends."""
    return sending.start_due(runtime)
