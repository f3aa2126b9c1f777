"""The `kizuna` command: run the processes, migrate, connect shops, hand out login links, demo.

Layer: edge. Each command reads the configuration once (`load_config`) and fails with a clear
message on a bad value. `kizuna demo` is the one-command tour: embedded SQLite + Redis, a
simulated Shopify store, web + worker + scheduler, install, backfill, and a live store.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

from app.config import ConfigError, load_config

if TYPE_CHECKING:
    from app.flows.simulation import SimulationResult


def _config():  # type: ignore[no-untyped-def]
    try:
        return load_config()
    except ConfigError as error:
        raise click.ClickException(f"configuration: {error}") from error


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Kizuna — CRM and marketing automation for Shopify and WooCommerce stores."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run again)."""
    from app.migrate import upgrade

    config = _config()
    upgrade(config.database_url)
    click.echo("database is at the latest schema")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def web(host: str, port: int, workers: int) -> None:
    """Serve the web app with gunicorn."""
    _config()
    os.execvp(  # noqa: S606 - replaces this process with gunicorn, arguments are ours
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--workers",
            str(workers),
            "--bind",
            f"{host}:{port}",
            "--access-logfile",
            "-",
            "app:create_app()",
        ],
    )


@main.command()
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker over every queue, in priority order."""
    from app.entry import get_app
    from jobs.worker import run_worker

    _config()
    app = get_app()
    run_worker(app.extensions["kizuna"], burst=burst)


@main.command()
def scheduler() -> None:
    """Run the scheduler (exactly one per deployment): sweepers, periodic and daily jobs."""
    from app.entry import get_app
    from jobs.schedule import run_scheduler

    _config()
    app = get_app()
    run_scheduler(app.extensions["kizuna"])


@main.command()
def doctor() -> None:
    """Check configuration, database, Redis, processes, stores and SendGrid; print each fix."""
    from app.services.doctor import Check, run_checks

    def show(check: Check) -> None:
        mark = click.style("✓", fg="green") if check.ok else click.style("✗", fg="red")
        click.echo(f"{mark} {check.name}: {check.detail}")
        if not check.ok and check.fix:
            click.echo(f"    fix: {check.fix}")

    try:
        config = load_config()
    except ConfigError as error:
        show(Check("configuration", False, str(error), "set the variable it names (.env.example)"))
        sys.exit(1)
    failed = 0
    for check in run_checks(config):
        show(check)
        failed += not check.ok
    click.echo(f"{failed} problem(s) found" if failed else "everything looks right")
    sys.exit(1 if failed else 0)


@main.command("login-link")
@click.option("--account", "account_id", type=int, help="Account id.")
@click.option("--shop", "shop_domain", help="Shop domain, e.g. my-store.myshopify.com.")
def login_link(account_id: int | None, shop_domain: str | None) -> None:
    """Print a login link to the standalone admin (works once, within 15 minutes)."""
    from sqlalchemy import select

    from app.auth.login_link import make_login_url
    from app.db import Database
    from app.models import Account, Shop
    from app.redis_conn import connect_redis

    config = _config()
    database = Database(config.database_url)
    with database.session() as session:
        if shop_domain:
            shop = session.scalar(select(Shop).where(Shop.domain == shop_domain.lower()))
            if shop is None:
                raise click.ClickException(f"no shop {shop_domain!r}")
            account_id = shop.account_id
        elif account_id is None:
            account_id = session.scalar(select(Account.id).order_by(Account.id).limit(1))
            if account_id is None:
                raise click.ClickException(
                    f"no account yet: sign up at {config.app_url}/signup "
                    "(or install Kizuna on a Shopify store)"
                )
        elif session.get(Account, account_id) is None:
            raise click.ClickException(f"no account {account_id}")
    click.echo(make_login_url(config, connect_redis(config), account_id))


@main.group()
def accounts() -> None:
    """Merchant accounts of the standalone admin."""


@accounts.command("set-password")
@click.argument("email")
@click.password_option(prompt="New password", confirmation_prompt="Repeat the password")
def accounts_set_password(email: str, password: str) -> None:
    """Set the password EMAIL signs in with at /login (asked twice, not echoed).

    Every session and unused login link of the account ends: whoever knew the old password is out.
    """
    from redis import RedisError
    from sqlalchemy import func, select

    from app.auth.sessions import end_account_sessions
    from app.db import Database
    from app.models import Account
    from app.passwords import password_problem
    from app.redis_conn import connect_redis
    from app.services.accounts import set_password

    problem = password_problem(password)
    if problem == "too_short":
        raise click.ClickException("the password needs at least 8 characters")
    if problem:
        raise click.ClickException("the password is too long")
    config = _config()
    database = Database(config.database_url)
    with database.session() as session:
        wanted = email.strip().lower()
        account = session.scalars(
            select(Account).where(func.lower(Account.email) == wanted)
        ).one_or_none()
        if account is None:
            raise click.ClickException(f"no account with the email {email!r}")
        set_password(session, account, password)
    try:
        ended = end_account_sessions(connect_redis(config), account.id)
    except RedisError as error:
        raise click.ClickException(
            f"password set for account {account.id}, but its sessions could not be ended "
            f"(Redis: {type(error).__name__}); run this command again"
        ) from error
    click.echo(f"password set for account {account.id}; {ended} session(s) signed out")


@main.group()
def shops() -> None:
    """Connected stores."""


@shops.command("connect")
@click.argument("platform", type=click.Choice(["shopify"]))
@click.argument("domain")
@click.option("--token", required=True, help="Admin API access token of a custom app (shpat_…).")
def shops_connect(platform: str, domain: str, token: str) -> None:
    """Connect a store with a custom-app Admin API token (checked against the store first)."""
    from app.entry import get_app
    from app.services.install_shop import connect_custom_app

    _config()
    app = get_app()
    with app.app_context():
        try:
            shop_id = connect_custom_app(app.extensions["kizuna"], domain, token)
        except Exception as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"connected {domain} (shop {shop_id}); the first sync is queued")


@shops.command("daily-hours")
@click.argument("shop_domain")
@click.option("--scoring", type=int, help="Local hour (0-23) of the daily scoring.")
@click.option("--winback-scan", type=int, help="Local hour (0-23) of the daily win-back scan.")
def shops_daily_hours(shop_domain: str, scoring: int | None, winback_scan: int | None) -> None:
    """Show, or set, the local hour of SHOP_DOMAIN's daily jobs (in the shop's time zone)."""
    from sqlalchemy import select

    from app.db import Database
    from app.models import Shop
    from app.services.daily_schedule import SCORING, WINBACK_SCAN, hours_for, save_daily_hours

    database = Database(_config().database_url)
    changes = {
        name: value
        for name, value in ((SCORING, scoring), (WINBACK_SCAN, winback_scan))
        if value is not None
    }
    with database.session() as session:
        shop = session.scalar(select(Shop).where(Shop.domain == shop_domain.strip().lower()))
        if shop is None:
            raise click.ClickException(f"no shop {shop_domain!r}")
        errors = save_daily_hours(shop, changes)
        if errors:
            raise click.ClickException(
                "; ".join(f"--{name}: {message}" for name, message in errors.items())
            )
        session.commit()
        for name, hour in hours_for(shop.daily_hours).items():
            click.echo(f"{name:<14}{hour:02d}:00 {shop.timezone}")


@shops.command("capture-script")
@click.argument("store_url")
def shops_capture_script(store_url: str) -> None:
    """Print the cart-capture <script> tag for a connected WooCommerce store's checkout page."""
    from sqlalchemy import select

    from app.db import Database
    from app.models import Shop
    from app.storefront import capture_script_src
    from connectors.woocommerce.auth import normalize_store_url

    config = _config()
    domain = normalize_store_url(store_url)
    database = Database(config.database_url)
    with database.session() as session:
        shop = session.scalar(
            select(Shop).where(Shop.platform == "woocommerce", Shop.domain == domain)
        )
        if shop is None:
            raise click.ClickException(f"no connected WooCommerce store at {store_url!r}")
        src = capture_script_src(config.app_url, config.secret_key, shop.id)
    click.echo(f'<script async src="{src}"></script>')


