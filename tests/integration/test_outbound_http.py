"""The guarded outbound client over real sockets: redirects, DNS rebinding, pinned TLS.

No database. A raw listener on a loopback port stands for an internal service: every test that
aims at it asserts it accepted no connection at all.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.outbound import STRICT, AddressNotAllowed, OutboundPolicy, guarded_session
from tests.conftest import LiveServer

PUBLIC = "93.184.216.34"


class Listener:
    """Accepts TCP connections on a loopback port and records each one."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(1)
                try:
                    self.accepted.append(connection.recv(1024))
                except OSError:
                    self.accepted.append(b"")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def internal() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture
def redirector(internal: Listener) -> Iterator[LiveServer]:
    targets = {
        "/to-loopback": f"http://127.0.0.1:{internal.port}/secret",
        "/to-localhost": f"http://localhost:{internal.port}/secret",
        "/to-decimal": f"http://2130706433:{internal.port}/secret",
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/to-https-loopback": f"https://[::ffff:127.0.0.1]:{internal.port}/",
        "/to-self": "/landing",
    }

    def app(environ: Any, start_response: Any) -> Any:
        path = Request(environ).path
        if path in targets:
            response = Response("", 302, headers={"Location": targets[path]})
        else:
            response = Response("landed", 200)
        return response(environ, start_response)

    server = LiveServer(app)
    yield server
    server.stop()


def _policy_for(server: LiveServer) -> OutboundPolicy:
    """Development policy listing only the redirecting server's own port."""
    port = server.url.rsplit(":", 1)[1]
    return OutboundPolicy(development=True, allow_hosts=frozenset({f"127.0.0.1:{port}"}))


@pytest.mark.parametrize(
    "path",
    ["/to-loopback", "/to-localhost", "/to-decimal", "/to-metadata", "/to-https-loopback"],
)
def test_a_redirect_to_an_inside_address_is_refused_at_the_hop(
    redirector: LiveServer, internal: Listener, path: str
) -> None:
    with guarded_session(_policy_for(redirector)) as session, pytest.raises(AddressNotAllowed):
        session.get(f"{redirector.url}{path}", timeout=(1, 2))
    assert internal.accepted == []


def test_a_redirect_to_an_allowed_address_is_followed(redirector: LiveServer) -> None:
    with guarded_session(_policy_for(redirector)) as session:
        response = session.get(f"{redirector.url}/to-self", timeout=(1, 2))
    assert (response.status_code, response.text) == (200, "landed")
    assert [r.status_code for r in response.history] == [302]


def test_dns_rebinding_cannot_move_the_connection_after_the_check(internal: Listener) -> None:
    """The resolver says public when asked, then loopback (as a rebinding DNS server would;
    the system resolver also says loopback for `localhost`): the socket must go to the public
    address that was checked, never to the listener."""
    answers = [[PUBLIC], ["127.0.0.1"]]
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    with (
        guarded_session(STRICT, rebinding) as session,
        pytest.raises(requests.ConnectionError) as raised,
    ):
        session.get(f"https://localhost:{internal.port}/", timeout=(1, 1))
    assert internal.accepted == []
    assert asked == ["localhost"]  # checked once, and that answer is where it connected
    assert PUBLIC in str(raised.value)


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_store(tmp_path: Path) -> Iterator[tuple[str, Path, list[str], list[str]]]:
    """An https server on loopback with a certificate for `shop.test`; records SNI and Host."""
    cert_path, key_path = _certificate(tmp_path, "shop.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server_names: list[str] = []
    hosts: list[str] = []
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)  # type: ignore[assignment,misc]

    def app(environ: Any, start_response: Any) -> Any:
        hosts.append(environ.get("HTTP_HOST", ""))
        return Response("{}", 200)(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"shop.test:{server.server_port}", cert_path, server_names, hosts
    server.shutdown()
    server.server_close()


def test_pinned_tls_speaks_to_the_name_and_verifies_it(
    tls_store: tuple[str, Path, list[str], list[str]],
) -> None:
    """`shop.test` has no DNS: the request only arrives because the socket goes to the checked
    address, while SNI, the Host header and the certificate check all use the name."""
    netloc, cert_path, server_names, hosts = tls_store
    policy = OutboundPolicy(development=True, allow_hosts=frozenset({"shop.test"}))
    with guarded_session(policy, lambda _h, _p: ["127.0.0.1"]) as session:
        response = session.get(f"https://{netloc}/ok", verify=str(cert_path), timeout=5)
    assert response.status_code == 200
    assert server_names == ["shop.test"]
    assert hosts == [netloc]

    # The same certificate for another name that resolves to the same place: refused.
    other = OutboundPolicy(development=True, allow_hosts=frozenset({"other.test"}))
    port = netloc.rsplit(":", 1)[1]
    with (
        guarded_session(other, lambda _h, _p: ["127.0.0.1"]) as session,
        pytest.raises(requests.exceptions.SSLError),
    ):
        session.get(f"https://other.test:{port}/ok", verify=str(cert_path), timeout=5)
    assert hosts == [netloc]
