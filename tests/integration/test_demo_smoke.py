"""`kizuna demo` on the default configuration: SQLite, embedded Redis, the simulated stores.

The demo runs once for this module as a real command in a fresh instance folder with no Kizuna
variables set, at a fast recipients' pace (`--pace 60`: what takes minutes in the demo takes
seconds). It must install into the Shopify store, connect the WooCommerce store to the same
account, finish both first syncs, serve /healthz and every admin page, send win-back emails
whose delivered, opened and clicked events fill the flows page, carry the sender's details,
load product pictures from the simulated stores only, and stop every process on SIGINT.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
LOGIN_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login/link#\S+)")
PACE = "60"
TOKYO = ZoneInfo("Asia/Tokyo")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Demo:
    process: subprocess.Popen[str]
    port: int
    env: dict[str, str]
    instance: Path
    output: list[str] = field(default_factory=list)
    browser: httpx.Client | None = None
    doctor: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def printed(self) -> str:
        return "".join(self.output)

    def printed_url(self, pattern: str) -> str:
        found = re.search(pattern, self.printed, re.MULTILINE)
        assert found, self.printed
        return found.group(1)

    def page(self, path: str) -> str:
        assert self.browser is not None
        response = self.browser.get(path)
        assert response.status_code == 200, path
        return response.text


def _stop(demo: Demo) -> None:
    if demo.process.poll() is not None:
        return
    os.killpg(demo.process.pid, signal.SIGINT)
    try:
        demo.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(demo.process.pid, signal.SIGKILL)
        demo.process.wait()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "REDIS_URL", "SHOPIFY_", "SECRET_KEY", "ENCRYPTION"))
    }
    instance = tmp_path_factory.mktemp("demo") / "instance"
    env["KIZUNA_INSTANCE"] = str(instance)
    arguments = ["--port", str(port), "--customers", "150", "--no-activity", "--pace", PACE]
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "demo", *arguments],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    demo = Demo(process, port, env, instance)
    found = threading.Event()
    link: list[str] = []

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            demo.output.append(line)
            match = LOGIN_LINK.search(line)
            if match:
                link.append(match.group(1))
                found.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        assert found.wait(timeout=240), "demo printed no login link:\n" + demo.printed[-4000:]
        browser = httpx.Client(base_url=demo.base, follow_redirects=True, timeout=20)
        # What the link page's script does: the fragment's token, posted with the CSRF token.
        url, _, token = link[0].partition("#")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(url).text)
        assert csrf
        assert browser.post(url, data={"token": token, "csrf_token": csrf[1]}).status_code == 200
        demo.browser = browser
        demo.doctor = _start_doctor(demo)  # slow to start: it runs while the first tests do
        yield demo
    finally:
        if demo.browser is not None:
            demo.browser.close()
        if demo.doctor is not None and demo.doctor.poll() is None:
            demo.doctor.kill()
            demo.doctor.wait()
        _stop(demo)
        reader.join(timeout=5)


def _start_doctor(demo: Demo) -> subprocess.Popen[str]:
    """`kizuna doctor` beside the demo, on its instance folder and simulated services."""
    woo_store = demo.printed_url(r"^  store +(http://\S+/kizuna-woo) \(WooCommerce")
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "doctor"],
        cwd=ROOT,
        env={
            **demo.env,
            "APP_URL": demo.base,
            "KIZUNA_ENV": "development",
            "SHOPIFY_SANDBOX_URL": demo.printed_url(r"^  store .* at (http://\S+)$"),
            "SENDGRID_SANDBOX_URL": demo.printed_url(r"^  mail +(http://\S+)$"),
            "OUTBOUND_ALLOW_HOSTS": woo_store.removeprefix("http://").split("/")[0],
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_every_admin_page_answers(demo: Demo) -> None:
    customers = demo.page("/app/customers")
    assert customers.count("/app/customers/") >= 10
    for path in (
        "/app/customers/1",
        "/app/segments",
        "/app/segments/saved/new",
        "/app/analytics",
        "/app/flows",
        "/app/flows/winback",
        "/app/flows/thank_you",
        "/app/outbox",
        "/app/stores",
        "/app/settings/sender",
        "/app/privacy",
        "/api/v1/flows",
    ):
        demo.page(path)


def test_both_platforms_in_one_account_with_people_across_stores(demo: Demo) -> None:
    stores = demo.page("/app/stores")
    assert "kizuna-demo.myshopify.com" in stores or "Kizuna Tea &amp; Craft" in stores
    assert "/kizuna-woo" in stores
    shared = re.search(r'data-field="shared-people">([\d,]+)<', stores)
    assert shared
    assert int(shared[1]) > 0
    with sqlite3.connect(demo.instance / "kizuna.sqlite3") as database:
        platforms = dict(
            database.execute(
                "SELECT s.platform, count(c.id) FROM shops s JOIN customers c ON c.shop_id = s.id"
                " GROUP BY s.platform"
            ).fetchall()
        )
        woo_shop = database.execute(
            "SELECT id FROM shops WHERE platform = 'woocommerce'"
        ).fetchone()
    assert platforms["shopify"] >= 150
    assert platforms["woocommerce"] > 0
    woo_customers = demo.page(f"/app/customers?shop_id={woo_shop[0]}")
    assert woo_customers.count("/app/customers/") >= 5


def test_flows_page_shows_delivered_opened_and_clicked(demo: Demo) -> None:
    """The win-back scan runs at once; the simulated SendGrid's recipients act at the demo's
    pace, so the flows page counts deliveries, opens and clicks (within ten minutes at pace 1,
    seconds here)."""
    with sqlite3.connect(demo.instance / "kizuna.sqlite3") as database:
        shopify = database.execute("SELECT id FROM shops WHERE platform = 'shopify'").fetchone()
    deadline = time.monotonic() + 15
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        page = demo.page(f"/app/flows?shop_id={shopify[0]}")
        section = page.split('id="flow-winback"', 1)[1]
        counts = {
            name: int(re.search(rf'data-field="{name}">([\d,]+)<', section)[1].replace(",", ""))  # type: ignore[index]
            for name in ("sent", "delivered", "opened", "clicked")
        }
        if counts["delivered"] and counts["opened"] and counts["clicked"]:
            break
        time.sleep(1)
    assert counts["sent"] > 0, counts
    assert counts["delivered"] > 0, counts
    assert counts["opened"] > 0, counts
    assert counts["clicked"] > 0, counts
    assert "flow-winback" in demo.page(f"/app/outbox?shop_id={shopify[0]}")


def test_the_demo_celebrates_this_months_birthdays(demo: Demo) -> None:
    """The simulated stores give some customers a birthday (Shopify's `facts.birth_date`
    metafield, WooCommerce meta); the demo's birthday flow takes the whole month, so the daily
    scan at start shows birthday runs whatever the day."""
    deadline = time.monotonic() + 30
    found: list[tuple[int, int]] = []
    while time.monotonic() < deadline and not found:
        with sqlite3.connect(demo.instance / "kizuna.sqlite3") as database:
            found = database.execute(
                "SELECT r.customer_id, c.birth_month FROM flow_runs r"
                " JOIN customers c ON c.id = r.customer_id WHERE r.flow_key = 'birthday'"
            ).fetchall()
            known = database.execute(
                "SELECT count(*) FROM customers WHERE birth_month IS NOT NULL"
            ).fetchone()[0]
        time.sleep(1)
    assert known > 0
    assert found, "no birthday run"
    assert {month for _customer, month in found} == {datetime.now(TOKYO).month}


def test_emails_carry_the_senders_details_and_no_cdn(demo: Demo) -> None:
    mail = demo.printed_url(r"^  mail +(http://\S+)$")
    outbox = httpx.get(f"{mail}/_sandbox/outbox", params={"limit": 20}, timeout=10).json()
    assert outbox["messages"]
    for message in outbox["messages"]:
        assert message["from"]["name"] == "Kizuna Tea & Craft"
        assert message["reply_to"] == "hello@kizuna-tea.example"
        for part in (message["html"], message["text"]):
            assert "東京都渋谷区神宮前" in part
            assert "03-1234-5678" in part
            assert "cdn." not in part
    # Product pictures are the simulated stores' own, and they answer.
    with sqlite3.connect(demo.instance / "kizuna.sqlite3") as database:
        images = dict(
            database.execute(
                "SELECT s.platform, min(p.image_url) FROM products p"
                " JOIN shops s ON s.id = p.shop_id GROUP BY s.platform"
            ).fetchall()
        )
    assert set(images) == {"shopify", "woocommerce"}
    for url in images.values():
        assert url.startswith("http://127.0.0.1:"), url
        picture = httpx.get(url, timeout=10)
        assert picture.status_code == 200
        assert picture.headers["Content-Type"] == "image/png"


def test_healthz_and_doctor_pass_beside_the_demo(demo: Demo) -> None:
    health = httpx.get(f"{demo.base}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["database"] == "ok"
    assert health.json()["redis"] == "ok"
    assert demo.doctor is not None
    # Started with the demo's first page, it has had the other tests' time to run.
    output, _ = demo.doctor.communicate(timeout=15)
    assert demo.doctor.returncode == 0, output
    assert "✓ kizuna-demo.myshopify.com: webhooks: 13 topics" in output, output
    assert "✓ http://127.0.0.1:" in output, output  # the WooCommerce store's webhooks
    assert (demo.instance / "kizuna.sqlite3").exists()


def test_a_campaign_goes_to_the_repeat_customers_and_its_report_fills(demo: Demo) -> None:
    """The demo sends one campaign (ja and en, recommended products, 10 % held out); the
    simulated recipients' events reach its report."""
    database_path = demo.instance / "kizuna.sqlite3"
    deadline = time.monotonic() + 20
    found: tuple[int, ...] = ()
    while time.monotonic() < deadline:
        with sqlite3.connect(database_path) as database:
            found = (
                database.execute(
                    "SELECT c.id, c.status, count(m.id), count(m.delivered_at), c.shop_id"
                    " FROM campaigns c LEFT JOIN messages m ON m.campaign_id = c.id"
                    " GROUP BY c.id, c.status, c.shop_id"
                ).fetchone()
                or ()
            )
        if found and found[1] == "sent" and found[3]:
            break
        time.sleep(1)
    assert found, "the demo made no campaign"
    campaign_id, status, emailed, delivered, shop_id = found
    assert status == "sent"
    assert emailed > 0
    assert delivered > 0
    report = demo.page(f"/app/campaigns/{campaign_id}/report?shop_id={shop_id}")
    assert "新茶のご案内" in report


def test_ctrl_c_stops_every_process(demo: Demo) -> None:
    """SIGINT: the web, worker and scheduler processes and the simulated services stop (the
    interpreter's own exit is left to the fixture)."""
    os.killpg(demo.process.pid, signal.SIGINT)
    deadline = time.monotonic() + 15
    while "Stopped" not in demo.printed and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Stopped" in demo.printed
    assert not _port_open(demo.port), "the web process is still serving after Ctrl-C"
