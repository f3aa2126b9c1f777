"""Which URLs the guarded outbound client may call: a table of address spellings.

Names resolve through a stub that answers a public address unless the table says otherwise, so
a numeric spelling is refused only if the guard reads it as the address it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, load_config
from connectors.base import ConnectorError, RetryableError
from connectors.outbound import (
    ADDRESS_NOT_ALLOWED,
    NO_ANSWER,
    NOT_A_STORE,
    STRICT,
    AddressNotAllowed,
    OutboundPolicy,
    check_url,
    merchant_reason,
    system_resolver,
)

PUBLIC = "93.184.216.34"
NAMES = {
    "metadata.internal": ["169.254.169.254"],
    "redis.internal": ["10.1.2.3"],
    "mixed.example": [PUBLIC, "192.168.0.10"],
    "v6.example": ["2606:4700::1111"],
    "dual.example": ["2606:4700::1111", PUBLIC],
    "v6-private.example": ["fd00::5"],
}


def stub_resolver(host: str, port: int) -> list[str]:
    return NAMES.get(host, [PUBLIC])


REFUSED = [
    "http://shop.example.com",  # plain http outside the development allow list
    "ftp://shop.example.com",
    "https://user:pw@shop.example.com",
    "https://127.0.0.1",
    "https://127.0.0.1:6379",
    "https://2130706433",  # decimal
    "https://0177.0.0.1",  # octal
    "https://0x7f.1",  # hex, short
    "https://0x7f000001",
    "https://127.1",  # short
    "https://127.0.1",
    "https://0",
    "https://0.0.0.0",
    "https://[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "https://[::ffff:7f00:1]",
    "https://[::ffff:169.254.169.254]",
    "https://[::1]",
    "https://[::]",
    "https://[64:ff9b::7f00:1]",  # NAT64 of loopback
    "https://[2002:7f00:1::]",  # 6to4 of loopback
    "https://169.254.169.254",  # link-local: cloud metadata
    "https://0xa9.0xfe.0xa9.0xfe",
    "https://10.0.0.1",
    "https://012.0.0.1",  # octal 10.0.0.1
    "https://172.16.0.1",
    "https://192.168.1.1",
    "https://100.64.0.1",  # carrier-grade NAT
    "https://198.18.0.1",
    "https://192.0.2.1",
    "https://224.0.0.1",  # multicast
    "https://240.0.0.1",  # reserved
    "https://255.255.255.255",
    "https://[fe80::1]",
    "https://[fc00::1]",
    "https://[ff02::1]",
    "https://[fec0::1]",  # site-local
    "https://08.0.0.1",  # not a valid octal number: refused, not guessed
    "https://1.2.3.4.5",
    "https://256.0.0.1",
    "https://metadata.internal",
    "https://redis.internal:6379",
    "https://mixed.example",  # one private answer refuses the host
    "https://v6-private.example",
]

ALLOWED = [
    ("https://shop.example.com", PUBLIC),
    ("https://shop.example.com:8443/store", PUBLIC),
    ("https://93.184.216.34", PUBLIC),
    ("https://1572395042", PUBLIC),  # decimal spelling of a public address
    ("https://[2606:4700::1111]", "2606:4700::1111"),
    ("https://[::ffff:93.184.216.34]", "::ffff:5db8:d822"),
    ("https://v6.example", "2606:4700::1111"),
    ("https://dual.example", PUBLIC),
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused(url: str) -> None:
    with pytest.raises(AddressNotAllowed):
        check_url(url, STRICT, stub_resolver)


@pytest.mark.parametrize(("url", "address"), ALLOWED)
def test_allowed_connects_to_the_checked_address(url: str, address: str) -> None:
    assert check_url(url, STRICT, stub_resolver).address == address


def test_the_system_resolver_is_checked_too() -> None:
    with pytest.raises(AddressNotAllowed):
        check_url("https://localhost", STRICT, system_resolver)


def test_allow_list_only_in_development_and_only_the_listed_port() -> None:
    simulators = OutboundPolicy(development=True, allow_hosts=frozenset({"127.0.0.1:8081"}))
    assert check_url("http://127.0.0.1:8081/shop", simulators).address == "127.0.0.1"
    for url in ("http://127.0.0.1:8082", "https://127.0.0.1:6379", "http://localhost:8081"):
        with pytest.raises(AddressNotAllowed):
            check_url(url, simulators)
    production = OutboundPolicy(development=False, allow_hosts=frozenset({"127.0.0.1:8081"}))
    with pytest.raises(AddressNotAllowed):
        check_url("http://127.0.0.1:8081/shop", production)


def test_settings(tmp_path: Path) -> None:
    policy = OutboundPolicy.from_settings("development", " 127.0.0.1, sim.local:8081 ,")
    assert policy == OutboundPolicy(True, frozenset({"127.0.0.1", "sim.local:8081"}))
    assert OutboundPolicy.from_settings(None, None) == STRICT
    for env, hosts in (("production", "127.0.0.1"), (None, "127.0.0.1"), ("development", "a b")):
        with pytest.raises(ValueError, match="OUTBOUND_ALLOW_HOSTS"):
            OutboundPolicy.from_settings(env, hosts)
    with pytest.raises(ConfigError, match="OUTBOUND_ALLOW_HOSTS"):
        load_config({"OUTBOUND_ALLOW_HOSTS": "127.0.0.1"}, instance_path=tmp_path)
    assert load_config({}, instance_path=tmp_path).outbound == STRICT


def test_merchant_reasons_carry_no_remote_detail() -> None:
    assert merchant_reason(AddressNotAllowed("plain http")) == ADDRESS_NOT_ALLOWED
    assert merchant_reason(RetryableError("answered 503", status=503)) == NO_ANSWER
    assert merchant_reason(OSError("no address")) == NO_ANSWER
    answered = ConnectorError("answered 404 rest_no_route", status=404, code="rest_no_route")
    assert merchant_reason(answered) == NOT_A_STORE
    assert merchant_reason(ValueError("Expecting value")) == NOT_A_STORE