@shops.command("list")
def shops_list() -> None:
    """List connected stores and their status."""
    from sqlalchemy import select

    from app.db import Database
    from app.models import Shop

    config = _config()
    database = Database(config.database_url)
    with database.session() as session:
        rows = session.scalars(select(Shop).order_by(Shop.id)).all()
        if not rows:
            click.echo("no shops connected yet")
        for shop in rows:
            sync = (shop.sync_state or {}).get("status", "-")
            click.echo(
                f"{shop.id:>4}  {shop.platform:<11} {shop.domain:<40} {shop.status:<12} sync:{sync}"
            )


@main.group()
def keys() -> None:
    """Encryption keys for tokens at rest."""


@keys.command("new")
def keys_new() -> None:
    """Print a new key for ENCRYPTION_KEYS (put it first to rotate; keep the old ones after it)."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored credential with the first key of ENCRYPTION_KEYS."""
    from app.crypto import TokenCipher
    from app.db import Database
    from app.services.rotate_keys import UnreadableCredential, reencrypt_credentials

    config = _config()
    database = Database(config.database_url)
    with database.session() as session:
        try:
            count = reencrypt_credentials(session, TokenCipher(config.encryption_keys))
        except UnreadableCredential as error:
            raise click.ClickException(str(error)) from error
    click.echo(f"re-encrypted {count} stored credentials with the first key")


