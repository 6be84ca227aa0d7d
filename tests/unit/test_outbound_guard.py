"""The one outbound guard refuses every spelling of an inside address, before any connection.

URL and address rules (domain.outbound) directly; the client (adapters.outbound) with only
socket.getaddrinfo replaced, to make names resolve to chosen addresses (public DNS cannot be
controlled here). Every refusal below happens before a socket is opened: a connection attempt
would fail the test through the guard below.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from typing import Any

import pytest

from adapters.factory import outbound_allow_list
from adapters.outbound import OutboundClient
from domain.failures import PermanentFailure
from domain.outbound import (
    AllowList,
    InvalidOutboundUrl,
    parse_outbound_url,
    redirect_target,
    refusal_reason,
)

NOBODY = AllowList()


def url_problems(url: str, allowed: AllowList = NOBODY) -> str:
    with pytest.raises(InvalidOutboundUrl) as caught:
        parse_outbound_url(url, allowed, what="status URL")
    return str(caught.value)


@pytest.fixture(autouse=True)
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket connection attempt fails the test: refusals must come before connecting."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the guard tried to connect")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


# -- URL literals in every form ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        # Loopback, private, link-local and metadata literals.
        ("https://127.0.0.1/s", "loopback address"),
        ("https://10.1.2.3/s", "private address"),
        ("https://172.16.0.1/s", "private address"),
        ("https://192.168.1.1/s", "private address"),
        ("https://169.254.169.254/latest/meta-data", "cloud instance metadata service"),
        ("https://169.254.1.1/s", "link-local address"),
        ("https://168.63.129.16/s", "wireserver"),
        ("https://100.64.0.1/s", "shared address space"),
        ("https://0.0.0.0/s", "unspecified address"),
        ("https://[::1]/s", "loopback address"),
        ("https://[fe80::1]/s", "link-local address"),
        ("https://[fd00:ec2::254]/s", "unique local"),
        # IPv6 spellings of IPv4 inside addresses.
        ("https://[::ffff:127.0.0.1]/s", "IPv4-mapped form of 127.0.0.1, loopback"),
        ("https://[::ffff:7f00:1]/s", "IPv4-mapped form of 127.0.0.1, loopback"),
        ("https://[::ffff:169.254.169.254]/s", "IPv4-mapped form of 169.254.169.254"),
        ("https://[::ffff:a9fe:a9fe]/s", "IPv4-mapped form of 169.254.169.254"),
        ("https://[::ffff:10.0.0.1]/s", "IPv4-mapped form of 10.0.0.1, private"),
        ("https://[::127.0.0.1]/s", "IPv4-compatible form of 127.0.0.1"),
        ("https://[64:ff9b::a9fe:a9fe]/s", "NAT64 form of 169.254.169.254"),
        ("https://[2002:7f00:1::]/s", "6to4 form of 127.0.0.1"),
        # Numeric hosts that resolvers read as IPv4: decimal, octal, hex, short forms.
        ("https://2130706433/s", "numeric address in a non-standard form"),
        ("https://0177.0.0.1/s", "numeric address in a non-standard form"),
        ("https://0x7f000001/s", "numeric address in a non-standard form"),
        ("https://0x7f.0.0.1/s", "numeric address in a non-standard form"),
        ("https://0x7f.1/s", "numeric address in a non-standard form"),
        ("https://127.1/s", "numeric address in a non-standard form"),
        ("https://017700000001/s", "numeric address in a non-standard form"),
        ("https://3232235777/s", "numeric address in a non-standard form"),  # 192.168.1.1
        ("https://[fe80::1%25eth0]/s", "zone ids"),
        # Other URL tricks.
        ("http://example.com/s", "scheme must be https"),
        ("https://user:pass@example.com/s", "user names and passwords"),
        ("https://example.com\\@127.0.0.1/s", "backslashes"),
        ("file:///etc/passwd", "scheme must be https"),
        ("gopher://example.com/", "scheme must be https"),
    ],
)
def test_refused_urls_in_every_form(url: str, problem: str) -> None:
    text = url_problems(url)
    assert text.startswith("invalid status URL: ")
    assert problem in text, text


def test_public_hosts_and_literals_pass() -> None:
    for url in (
        "https://example.com/status?x=1",
        "https://93.184.216.34/",
        "https://[2606:4700::1]/",
    ):
        assert parse_outbound_url(url, NOBODY).scheme == "https"


def test_an_allow_listed_host_may_use_http_and_private_addresses() -> None:
    allowed = AllowList.parse(["127.0.0.1:8080"])
    assert parse_outbound_url("http://127.0.0.1:8080/s", allowed).allow_listed
    assert "loopback" in url_problems("http://127.0.0.1:8081/s", allowed)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "fc00::1", "fe80::1"],
)
def test_refusal_reason_refuses_inside_addresses(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is not None


# -- redirect hops ------------------------------------------------------------------------------


def test_a_redirect_target_is_vetted_like_a_new_url() -> None:
    allowed = AllowList.parse(["127.0.0.1:8080"])
    here = parse_outbound_url("http://127.0.0.1:8080/a/b?x=1", allowed)
    assert redirect_target(here, "c", allowed).url == "http://127.0.0.1:8080/a/c"
    assert redirect_target(here, "/d?y=2", allowed).url == "http://127.0.0.1:8080/d?y=2"
    for location, problem in [
        ("http://169.254.169.254/latest", "scheme must be https"),
        ("https://169.254.169.254/latest", "cloud instance metadata"),
        ("https://[::ffff:7f00:1]/", "IPv4-mapped"),
        ("https://2130706433/", "non-standard form"),
        ("http://127.0.0.1:9090/", "loopback"),  # another port is not allow-listed
        ("", "without a Location"),
    ]:
        with pytest.raises(InvalidOutboundUrl) as caught:
            redirect_target(here, location, allowed)
        assert problem in str(caught.value), location
        assert str(caught.value).startswith("invalid redirect from the URL")


# -- the client: names resolving inside, before any connection ---------------------------------


Answer = list[tuple[Any, ...]]


@pytest.fixture
def resolve_to(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Make getaddrinfo answer chosen addresses for every name; returns the names looked up."""
    looked_up: list[str] = []

    def install(*addresses: str) -> list[str]:
        def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Answer:
            looked_up.append(host)
            answers = []
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port, 0, 0) if ":" in address else (address, port)
                answers.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
            return answers

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return looked_up

    return install


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.7",
        "192.168.0.1",
        "169.254.169.254",
        "::1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "fd00:ec2::254",
        "fe80::1%eth0",
    ],
)
def test_a_name_resolving_to_an_inside_address_is_refused(
    resolve_to: Callable[..., list[str]], address: str
) -> None:
    looked_up = resolve_to(address)
    with pytest.raises(PermanentFailure) as caught:
        OutboundClient(NOBODY).request("GET", "https://status.example.com/op/1")
    assert f"status.example.com resolves to {address}, which is refused" in caught.value.reason
    assert looked_up == ["status.example.com"]
    assert "/op/1" not in caught.value.reason


