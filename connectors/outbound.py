"""Guarded outbound HTTP for every URL a merchant, a shopper or a webhook supplies.

Layer: connectors. Only https to hosts whose every address is public (all spellings), re-checked
at each redirect; the socket connects to the checked address (no DNS rebinding), proxies ignored.
Plain http and private addresses: only allow-listed local simulators in development.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool

from connectors.base import ConnectorError, RetryableError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

DEVELOPMENT = "development"
MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}

# What the merchant is told; the remote status and body stay out of it.
ADDRESS_NOT_ALLOWED = "This address is not allowed."
NO_ANSWER = "The store did not answer."
NOT_A_STORE = "This is not a WooCommerce store."

_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class AddressNotAllowed(ConnectorError):
    """The URL's scheme, port or any address of its host is one Kizuna must not call."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"outbound request refused: {detail}", code="address_not_allowed")


@dataclass(frozen=True)
class OutboundPolicy:
    """Which hosts may be called over plain http and on private addresses (development only)."""

    development: bool = False
    allow_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, kizuna_env: str | None, allow_hosts: str | None) -> OutboundPolicy:
        """From `KIZUNA_ENV` and `OUTBOUND_ALLOW_HOSTS`; ValueError names a bad value."""
        entries = frozenset(
            entry.strip().lower() for entry in (allow_hosts or "").split(",") if entry.strip()
        )
        development = (kizuna_env or "").strip().lower() == DEVELOPMENT
        for entry in entries:
            host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
            if not re.fullmatch(r"[a-z0-9.-]+", host) or (port and not port.isdigit()):
                raise ValueError(f"OUTBOUND_ALLOW_HOSTS: {entry!r} is not a host or host:port")
        if entries and not development:
            raise ValueError("OUTBOUND_ALLOW_HOSTS is only honoured with KIZUNA_ENV=development")
        return cls(development=development, allow_hosts=entries)

    def allow_listed(self, host: str, port: int) -> bool:
        if not self.development:
            return False
        return host in self.allow_hosts or f"{host}:{port}" in self.allow_hosts


STRICT = OutboundPolicy()


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to `address`, speak to `host` (Host header, TLS name)."""

    scheme: str
    host: str
    port: int
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as error:  # IDNA refuses it (a label over 63 characters): no such host
        raise OSError("not a resolvable host name") from error
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host spells, as `inet_aton` reads it (`127.1`, `0x7f.1`,
    `2130706433`, `0177.0.0.1`) or an IPv6 literal; None for a name. A numeric spelling
    that is not a valid address is refused rather than handed to a resolver to guess."""
    text = host.strip("[]").rstrip(".").lower()
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
        except ValueError as error:
            raise AddressNotAllowed("malformed IPv6 address") from error
    parts = text.split(".")
    if not text or not all(_NUMERIC_PART.match(part) for part in parts):
        return None
    if len(parts) > 4:
        raise AddressNotAllowed("malformed numeric address")
    try:
        values = [_numeric_part(part) for part in parts]
    except ValueError as error:
        raise AddressNotAllowed("malformed numeric address") from error
    # The last part fills every byte the earlier ones leave (a.b.c.d, a.b.cd, a.bcd, abcd).
    last_bytes = 5 - len(values)
    if any(v > 255 for v in values[:-1]) or values[-1] >= 256**last_bytes:
        raise AddressNotAllowed("malformed numeric address")
    number = 0
    for value in values[:-1]:
        number = number * 256 + value
    number = number * 256**last_bytes + values[-1]
    return ipaddress.IPv4Address(number)


def _numeric_part(part: str) -> int:
    if part.startswith("0x"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8)
    return int(part)


def is_public_address(address: IPAddress) -> bool:
    """True only for a globally routable unicast address, looking inside IPv6 wrappings."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour]
        if address.teredo:
            embedded.extend(address.teredo)
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(inner is not None and not is_public_address(inner) for inner in embedded):
            return False
        if address.ipv4_mapped is not None:
            return True
        if address.is_site_local:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )


def check_url(url: str, policy: OutboundPolicy, resolver: Resolver = system_resolver) -> Target:
    """The checked destination of `url`, or AddressNotAllowed; OSError if the host has no
    address. Every resolved address must be public: one private answer refuses the host."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise AddressNotAllowed("only http(s) URLs")
    if parts.username is not None or parts.password is not None:
        raise AddressNotAllowed("credentials in the URL")
    host = (parts.hostname or "").lower().rstrip(".")  # `name.` is `name`, fully qualified
    if not host:
        raise AddressNotAllowed("no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as error:
        raise AddressNotAllowed("malformed port") from error
    allow_listed = policy.allow_listed(host, port)
    if scheme == "http" and not allow_listed:
        raise AddressNotAllowed("plain http")
    literal = numeric_host(host)
    addresses = [str(literal)] if literal is not None else resolver(host, port)
    if not addresses:
        raise OSError(f"no address for {host}")
    if not allow_listed:
        for address in addresses:
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError as error:
                raise AddressNotAllowed("unreadable address") from error
            if not is_public_address(parsed):
                raise AddressNotAllowed("not a public address")
    # Every address passed; IPv4 first, since many hosts have no IPv6 route out.
    address = next((a for a in addresses if ":" not in a), addresses[0])
    return Target(scheme=scheme, host=host, port=port, address=address)


class PinnedAdapter(HTTPAdapter):
    """Checks each request (so each redirect hop) and connects to the checked address."""

    def __init__(self, policy: OutboundPolicy, resolver: Resolver = system_resolver) -> None:
        super().__init__(max_retries=0)
        self.policy = policy
        self.resolver = resolver
        self._pending = threading.local()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            target = check_url(request.url or "", self.policy, self.resolver)
        except OSError as error:
            raise requests.ConnectionError(f"cannot resolve: {error}", request=request) from error
        default = DEFAULT_PORTS[target.scheme]
        request.headers["Host"] = (
            target.host if target.port == default else f"{target.host}:{target.port}"
        )
        self._pending.target = target
        try:
            return super().send(request, *args, **kwargs)
        finally:
            self._pending.target = None

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Any = None,
        cert: Any = None,
    ) -> HTTPConnectionPool:
        target: Target | None = getattr(self._pending, "target", None)
        if target is None:  # only `send` above may open connections
            raise AddressNotAllowed("unchecked request")
        _, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        address = f"[{target.address}]" if ":" in target.address else target.address
        if target.scheme == "https":
            # The socket goes to the checked address; SNI and certificate check use the name.
            pool_kwargs["server_hostname"] = target.host
            pool_kwargs["assert_hostname"] = target.host
        pool: HTTPConnectionPool = self.poolmanager.connection_from_host(
            host=address, port=target.port, scheme=target.scheme, pool_kwargs=pool_kwargs
        )
        return pool


def guarded_session(
    policy: OutboundPolicy, resolver: Resolver = system_resolver
) -> requests.Session:
    """A requests session whose every request, redirects included, goes through the guard."""
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc from the environment
    session.max_redirects = MAX_REDIRECTS
    adapter = PinnedAdapter(policy, resolver)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def merchant_reason(error: BaseException) -> str:
    """The short reason a merchant is shown for a failed call to their store: whether it was
    refused here, never answered (network, timeout, 5xx, 429) or answered unlike a store."""
    if isinstance(error, AddressNotAllowed):
        return ADDRESS_NOT_ALLOWED
    if isinstance(error, RetryableError | requests.RequestException | OSError):
        return NO_ANSWER
    if isinstance(error, ConnectorError | ValueError):
        return NOT_A_STORE
    return NO_ANSWER
