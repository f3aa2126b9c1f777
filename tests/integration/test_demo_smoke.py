"""`kizuna demo` on the default configuration: SQLite, embedded Redis, the simulated store.

The demo runs as a real command in a fresh instance folder with no Kizuna variables set; it must
install into the store, finish the first sync, serve /healthz and the customer list, and stop
every process it started on SIGINT.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
LOGIN_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login/link#\S+)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_demo_runs_on_embedded_defaults_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "REDIS_URL", "SHOPIFY_", "SECRET_KEY", "ENCRYPTION"))
    }
    env["KIZUNA_INSTANCE"] = str(tmp_path / "instance")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "demo",
            "--port",
            str(port),
            "--customers",
            "150",
            "--no-activity",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    found = threading.Event()
    link: list[str] = []

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = LOGIN_LINK.search(line)
            if match:
                link.append(match.group(1))
                found.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        assert found.wait(timeout=240), "demo printed no login link:\n" + "".join(output[-40:])
        base = f"http://127.0.0.1:{port}"
        health = httpx.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json()["database"] == "ok"
        assert health.json()["redis"] == "ok"

        # `kizuna doctor` beside the demo, on its instance folder and simulated services, passes.
        printed = "".join(output)
        store_url = re.search(r"^  store .* at (http://\S+)$", printed, re.MULTILINE)
        mail_url = re.search(r"^  mail +(http://\S+)$", printed, re.MULTILINE)
        assert store_url, printed
        assert mail_url, printed
        doctor = subprocess.run(
            [sys.executable, "-m", "app.cli", "doctor"],
            cwd=ROOT,
            env={
                **env,
                "APP_URL": base,
                "SHOPIFY_SANDBOX_URL": store_url.group(1),
                "SENDGRID_SANDBOX_URL": mail_url.group(1),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "✓ kizuna-demo.myshopify.com: webhooks: 12 topics" in doctor.stdout, doctor.stdout

        with httpx.Client(base_url=base, follow_redirects=True, timeout=20) as browser:
            # What the link page's script does: the fragment's token, posted with the CSRF token.
            url, _, token = link[0].partition("#")
            page = browser.get(url)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            home = browser.post(url, data={"token": token, "csrf_token": csrf[1]})
            assert home.status_code == 200
            customers = browser.get("/app/customers")
            assert customers.status_code == 200
            assert customers.text.count("/app/customers/") >= 10
            # Every page of the admin answers on the embedded SQLite database.
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
                "/api/v1/flows",
            ):
                assert browser.get(path).status_code == 200, path
            # Demo pace: the win-back scan runs at once and its emails reach the outbox.
            deadline = time.monotonic() + 60
            outbox = browser.get("/app/outbox").text
            while "flow-winback" not in outbox and time.monotonic() < deadline:
                time.sleep(1)
                outbox = browser.get("/app/outbox").text
            assert "flow-winback" in outbox, "no win-back email reached the demo's outbox"
        assert (tmp_path / "instance" / "kizuna.sqlite3").exists()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        reader.join(timeout=5)
    assert "Stopped" in "".join(output)
    deadline = time.monotonic() + 10
    while _port_open(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _port_open(port), "the web process is still serving after Ctrl-C"
