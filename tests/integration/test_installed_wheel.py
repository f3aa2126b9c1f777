"""A non-editable install serves every page: build the wheel, install it into a fresh venv, and
run the installed `kizuna` on the embedded defaults in an empty folder, far from the repository.

The new venv gets the project's dependencies from the running interpreter's site-packages (a
`.pth` line): the test checks what the wheel carries, offline, without a second copy of numpy.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from babel.support import Translations

from tests.processes import die_with_parent, stop_embedded_redis

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        check=True,
        cwd=out,
    )
    [built] = out.glob("kizuna-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies only: the project itself must come from the wheel, not from this checkout.
    Path(site, "kizuna-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True)
    return venv


def test_the_wheel_carries_every_template_and_static_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    data = "kizuna-0.1.0.data/data/share/kizuna/"
    for path in (ROOT / "templates").rglob("*"):
        if path.is_file():
            assert data + path.relative_to(ROOT).as_posix() in names, path
    for path in (ROOT / "app" / "static").rglob("*"):
        if path.is_file():
            assert path.relative_to(ROOT).as_posix() in names, path
    assert any(name.startswith("migrations/versions/") for name in names)
    catalogues = list((ROOT / "app" / "translations").rglob("messages.[pm]o"))
    assert len(catalogues) >= 2  # the Japanese .po and its compiled .mo
    for path in catalogues:
        assert path.relative_to(ROOT).as_posix() in names, path


@pytest.fixture
def installed_web(installed: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "REDIS_URL", "KIZUNA_", "PYTHONPATH"))
    }
    kizuna = str(installed / "bin" / "kizuna")
    subprocess.run([kizuna, "db", "upgrade"], check=True, cwd=workdir, env=env, timeout=120)
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [kizuna, "web", "--port", str(port), "--workers", "1"],
            cwd=workdir,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{url}/login", timeout=2)
                    break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(log_path.read_text()[-3000:])
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
            stop_embedded_redis(workdir / "instance")  # daemonized: it outlives the web
    assert "TemplateNotFound" not in log_path.read_text()


@pytest.mark.slow
def test_the_installed_app_renders_the_admin_from_outside_the_repository(
    installed: Path, installed_web: str
) -> None:
    located = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import app; print(app.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd="/",
    ).stdout
    assert located.startswith(str(installed)), located

    login = httpx.get(f"{installed_web}/login", timeout=10)
    assert login.status_code == 401  # the sign-in page, rendered from the shipped templates
    assert 'class="login-form" method="post" action="/login"' in login.text
    assert "admin/admin.css" in login.text
    japanese = httpx.get(f"{installed_web}/login", headers={"Accept-Language": "ja"}, timeout=10)
    sign_in = Translations.load(str(ROOT / "app" / "translations"), ["ja"]).gettext("Sign in")
    assert sign_in != "Sign in"
    assert f"<title>{sign_in}" in japanese.text  # the shipped .mo, read by the installed app
    css = httpx.get(f"{installed_web}/static/admin/admin.css", timeout=10)
    assert css.status_code == 200
    assert css.text == (ROOT / "app" / "static" / "admin" / "admin.css").read_text()
