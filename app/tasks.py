"""Every background job, declared once: its dotted path, queue, timeout and retries.

Layer: app infrastructure. Every enqueue names one of these. Paths are what jobs already in Redis
carry: a job function is never renamed or moved without keeping its old path working.
"""

from __future__ import annotations

from app.queueing import EMAIL, FLOWS, SYNC, WEBHOOKS, Task

HOUR = 3600
SYNC_TIMEOUT = 4 * HOUR

# One recorded webhook event (workers claim events from the inbox themselves; this entry stays
# for jobs queued by earlier versions) and the webhook sweeper. Retries are the inbox's backoff.
PROCESS_WEBHOOK = Task("jobs.process_webhook.process_webhook_event", WEBHOOKS, timeout=300)
SWEEP_WEBHOOK_EVENTS = Task("jobs.sweeper.sweep_webhook_events", WEBHOOKS, timeout=120)

# Shopify sync: the first backfill (or `kizuna sync`) and the 15-minute reconcile.
BACKFILL_SHOP = Task(
    "jobs.sync.backfill_shop", SYNC, timeout=SYNC_TIMEOUT, retry_intervals=(10, 30, 120)
)
RECONCILE_ALL = Task("jobs.reconcile.reconcile_all", SYNC, timeout=HOUR)
RECONCILE_SHOP = Task("jobs.reconcile.reconcile_shop", SYNC, timeout=HOUR)

# WooCommerce: the key check the merchant waits for (short, on the fast queue), setup, reconcile.
WOOCOMMERCE_KEY_CHECK = Task("jobs.woocommerce.check_key_grant", WEBHOOKS, timeout=120)
WOOCOMMERCE_SETUP = Task("jobs.woocommerce.setup_shop", SYNC, timeout=SYNC_TIMEOUT)
WOOCOMMERCE_RECONCILE_ALL = Task("jobs.woocommerce.reconcile_woocommerce", SYNC, timeout=HOUR)
WOOCOMMERCE_RECONCILE_SHOP = Task("jobs.woocommerce.reconcile_shop", SYNC, timeout=SYNC_TIMEOUT)

# Consent written back to the platform after an opt-out.
CONSENT_WRITEBACK = Task(
    "jobs.consent.write_back_consent", SYNC, retry_intervals=(30, 120, 600, 1800, 3600)
)

# Segments written back to the platform as tags (after nightly scoring, or when asked).
TAG_WRITE_BACK = Task(
    "jobs.tag_write_back.write_back_tags",
    SYNC,
    timeout=900,
    retry_intervals=(30, 120, 600, 1800),
)

# Scores: nightly per shop, and the RFM cells again after the merchant moves the boundaries.
SCORE_SHOP = Task("jobs.scoring.score_shop_job", SYNC, timeout=1800)
RESCORE_RFM = Task("jobs.scoring.rescore_rfm_job", SYNC, timeout=1800)

# Flows: due steps (one job per shop, flow, step and second), win-back scans, the flow sweeper.
DISPATCH_DUE_STEPS = Task("jobs.flows.dispatch_due_steps", FLOWS)
SCAN_WINBACK = Task("jobs.flows.scan_winback", FLOWS)
SCAN_WINBACK_SHOP = Task("jobs.flows.scan_winback_shop", FLOWS, timeout=1800)
SWEEP_FLOW_RUNS = Task("jobs.flows.sweep_flow_runs", FLOWS, timeout=120)

# Email: one message, the storefront opt-in confirmation, the message sweeper.
SEND_MESSAGE = Task("jobs.send_email.send_message", EMAIL)
SEND_OPT_IN_CONFIRMATION = Task(
    "jobs.opt_in.send_confirmation", EMAIL, retry_intervals=(60, 300, 900)
)
SWEEP_MESSAGES = Task("jobs.message_sweep.sweep_messages", EMAIL, timeout=120)
# Campaigns: one campaign's send (batches until done, paused or cancelled), and the tick that
# starts scheduled campaigns and re-enqueues sends whose job was lost.
SEND_CAMPAIGN = Task("jobs.campaigns.send_campaign", EMAIL, timeout=4 * HOUR)
START_DUE_CAMPAIGNS = Task("jobs.campaigns.start_due_campaigns", EMAIL, timeout=120)
# Email to merchants about their sign-in: verification, password reset, team invitation.
SEND_ACCOUNT_EMAIL = Task(
    "jobs.account_email.send_account_email", EMAIL, retry_intervals=(30, 120, 600)
)

ALL: tuple[Task, ...] = (
    PROCESS_WEBHOOK,
    SWEEP_WEBHOOK_EVENTS,
    BACKFILL_SHOP,
    RECONCILE_ALL,
    RECONCILE_SHOP,
    WOOCOMMERCE_KEY_CHECK,
    WOOCOMMERCE_SETUP,
    WOOCOMMERCE_RECONCILE_ALL,
    WOOCOMMERCE_RECONCILE_SHOP,
    CONSENT_WRITEBACK,
    TAG_WRITE_BACK,
    SCORE_SHOP,
    RESCORE_RFM,
    DISPATCH_DUE_STEPS,
    SCAN_WINBACK,
    SCAN_WINBACK_SHOP,
    SWEEP_FLOW_RUNS,
    SEND_MESSAGE,
    SEND_OPT_IN_CONFIRMATION,
    SWEEP_MESSAGES,
    SEND_ACCOUNT_EMAIL,
    SEND_CAMPAIGN,
    START_DUE_CAMPAIGNS,
)
