"""`kizuna demo`: the whole product on one machine, nothing configured.

Layer: edge (process supervision). Owns the embedded Redis and the simulated stores (Shopify and
WooCommerce, one account) and SendGrid, starts web, worker and scheduler, installs over the real
OAuth and connects over the real wc-auth; Ctrl-C stops every process it started. `--pace`
speeds up what recipients do (delivery, opens, clicks) for a quick look or a test.
"""

from __future__ import annotations

import os
import re
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
DEMO_WOO_STORE = "kizuna-woo"
# A share of the WooCommerce store's customers also buy in the Shopify store (same address),
# so the People page shows one person across both stores.
SHARED_CUSTOMER_SHARE = 0.3
# What the merchant would type on the Sender details page; the law wants it in every email.
DEMO_SENDER = {
    "sender_name": "Kizuna Tea & Craft",
    "reply_to": "hello@kizuna-tea.example",
    "postal_address": "〒150-0001 東京都渋谷区神宮前1-2-3 きずなビル 4F",
    "contact": "03-1234-5678 / hello@kizuna-tea.example",
}


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


def _serve_woocommerce(woo: Any) -> tuple[Any, str]:
    """Serve the simulated WooCommerce stores on a loopback port, in a daemon thread."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        """No access log: the REST query strings carry the API key and its signature."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return None

    server = make_server("127.0.0.1", 0, woo.wsgi_app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, name="sandbox-woocommerce", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


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


def _sync_state(
    config: Config, platform: str = "shopify", domain: str = DEMO_SHOP
) -> tuple[int | None, dict[str, Any]]:
    from sqlalchemy import select

    from app.db import Database
    from app.models import Shop

    database = Database(config.database_url)
    try:
        with database.session() as session:
            shop = session.scalar(
                select(Shop).where(Shop.platform == platform, Shop.domain == domain)
            )
            if shop is None:
                return None, {}
            return shop.account_id, dict(shop.sync_state or {})
    finally:
        database.dispose()


def _follow_sync(
    config: Config,
    supervisor: Supervisor,
    expected: dict[str, int],
    platform: str = "shopify",
    domain: str = DEMO_SHOP,
) -> int:
    """Show the first sync's progress; return the account id once it is done."""
    total = sum(expected.values()) or 1
    started = time.monotonic()
    while True:
        supervisor.check_alive()
        account_id, state = _sync_state(config, platform, domain)
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
# order, the welcome series at once, after 30 and 60 minutes (a coupon in the last email), the
# birthday flow for everyone born this month (so its runs show whatever the day), no quiet
# hours (the store keeps Tokyo time, whatever the visitor's clock says).
DEMO_PACE: dict[str, dict[str, Any]] = {
    "cart": {"step_delay_hours": [0.25, 0.5, 1.0], "quiet_hours": None},
    "welcome": {"step_delay_hours": [0, 0.5, 1.0], "coupon_step": 3, "quiet_hours": None},
    "birthday": {"granularity": "month", "quiet_hours": None},
    "thank_you": {"step_delay_hours": [0.1], "quiet_hours": None},
    "winback": {"quiet_hours": None},
}


def _demo_sender(config: Config) -> None:
    """Set the demo shops' sender details where none are set (a visitor's own stay)."""
    from sqlalchemy import update

    from app.db import Database
    from app.models import Shop

    database = Database(config.database_url)
    try:
        with database.session() as session:
            session.execute(
                update(Shop)
                .where(Shop.sender_identity.is_(None), Shop.status != "uninstalled")
                .values(sender_identity=dict(DEMO_SENDER))
            )
            session.commit()
    finally:
        database.dispose()


def _demo_pace(config: Config, redis_url: str) -> None:
    """Give the demo shop its demo-pace flow settings (unless it has settings already: a
    restarted demo keeps what the visitor changed) and run the daily scan now (win-back, the
    birthdays of the month)."""
    import redis
    from sqlalchemy import select

    from app.db import Database
    from app.domain.orchestration import POST_PURCHASE_DEFAULTS, WINBACK_DEFAULTS
    from app.flows import birthday, welcome
    from app.models import Shop
    from app.models.flow import FlowSetting
    from app.queueing import enqueue
    from app.tasks import SCAN_WINBACK

    defaults = {
        "winback": WINBACK_DEFAULTS,
        "welcome": welcome.DEFAULTS,
        "birthday": birthday.DEFAULTS,
        **POST_PURCHASE_DEFAULTS,
    }
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


DEMO_CAMPAIGN_SEGMENT = {
    "match": "all",
    "rules": [{"field": "orders_count", "op": "gte", "value": 2}],
}


def _demo_blocks(lang: str) -> list[dict[str, Any]]:
    ja = lang == "ja"
    return [
        {"type": "heading", "text": "新茶の季節です" if ja else "The new season's tea is here"},
        {
            "type": "text",
            "text": "いつもご愛顧いただきありがとうございます。\n\n今年の新茶が入荷しました。"
            if ja
            else "Thank you for being a regular.\n\nThis year's first flush has arrived.",
        },
        {"type": "products", "mode": "recommended", "product_ids": [], "count": 3},
        {"type": "divider"},
        {"type": "button", "label": "ストアへ" if ja else "Visit the store", "url": ""},
    ]


def _demo_campaign(env: dict[str, str]) -> None:
    """Send the demo shop one campaign to its repeat customers (10 % held out), unless it has
    one: the simulated recipients' events then fill its report."""
    from sqlalchemy import select

    from app import create_app
    from app.campaigns import service
    from app.kizuna import kizuna
    from app.links import shop_home_url
    from app.models import Campaign, Shop
    from app.services import segments

    app = create_app(load_config(env))
    with app.app_context(), kizuna().db.session() as session:
        shop = session.scalars(select(Shop).where(Shop.domain == DEMO_SHOP)).one_or_none()
        if shop is None or session.scalar(select(Campaign.id).where(Campaign.shop_id == shop.id)):
            return
        saved = segments.save_segment(session, shop.id, "リピーター", DEMO_CAMPAIGN_SEGMENT)
        if saved.segment is None:
            return
        session.commit()
        content: dict[str, Any] = {"coupon": None}
        for lang, subject in (("ja", "新茶のご案内"), ("en", "The new season's tea")):
            blocks = _demo_blocks(lang)
            blocks[-1]["url"] = shop_home_url(shop)
            content[lang] = {"subject": subject, "preheader": "", "blocks": blocks}
        campaign = service.create(
            session,
            shop,
            name="新茶のご案内",
            audience={"segments": [saved.segment.id], "rfm_groups": []},
            content=content,
            holdout_percent=10,
        )
        service.schedule(session, shop, campaign.id, None)


def _share_customers(shopify_store: Any, woo_store: Any) -> int:
    """Make a share of the WooCommerce store's customers the Shopify store's people (same
    address and names, on their orders too); → how many."""
    woo_customers = sorted(woo_store.customers.values(), key=lambda c: c["id"])
    people = [c for c in shopify_store.customers if c.email]
    count = min(len(people), int(len(woo_customers) * SHARED_CUSTOMER_SHARE))
    with woo_store.lock:
        for customer, person in zip(woo_customers[:count], people[:count], strict=True):
            names = {"first_name": person.first_name, "last_name": person.last_name}
            customer.update(email=person.email, **names)
            customer["billing"] = {**customer["billing"], "email": person.email, **names}
            for order in woo_store.orders.values():
                if order.get("customer_id") == customer["id"]:
                    order["billing"] = {**order["billing"], "email": person.email, **names}
    return count


def _install_storefront_script(config: Config, woo: Any, store_url: str) -> None:
    """Add Kizuna's storefront script to the simulated WooCommerce store's pages, as its merchant
    does with `kizuna shops capture-script`: its shoppers' product views then reach Kizuna."""
    from sqlalchemy import select

    from app.db import Database
    from app.models import Shop
    from app.storefront import capture_script_src
    from connectors.woocommerce.auth import normalize_store_url

    with Database(config.database_url).session() as session:
        shop_id = session.scalar(
            select(Shop.id).where(
                Shop.platform == "woocommerce", Shop.domain == normalize_store_url(store_url)
            )
        )
    if shop_id is None:
        raise click.ClickException(f"no connected WooCommerce store at {store_url}")
    woo.install_storefront_script(
        DEMO_WOO_STORE, capture_script_src(config.app_url, config.secret_key, shop_id)
    )


def _sign_in(browser: httpx.Client, link: str) -> None:
    """What the login link's page does: post the fragment's token with the CSRF token."""
    url, _, token = link.partition("#")
    page = browser.get(url)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if csrf is None:
        raise click.ClickException("the login link page has no form")
    browser.post(url, data={"token": token, "csrf_token": csrf[1]})


def _connect_woocommerce(app_url: str, link: str, store_url: str) -> None:
    """Connect the simulated WooCommerce store to the demo account as its merchant would:
    signed in, the connect form, the store's approval (wc-auth), back to Kizuna."""
    with httpx.Client(base_url=app_url, timeout=60) as browser:
        _sign_in(browser, link)
        form = browser.get("/connect/woocommerce")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        if form.status_code != 200 or csrf is None:
            raise click.ClickException(f"connect form: HTTP {form.status_code}")
        started = browser.post(
            "/connect/woocommerce", data={"store_url": store_url, "csrf_token": csrf[1]}
        )
        approve = started.headers.get("Location", "")
        if started.status_code != 302 or not approve.startswith(store_url):
            raise click.ClickException(f"connect WooCommerce: HTTP {started.status_code}")
        approved = browser.get(approve)
        back = approved.headers.get("Location", "")
        if approved.status_code != 302 or "success=1" not in back:
            raise click.ClickException(f"the store refused the key: HTTP {approved.status_code}")
        browser.get(back)


def run_demo(
    *, port: int, customers: int, activity: bool, exit_after_sync: bool, pace: float = 1.0
) -> None:
    import redis

    from app.auth.login_link import make_login_url
    from app.migrate import upgrade
    from app.redis_conn import embedded_redis_url
    from connectors.sandbox.shopify import SandboxShopify, serve_sandbox
    from connectors.sandbox.shopify.server import embedded_admin_url
    from connectors.sandbox.woocommerce import SandboxWooCommerce

    env = dict(os.environ)
    instance = Path(env.get("KIZUNA_INSTANCE") or Path.cwd() / "instance").resolve()
    env["KIZUNA_INSTANCE"] = str(instance)
    app_url = f"http://127.0.0.1:{port}"
    env["APP_URL"] = app_url
    env.setdefault("SHOPIFY_API_KEY", "kizuna-demo-app")
    env.setdefault("KIZUNA_ENV", "development")  # a loopback app, also on a PostgreSQL database
    env.setdefault("GUNICORN_GRACEFUL_TIMEOUT", "3")  # Ctrl-C stops the demo promptly

    click.echo("Kizuna demo — starting a simulated Shopify store and the app")
    base_config = load_config(env)
    sandbox = SandboxShopify(
        base_config.shopify_api_key,
        base_config.shopify_api_secret,
        app_url=app_url,
        plan="enterprise",
    )
    # Served first: product pictures are served by the simulated stores themselves.
    server, sandbox_url = serve_sandbox(sandbox)
    store = sandbox.add_shop(
        DEMO_SHOP,
        customers=customers,
        years=2,
        currency="JPY",
        timezone="Asia/Tokyo",
        name=DEMO_SHOP_NAME,
        image_base=f"{sandbox_url}/_sandbox/images",
    )
    env["SHOPIFY_SANDBOX_URL"] = sandbox_url
    woo = SandboxWooCommerce(seed=11)
    woo_store = woo.add_store(
        DEMO_WOO_STORE, customers=max(customers // 4, 10), years=1, serve_images=True
    )
    shared = _share_customers(store, woo_store)
    woo_server, woo_url = _serve_woocommerce(woo)
    woo_store_url = f"{woo_url}/{DEMO_WOO_STORE}"
    # The simulated store is on loopback over plain http: allowed in development only.
    allowed = [h for h in env.get("OUTBOUND_ALLOW_HOSTS", "").split(",") if h.strip()]
    env["OUTBOUND_ALLOW_HOSTS"] = ",".join([*allowed, woo_url.removeprefix("http://")])
    env.setdefault("SHOPIFY_APP_BRIDGE_URL", f"{sandbox_url}/_sandbox/app-bridge.js")
    mail_server = None
    if not env.get("SENDGRID_API_KEY"):
        from connectors.sandbox.sendgrid import EngagementModel, SandboxSendGrid
        from connectors.sandbox.sendgrid import serve_sandbox as serve_mail_sandbox

        mail_sandbox = SandboxSendGrid(event_webhook_url=f"{app_url}/webhooks/sendgrid")
        mail_sandbox.add_sender(parseaddr(base_config.mail_from)[1], "Kizuna")
        # Recipients at work: most emails delivered, a share opened and clicked, a few bounce.
        mail_sandbox.start_engagement(EngagementModel(pace=pace), interval=min(1.0, 5 / pace))
        mail_server, mail_url = serve_mail_sandbox(mail_sandbox)
        env["SENDGRID_SANDBOX_URL"] = mail_url
        env["SENDGRID_EVENT_PUBLIC_KEY"] = mail_sandbox.public_key_b64
    config = load_config(env)
    click.echo(
        f"  store     {DEMO_SHOP} ({len(store.customers)} customers, "
        f"{len(store.orders)} orders) at {sandbox_url}"
    )
    click.echo(
        f"  store     {woo_store_url} (WooCommerce: {len(woo_store.customers)} customers, "
        f"{shared} of them also Shopify customers, {len(woo_store.orders)} orders)"
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
        demo_redis = redis.Redis.from_url(demo_redis_url)
        _demo_sender(config)
        _demo_pace(config, demo_redis_url)
        try:
            _demo_campaign({**env, "REDIS_URL": demo_redis_url})
        except Exception as error:  # a demo nicety: the rest of the demo goes on without it
            click.echo(f"  (the demo campaign was not sent: {type(error).__name__}: {error})")

        click.echo(f"Connecting the WooCommerce store {woo_store_url} to the same account…")
        _connect_woocommerce(app_url, make_login_url(config, demo_redis, account_id), woo_store_url)
        _follow_sync(
            config,
            supervisor,
            {"customers": len(woo_store.customers), "orders": len(woo_store.orders)},
            platform="woocommerce",
            domain=woo_store_url,
        )
        _demo_sender(config)
        _install_storefront_script(config, woo, woo_store_url)
        link = make_login_url(config, demo_redis, account_id)
        click.echo("")
        click.echo("Kizuna is running. Open the admin (login link: works once, within 15 minutes;")
        click.echo("`kizuna login-link` prints another):")
        click.echo(f"  {link}")
        click.echo("Or open it as embedded, inside the simulated Shopify admin (`?locale=ja`: in")
        click.echo("Japanese):")
        click.echo(f"  {embedded_admin_url(sandbox_url, DEMO_SHOP, config.shopify_api_key)}")
        click.echo(f"Health: {app_url}/healthz — logs: {supervisor.log_dir}")
        click.echo("Press Ctrl-C to stop everything.")
        sys.stdout.flush()
        if exit_after_sync:
            return
        if activity:
            threading.Thread(
                target=sandbox.run_activity, args=(stop_activity,), daemon=True
            ).start()
            threading.Thread(target=woo.run_activity, args=(stop_activity,), daemon=True).start()
            click.echo("The store is live: new orders and checkouts arrive every few seconds.")
            click.echo("Shoppers browse both stores: their product views reach Kizuna.")
            click.echo(
                "Flows run at demo pace: win-back emails now, thank-yous 6 minutes after an "
                "order, cart reminders from 15 minutes after a cart is left (see the Outbox page)."
            )
            click.echo(
                "A campaign to the repeat customers is sent (see its report under Campaigns)."
            )
        while True:
            supervisor.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        click.echo("\nStopping…")
    finally:
        stop_activity.set()
        if mail_server is not None:
            mail_sandbox.stop_engagement()
        supervisor.stop()
        server.shutdown()
        woo_server.shutdown()
        woo.close()
        if mail_server is not None:
            mail_server.shutdown()
        click.echo("Stopped web, worker, scheduler and the simulated stores and mail service.")
