"""The processes a bench runs Kizuna's jobs with: the environment they see (`bench_env`),
`kizuna worker` processes started as the Procfile runs them and stopped with RQ's warm
shutdown (`workers_running`), the loop a bench watches their work with (`poll`), and the
ceiling's bare-loop senders (`measure_ceiling`).

Shared by the benches that hand emails to the simulated SendGrid through real workers
(`flow_timeliness.py`, `campaign.py`, `profile_flow.py`); each names its own Redis database and
instance folder, so benches never share queues or logs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def bench_env(
    database_url: str, sendgrid_url: str, *, redis_url: str, instance: Path
) -> dict[str, str]:
    """This process's environment with Kizuna configured for a bench: its database and Redis,
    the simulated SendGrid, development settings and the instance folder `instance`."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="bench-secret-key-0123456789",
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        SHOPIFY_API_KEY="bench-app",
        SHOPIFY_API_SECRET="bench-shopify-secret",
        APP_URL="https://kizuna.bench",
        KIZUNA_ENV="development",
        SENDGRID_SANDBOX_URL=sendgrid_url,
        KIZUNA_INSTANCE=str(instance),
        PYTHONPATH=str(ROOT),
    )
    return env


def start_workers(env: dict[str, str], count: int, log: IO[str]) -> list[subprocess.Popen[bytes]]:
    """`kizuna worker` processes, as the Procfile runs them (each with RQ's scheduler)."""
    return [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(count)
    ]


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)  # RQ's warm shutdown: the current job finishes
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def workers_running(
    env: dict[str, str], count: int, log_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` `kizuna worker` processes for the `with` block, logging to `log_path` (written
    afresh); stopped with RQ's warm shutdown when the block ends, however it ends."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        workers = start_workers(env, count, log)
        try:
            yield workers
        finally:
            stop_workers(workers)


def poll(deadline: float, interval: float = 1.0) -> Iterator[None]:
    """Wakes every `interval` seconds until `deadline` (a `time.time()`): the body of the `for`
    looks at the run and leaves the loop (`break`, `return`) once it has its answer."""
    while time.time() < deadline:
        time.sleep(interval)
        yield


def measure_ceiling(script: str, url: str, processes: int, seconds: float) -> float:
    """Emails per second that `processes` bare-loop senders get accepted by the simulated
    SendGrid at `url`: each runs `script --ceiling-child URL SECONDS`, which prints how many
    it had accepted."""
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, script, "--ceiling-child", url, str(seconds)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    total = sum(int((child.communicate()[0] or "0").split()[-1]) for child in children)
    return total / max(time.perf_counter() - started, seconds)
