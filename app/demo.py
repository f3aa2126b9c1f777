"""`kizuna demo`: the whole product on one machine, nothing configured.

Layer: edge (process supervision). Owns the embedded Redis and the simulated store, starts web,
worker and scheduler, installs over the real OAuth; Ctrl-C stops every process it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import click
import httpx

from app.config import Config, load_config

DEMO_SHOP = "kizuna-demo.myshopify.com"
DEMO_SHOP_NAME = "Kizuna Tea & Craft"


class Supervisor:
    """Child processes started by the demo, stopped together."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append((name, process))

    def check_alive(self) -> None:
        for name, process in self.children:
            if process.poll() is not None:
                raise click.ClickException(
                    f"the {name} process exited ({process.returncode}); "
                    f"see {self.log_dir / (name + '.log')}"
                )

    def stop(self) -> None:
        for _name, process in self.children:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, process in self.children:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_for_health(url: str, supervisor: Supervisor, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check_alive()
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise click.ClickException(f"the web process did not answer on {url}/healthz")


def _install(app_url: str, sandbox_url: str) -> None:
    """Install Kizuna into the demo store through the OAuth code grant, like a merchant.

    The merchant's browser is played by an HTTP client whose https://{shop}/… requests reach
    the simulated store, exactly as Kizuna's own Shopify calls do.
    """
    from connectors.shopify.http import SandboxRewriteTransport

    transport = SandboxRewriteTransport(sandbox_url)
    with httpx.Client(transport=transport, follow_redirects=True, timeout=60) as browser:
        response = browser.get(f"{app_url}/auth/shopify", params={"shop": DEMO_SHOP})
    if response.status_code >= 400:
        raise click.ClickException(f"install failed: HTTP {response.status_code}")


def _sync_state(config: Config) -> tuple[int | None, dict[str, Any]]:
    from sqlalchemy import select

    from app.db import Database
    from app.models import Shop

    database = Database(config.database_url)
    try:
        with database.session() as session:
            shop = session.scalar(select(Shop).where(Shop.domain == DEMO_SHOP))
            if shop is None:
                return None, {}
            return shop.account_id, dict(shop.sync_state or {})
    finally:
        database.dispose()


def _follow_sync(config: Config, supervisor: Supervisor, expected: dict[str, int]) -> int:
    """Show the first sync's progress; return the account id once it is done."""
    total = sum(expected.values()) or 1
    started = time.monotonic()
    while True:
        supervisor.check_alive()
        account_id, state = _sync_state(config)
        done_counts: dict[str, int] = state.get("done") or {}
        done = sum(done_counts.values())
        elapsed = time.monotonic() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        fraction = min(1.0, done / total)
        bar = "█" * int(fraction * 30) + "░" * (30 - int(fraction * 30))
        eta = f"{(total - done) / rate:4.0f}s" if rate > 0 and done < total else "   -"
        click.echo(
            f"\r  sync {bar} {done:>6}/{total} records  {rate:6.0f}/s  eta {eta}  "
            f"[{state.get('stream') or state.get('status') or 'starting'}]   ",
            nl=False,
        )
        if state.get("status") == "failed":
            click.echo()
            raise click.ClickException(f"the first sync failed: {state.get('error')}")
        if state.get("status") == "done" and account_id is not None:
            click.echo()
            return account_id
        time.sleep(0.5)


# The demo's flows run at demo pace so a newcomer sees emails in the outbox within minutes:
# cart reminders 15, 30 and 60 minutes after a cart is left, a thank-you 6 minutes after an
# order, no quiet hours (the store keeps Tokyo time, whatever the visitor's clock says).
DEMO_PACE: dict[str, dict[str, Any]] = {
    "cart": {"step_delay_hours": [0.25, 0.5, 1.0], "quiet_hours": None},
    "thank_you": {"step_delay_hours": [0.1], "quiet_hours": None},
    "winback": {"quiet_hours": None},
}


def _demo_pace(config: Config, redis_url: str) -> None:
    """Give the demo shop its demo-pace flow settings (unless it has settings already: a
    restarted demo keeps what the visitor changed) and run the win-back scan now."""
    import redis
    from sqlalchemy import select

    from app.db import Database
    from app.domain.orchestration import POST_PURCHASE_DEFAULTS, WINBACK_DEFAULTS
    from app.models import Shop
    from app.models.flow import FlowSetting
    from app.queueing import enqueue
    from app.tasks import SCAN_WINBACK

    defaults = {"winback": WINBACK_DEFAULTS, **POST_PURCHASE_DEFAULTS}
    database = Database(config.database_url)
    try:
        with database.session() as session:
            shop_id = session.scalar(select(Shop.id).where(Shop.domain == DEMO_SHOP))
            configured = session.scalar(
                select(FlowSetting.id).where(FlowSetting.shop_id == shop_id)
            )
            if shop_id is None or configured is not None:
                return
            for flow_key, pace in DEMO_PACE.items():
                session.add(
                    FlowSetting(
                        shop_id=shop_id,
                        flow_key=flow_key,
                        enabled=True,
                        config={**defaults.get(flow_key, {}), **pace},
                    )
                )
            session.commit()
    finally:
        database.dispose()
    enqueue(redis.Redis.from_url(redis_url), SCAN_WINBACK)


def run_demo(*, port: int, customers: int, activity: bool, exit_after_sync: bool) -> None:
    import redis

    from app.auth.login_link import make_login_url
    from app.migrate import upgrade
    from app.redis_conn import embedded_redis_url
    from connectors.sandbox.shopify import SandboxShopify, serve_sandbox

    env = dict(os.environ)
    instance = Path(env.get("KIZUNA_INSTANCE") or Path.cwd() / "instance").resolve()
    env["KIZUNA_INSTANCE"] = str(instance)
    app_url = f"http://127.0.0.1:{port}"
    env["APP_URL"] = app_url
    env.setdefault("SHOPIFY_API_KEY", "kizuna-demo-app")
    env.setdefault("KIZUNA_ENV", "development")  # a loopback app, also on a PostgreSQL database

    click.echo("Kizuna demo — starting a simulated Shopify store and the app")
    base_config = load_config(env)
    sandbox = SandboxShopify(
        base_config.shopify_api_key,
        base_config.shopify_api_secret,
        app_url=app_url,
        plan="enterprise",
    )
    store = sandbox.add_shop(
        DEMO_SHOP,
        customers=customers,
        years=2,
        currency="JPY",
        timezone="Asia/Tokyo",
        name=DEMO_SHOP_NAME,
    )
    server, sandbox_url = serve_sandbox(sandbox)
    env["SHOPIFY_SANDBOX_URL"] = sandbox_url
    mail_server = None
    if not env.get("SENDGRID_API_KEY"):
        from connectors.sandbox.sendgrid import SandboxSendGrid
        from connectors.sandbox.sendgrid import serve_sandbox as serve_mail_sandbox

        mail_sandbox = SandboxSendGrid(event_webhook_url=f"{app_url}/webhooks/sendgrid")
        mail_sandbox.add_sender(parseaddr(base_config.mail_from)[1], "Kizuna")
        mail_server, mail_url = serve_mail_sandbox(mail_sandbox)
        env["SENDGRID_SANDBOX_URL"] = mail_url
        env["SENDGRID_EVENT_PUBLIC_KEY"] = mail_sandbox.public_key_b64
    config = load_config(env)
    click.echo(
        f"  store     {DEMO_SHOP} ({len(store.customers)} customers, "
        f"{len(store.orders)} orders) at {sandbox_url}"
    )

    upgrade(config.database_url)
    if not config.redis_url:
        env["REDIS_URL"] = embedded_redis_url(config.instance_path)
    click.echo(f"  mail      {env.get('SENDGRID_SANDBOX_URL') or 'SendGrid'}")
    click.echo(f"  database  {config.database_url}")
    click.echo(f"  redis     {env.get('REDIS_URL')}")

    supervisor = Supervisor(env, config.instance_path / "logs")
    stop_activity = threading.Event()

    def _terminate(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    try:
        supervisor.start("web", ["-m", "app.cli", "web", "--port", str(port)])
        supervisor.start("worker", ["-m", "app.cli", "worker"])
        supervisor.start("scheduler", ["-m", "app.cli", "scheduler"])
        _wait_for_health(app_url, supervisor)
        click.echo(f"  web       {app_url} (healthy)")

        click.echo(f"Installing Kizuna into {DEMO_SHOP} (OAuth)…")
        _install(app_url, sandbox_url)
        expected = {
            "customers": len(store.customers),
            "products": len(store.products),
            "orders": len(store.orders),
            "checkouts": len(store.checkouts),
        }
        account_id = _follow_sync(config, supervisor, expected)
        demo_redis_url = env.get("REDIS_URL") or config.redis_url or ""
        _demo_pace(config, demo_redis_url)
        link = make_login_url(config, redis.Redis.from_url(demo_redis_url), account_id)
        click.echo("")
        click.echo("Kizuna is running. Open the admin (login link: works once, within 15 minutes;")
        click.echo("`kizuna login-link` prints another):")
        click.echo(f"  {link}")
        click.echo(f"Health: {app_url}/healthz — logs: {supervisor.log_dir}")
        click.echo("Press Ctrl-C to stop everything.")
        sys.stdout.flush()
        if exit_after_sync:
            return
        if activity:
            threading.Thread(
                target=sandbox.run_activity, args=(stop_activity,), daemon=True
            ).start()
            click.echo("The store is live: new orders and checkouts arrive every few seconds.")
            click.echo(
                "Flows run at demo pace: win-back emails now, thank-yous 6 minutes after an "
                "order, cart reminders from 15 minutes after a cart is left (see the Outbox page)."
            )
        while True:
            supervisor.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        click.echo("\nStopping…")
    finally:
        stop_activity.set()
        supervisor.stop()
        server.shutdown()
        if mail_server is not None:
            mail_server.shutdown()
        click.echo("Stopped web, worker, scheduler and the simulated store and mail service.")