@main.command()
@click.option("--port", default=8000, show_default=True, type=int, help="Port of the admin.")
@click.option("--customers", default=2000, show_default=True, type=int)
@click.option("--activity/--no-activity", default=True, show_default=True, help="Live store.")
@click.option("--exit-after-sync", is_flag=True, help="Stop once the first sync is done.")
@click.option(
    "--pace",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.1, max=1000),
    help="How much sooner recipients act: 1 shows deliveries within a minute and opens and "
    "clicks within minutes; 60 brings them within seconds.",
)
def demo(port: int, customers: int, activity: bool, exit_after_sync: bool, pace: float) -> None:
    """Run everything locally against a simulated Shopify store; Ctrl-C stops it all."""
    from app.demo import run_demo

    run_demo(
        port=port,
        customers=customers,
        activity=activity,
        exit_after_sync=exit_after_sync,
        pace=pace,
    )


@main.command("sync")
@click.argument("shop_domain")
@click.option("--follow", is_flag=True, help="Draw the progress until the sync ends.")
@click.option("--full", is_flag=True, help="Read everything, not only changes since the last sync.")
@click.option("--interval", default=1.0, show_default=True, type=float, help="Seconds per redraw.")
def sync(shop_domain: str, follow: bool, full: bool, interval: float) -> None:
    """Queue a sync of SHOP_DOMAIN (or show the running one); --follow draws its progress."""
    import time
    from datetime import UTC, datetime, timedelta
    from typing import Any

    from sqlalchemy import select

    from app.entry import get_app
    from app.i18n import text_for, translate_for_shop
    from app.models import Shop
    from app.services.backfill_requests import enqueue_sync_now
    from app.services.shop_errors import shop_error
    from app.services.shop_status import sync_report
    from connectors.shopify.domains import normalize_shop_domain
    from connectors.shopify.streams import progress

    try:
        app = get_app()
    except ConfigError as error:
        raise click.ClickException(f"configuration: {error}") from error
    runtime = app.extensions["kizuna"]
    domain = normalize_shop_domain(shop_domain) or shop_domain.strip().lower()

    def load() -> tuple[int, dict[str, Any]]:
        with runtime.db.session() as session:
            shop = session.scalars(select(Shop).where(Shop.domain == domain)).one_or_none()
            if shop is None or shop.platform != "shopify":
                raise click.ClickException(f"no Shopify shop {domain} is connected")
            if shop.status == "uninstalled":
                raise click.ClickException(f"{domain} has uninstalled Kizuna")
            return shop.id, dict(shop.sync_state or {})

    def failure(shop_id: int, state: dict[str, Any]) -> str:
        """Why the sync failed, in the shop's language (the failure is the shop's last error)."""
        stored = str(state.get("error") or "")
        with runtime.db.session() as session:
            shop = session.get_one(Shop, shop_id)
            if not stored or shop.last_error != stored:
                return stored or "the sync failed"
            with app.app_context():
                return translate_for_shop(shop.locale, lambda: shop_error(shop)) or stored

    def line(state: dict[str, Any]) -> str:
        now = datetime.now(UTC)
        report = sync_report(state, now)
        done = report["done_total"]
        totals = [s["total"] for s in report["streams"] if s["total"] is not None]
        total = sum(totals) if totals else None
        rate, eta = progress(done, total, float(report["elapsed_seconds"] or 0))
        percent = report["percent"]
        filled = int((percent or 0) / 5)
        parts = [
            f"[{'#' * filled}{'-' * (20 - filled)}]",
            f"{percent:5.1f}%" if percent is not None else "    ?%",
            f"{done:,} / {total:,} records" if total is not None else f"{done:,} records",
            f"{rate:,.0f}/s" if rate is not None else "-/s",
            f"ETA {timedelta(seconds=round(eta))}" if eta is not None else "ETA -",
            report["status"] + (f" ({report['stream']})" if report["stream"] else ""),
        ]
        return "  ".join(parts)

    shop_id, state = load()
    if state.get("status") == "running":
        click.echo(f"a sync of {domain} is running since {state.get('started_at')}")
        previous_start = None
    else:
        with app.app_context():
            enqueue_sync_now(runtime, shop_id, full=full)
        click.echo(f"sync of {domain} queued" + (" (full)" if full else ""))
        previous_start = state.get("started_at") or ""
    if state.get("notice"):
        with app.app_context():
            click.echo(f"note: {text_for(str(state['notice']))}")
    if not follow:
        return
    if previous_start is not None:
        click.echo("waiting for a worker to start it (`kizuna worker`)…")
    while True:
        _, state = load()
        started = previous_start is None or state.get("started_at") != previous_start
        if started:
            click.echo("\r" + line(state), nl=False)
            if state.get("status") in ("done", "failed"):
                click.echo("")
                if state.get("status") == "failed":
                    raise click.ClickException(failure(shop_id, state))
                return
        time.sleep(interval)