def test_one_inside_address_among_public_ones_refuses_the_host(
    resolve_to: Callable[..., list[str]],
) -> None:
    resolve_to("93.184.216.34", "10.0.0.1")
    with pytest.raises(PermanentFailure, match=re.escape("resolves to 10.0.0.1")):
        OutboundClient(NOBODY).request("GET", "https://mixed.example.com/")


def test_a_refused_literal_is_refused_without_a_lookup(
    resolve_to: Callable[..., list[str]],
) -> None:
    looked_up = resolve_to("93.184.216.34")
    for url in ("https://[::ffff:127.0.0.1]/", "https://0177.0.0.1/", "https://2130706433/"):
        with pytest.raises(PermanentFailure, match="invalid status URL"):
            OutboundClient(NOBODY).request("GET", url, what="status URL")
    assert looked_up == []


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_redirects"):
        OutboundClient(NOBODY).request("GET", "https://example.com/", max_redirects=6)
    with pytest.raises(ValueError, match="timeouts"):
        OutboundClient(NOBODY, read_timeout=0)


def test_the_allow_list_comes_from_both_settings_and_names_a_bad_one() -> None:
    allowed = outbound_allow_list(
        {"OUTBOUND_ALLOWED_HOSTS": "127.0.0.1:9000", "WEBHOOK_ALLOWED_HOSTS": "localhost"},
        purpose="monitor polls",
    )
    assert allowed.allows("127.0.0.1", 9000) and allowed.allows("localhost", 1)
    assert not allowed.allows("127.0.0.1", 9001)
    assert outbound_allow_list({}, purpose="x").entries == frozenset()
    for setting in ("OUTBOUND_ALLOWED_HOSTS", "WEBHOOK_ALLOWED_HOSTS"):
        with pytest.raises(PermanentFailure) as caught:
            outbound_allow_list({setting: "http://x"}, purpose="monitor polls")
        assert caught.value.reason.startswith(f"monitor polls are not configured: {setting}: ")