@main.group()
def flows() -> None:
    """Marketing flows."""


class _FlowOption(click.Option):
    """An option naming a flow: its help lists the registered flows when shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from app.flows.registry import keys

        self.help = f"The flow to replay: {', '.join(keys())}."
        return super().get_help_record(ctx)


@flows.command("simulate")
@click.option("--shop", "shop_domain", required=True, help="Shop domain or WooCommerce store URL.")
@click.option("--flow", "flow_key", cls=_FlowOption, required=True)
@click.option("--since", "lookback", default="30d", show_default=True, help="Window: Nd or Nh.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
def flows_simulate(shop_domain: str, flow_key: str, lookback: str, as_json: bool) -> None:
    """Replay the shop's recent past through a flow and show who would have been emailed, when.

    Nothing is written, queued or sent.
    """
    import json

    from sqlalchemy import select

    from app.db import utcnow
    from app.entry import get_app
    from app.flows.simulation import SIMULATORS, parse_lookback, simulate
    from app.models import Shop
    from connectors.woocommerce.auth import normalize_store_url

    if flow_key not in SIMULATORS:
        known = ", ".join(SIMULATORS)
        raise click.BadParameter(f"unknown flow {flow_key!r}; choose {known}", param_hint="--flow")
    try:
        span = parse_lookback(lookback)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from error
    try:
        app = get_app()
    except ConfigError as error:
        raise click.ClickException(f"configuration: {error}") from error
    runtime = app.extensions["kizuna"]
    names = {shop_domain.strip().lower(), normalize_store_url(shop_domain) or ""} - {""}
    with runtime.db.session() as session:
        shop = session.scalars(
            select(Shop).where(Shop.domain.in_(names)).order_by(Shop.id).limit(1)
        ).first()
        if shop is None:
            raise click.BadParameter(f"no shop {shop_domain!r} is connected", param_hint="--shop")
        now = utcnow()
        result = simulate(session, shop, flow_key, now - span, now)
        session.rollback()
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return
    _print_simulation(result)


def _print_simulation(result: SimulationResult) -> None:
    from app.domain.orchestration import shop_zone

    zone = shop_zone(result.timezone)

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    totals = result.totals
    click.echo(
        f"{result.flow_key} flow replayed for {result.shop_domain}: "
        f"{local(result.since)} → {local(result.until)} ({result.timezone}). Nothing was sent."
    )
    if not result.enabled:
        click.echo("note: the flow is turned off for this shop; replayed with its settings")
    ineligible = ", ".join(f"{why} {n}" for why, n in sorted(totals.not_eligible.items()))
    rows = [
        ("entered", totals.entered, f"{totals.exited} exited before their last email"),
        ("held out", totals.held_out, "control group, no emails"),
        ("not eligible", sum(totals.not_eligible.values()), ineligible),
        ("emails", totals.emails, ""),
        ("  capped", totals.capped, "postponed by the frequency cap"),
        ("  quiet hours", totals.quiet_hours_deferred, "postponed to the morning"),
    ]
    for label, count, detail in rows:
        click.echo(f"  {label:<14}{count:>6}  {detail}".rstrip())
    others = [entry for entry in result.entries if not entry.emails]
    if others:
        click.echo("\nwithout an email:")
    for entry in others:
        who = f"customer {entry.customer_id}" if entry.customer_id else "no customer"
        click.echo(
            f"  {local(entry.started_at)}  {who:<16} {entry.masked_email:<24} "
            f"{entry.trigger}  → {entry.describe()}"
        )
    emails = result.emails()
    heading = f"would-be emails ({result.timezone}):" if emails else "no email would have gone"
    click.echo(f"\n{heading}")
    for entry, email in emails:
        cause = email.deferred_by.replace("_", " ")
        deferred = "" if email.deferred_by == "none" else f"  deferred by {cause}"
        late = "  (after now)" if email.would_send_at > result.until else ""
        click.echo(
            f"  {local(email.would_send_at)}  step {email.step}  customer {entry.customer_id:<7} "
            f"{entry.masked_email:<24} due {local(email.due_at)}{deferred}{late}  "
            f"[{entry.trigger}; {entry.describe()}]"
        )


if __name__ == "__main__":
    main()
