"""domain.webhooks and the outbound guard it relies on: callback URL rules, refused address
classes, signing and verification."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime

import pytest

from domain.failures import FailureKind
from domain.outbound import (
    MAX_URL_LENGTH,
    AllowList,
    InvalidOutboundUrl,
    OutboundUrl,
    classify_status,
    parse_outbound_url,
    refusal_reason,
)
from domain.payload import InvalidPayload, read
from domain.webhooks import (
    ID_HEADER,
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    WebhookRequest,
    WebhookResult,
    sign,
    signature,
    verify,
)

KEY = "k" * 32
NOW = 1_750_000_000
NO_HOSTS = AllowList()
LOCAL = AllowList.parse(["localhost", "127.0.0.1:8080", "[::1]:9000"])


def parse_callback_url(url: object, allowed: AllowList) -> OutboundUrl:
    return parse_outbound_url(url, allowed, what="callback URL")


def _problems(url: object, allowed: AllowList = NO_HOSTS) -> str:
    with pytest.raises(InvalidOutboundUrl) as caught:
        parse_callback_url(url, allowed)
    return str(caught.value)


# --- callback URLs -------------------------------------------------------------------------


def test_an_https_url_is_split_into_what_the_sender_needs() -> None:
    url = parse_callback_url("HTTPS://Hooks.Example.COM/orders/done?tenant=7", NO_HOSTS)

    assert url == OutboundUrl("https", "hooks.example.com", 443, "/orders/done?tenant=7", False)
    assert url.host_header == "hooks.example.com"
    assert url.origin == "https://hooks.example.com"


def test_a_port_and_an_empty_path() -> None:
    url = parse_callback_url("https://hooks.example.com:8443", NO_HOSTS)

    assert (url.port, url.target, url.host_header) == (8443, "/", "hooks.example.com:8443")


def test_a_trailing_dot_names_the_same_host() -> None:
    assert parse_callback_url("https://example.com./x", NO_HOSTS).host == "example.com"


def test_public_ip_literals_are_accepted() -> None:
    assert parse_callback_url("https://8.8.8.8/x", NO_HOSTS).address == ipaddress.ip_address(
        "8.8.8.8"
    )
    url = parse_callback_url("https://[2001:4860:4860::8888]:8443/x", NO_HOSTS)
    assert url.host == "2001:4860:4860::8888"
    assert url.host_header == "[2001:4860:4860::8888]:8443"


def test_plain_http_is_refused_unless_the_host_is_allow_listed() -> None:
    assert "https" in _problems("http://hooks.example.com/x")

    local = parse_callback_url("http://localhost:7071/hook", LOCAL)
    assert (local.scheme, local.allow_listed, local.host_header) == ("http", True, "localhost:7071")


def test_an_allow_list_entry_with_a_port_allows_only_that_port() -> None:
    assert parse_callback_url("http://127.0.0.1:8080/", LOCAL).allow_listed
    assert parse_callback_url("http://[::1]:9000/", LOCAL).allow_listed
    problems = _problems("http://127.0.0.1:8081/", LOCAL)
    assert "https" in problems
    assert "loopback" in problems


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "scheme must be https"),
        ("https://user:secret@example.com/x", "user names and passwords"),
        ("https://token@example.com/x", "user names and passwords"),
        ("https://example.com/x#frag", "fragments"),
        ("https://example.com:0/x", "port 0"),
        ("https://example.com:99999/x", "malformed"),
        ("https://[::1/x", "malformed"),
        ("https:///x", "no host"),
        ("https://exa mple.com/x", "ASCII without spaces"),
        ("https://example.com/x\n", "control characters"),
        ("https://example.com\\@evil.com/", "backslashes"),
        ("https://exämple.com/", "punycode"),
        ("https://bad_host!.com/", "not a valid DNS name"),
        ("https://127.1/", "numeric address in a non-standard form"),
        ("https://0x7f.1/", "numeric address in a non-standard form"),
        ("https://2130706433/", "numeric address in a non-standard form"),
        ("https://[fe80::1%25eth0]/", "zone ids"),
        ("https://example.com//evil.com/x", "must not start with //"),
        ("https://10.1.2.3/x", "private address"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1, loopback"),
        ("https://168.63.129.16/", "wireserver"),
    ],
)
def test_refused_urls_name_their_problem(url: str, problem: str) -> None:
    assert problem in _problems(url)


def test_every_problem_is_listed_and_secrets_are_not_echoed() -> None:
    message = _problems("http://admin:hunter2@127.0.0.1/reset?token=s3cr3t")

    assert message.startswith("invalid callback URL: ")
    for problem in ("user names and passwords", "https", "loopback"):
        assert problem in message
    for secret in ("hunter2", "admin", "s3cr3t", "/reset", "127.0.0.1"):
        assert secret not in message


def test_a_refused_address_is_named_by_its_kind_never_by_the_host() -> None:
    message = _problems("https://10.1.2.3/hook")
    assert "the host is refused: private address" in message
    assert "10.1.2.3" not in message


def test_length_and_type_are_capped() -> None:
    long_url = "https://example.com/" + "a" * MAX_URL_LENGTH
    assert f"longer than {MAX_URL_LENGTH}" in _problems(long_url)
    assert "non-empty string" in _problems(None)
    assert "non-empty string" in _problems("")


def test_an_allow_listed_literal_skips_the_address_rules() -> None:
    url = parse_callback_url("https://127.0.0.1:8080/x", LOCAL)

    assert url.allow_listed
    assert url.address == ipaddress.ip_address("127.0.0.1")


@pytest.mark.parametrize(
    "entry", ["http://x", "user@host", "host/path", "bad host", "host:0", "host:99999", "127.1"]
)
def test_bad_allow_list_entries_are_an_error(entry: str) -> None:
    with pytest.raises(ValueError, match="allow-list entry"):
        AllowList.parse([entry])


def test_allow_list_entries_are_case_and_dot_insensitive() -> None:
    allowed = AllowList.parse(["LocalHost.", " ", "Receiver.Test:8000"])

    assert allowed.allows("localhost", 1234)
    assert allowed.allows("receiver.test", 8000)
    assert not allowed.allows("receiver.test", 8001)
    assert not AllowList().allows("localhost", 80)


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "this network"),
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local address (the cloud instance metadata service)"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "shared address space"),
        ("100.127.255.254", "shared address space"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("168.63.129.16", "Azure platform address (wireserver)"),
        ("192.0.2.1", "not globally routable"),
        ("198.18.0.1", "not globally routable"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fc00::1", "unique local"),
        ("fd00:ec2::254", "unique local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "not globally routable"),
        ("100::1", "reserved"),
        ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, link-local"),
        ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, private"),
        ("::ffff:168.63.129.16", "wireserver"),
        ("::ffff:100.64.0.1", "shared address space"),
        ("::127.0.0.1", "IPv4-compatible form of 127.0.0.1, loopback"),
        ("::8.8.8.8", "IPv4-compatible IPv6 address (deprecated)"),
        ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("2002:7f00:1::", "6to4 form of 127.0.0.1, loopback"),
        ("2002:a9fe:a9fe::", "6to4 form of 169.254.169.254"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ],
)
def test_refused_address_classes(address: str, reason: str) -> None:
    found = refusal_reason(ipaddress.ip_address(address))

    assert found is not None
    assert reason in found


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "20.50.2.1",  # an ordinary Azure public address
        "168.63.129.17",  # next to wireserver
        "100.128.0.1",  # just past the shared address space
        "172.32.0.1",  # just past 172.16.0.0/12
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",  # NAT64 of a public address: how IPv6-only networks reach IPv4
        "2002:808:808::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


# --- outcomes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, None),
        (202, None),
        (204, None),
        (301, FailureKind.PERMANENT),
        (302, FailureKind.PERMANENT),
        (307, FailureKind.PERMANENT),
        (400, FailureKind.PERMANENT),
        (401, FailureKind.PERMANENT),
        (404, FailureKind.PERMANENT),
        (410, FailureKind.PERMANENT),
        (408, FailureKind.TRANSIENT),
        (429, FailureKind.TRANSIENT),
        (500, FailureKind.TRANSIENT),
        (503, FailureKind.TRANSIENT),
        (599, FailureKind.TRANSIENT),
        (101, FailureKind.PERMANENT),
        (600, FailureKind.PERMANENT),
    ],
)
def test_status_classification(status: int, kind: FailureKind | None) -> None:
    assert classify_status(status) is kind


# --- signing -------------------------------------------------------------------------------


def _signed(body: bytes = b'{"delivery_id":"d-1","event":{}}') -> tuple[bytes, dict[str, str]]:
    return body, sign(body, KEY, delivery_id="d-1", timestamp=NOW)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body, headers = _signed()
    expected = hmac.new(KEY.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()

    assert headers == {
        ID_HEADER: "d-1",
        TIMESTAMP_HEADER: str(NOW),
        SIGNATURE_HEADER: f"v1={expected}",
    }
    assert signature(body, NOW, KEY) == expected


def test_verify_returns_the_payload_of_a_genuine_webhook() -> None:
    body, headers = _signed()

    assert verify(body, headers, KEY, now=NOW + 10) == {"delivery_id": "d-1", "event": {}}
    lower = {name.lower(): value for name, value in headers.items()}
    assert verify(body, lower, KEY.encode(), now=NOW - 10)["delivery_id"] == "d-1"


def test_a_tampered_body_is_refused() -> None:
    body, headers = _signed()

    with pytest.raises(InvalidSignature, match="bad signature"):
        verify(body.replace(b"{}", b'{"x":1}'), headers, KEY, now=NOW)


def test_a_wrong_key_is_refused() -> None:
    body, headers = _signed()

    with pytest.raises(InvalidSignature, match="bad signature"):
        verify(body, headers, "x" * 32, now=NOW)


def test_a_changed_timestamp_breaks_the_signature() -> None:
    body, headers = _signed()
    headers[TIMESTAMP_HEADER] = str(NOW + 60)

    with pytest.raises(InvalidSignature, match="bad signature"):
        verify(body, headers, KEY, now=NOW + 60)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_a_stale_or_future_timestamp_is_refused(skew: int) -> None:
    body, headers = _signed()

    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(body, headers, KEY, now=NOW + skew)
    assert verify(body, headers, KEY, now=NOW + skew, tolerance_seconds=abs(skew))


def test_a_replayed_body_under_another_delivery_id_is_refused() -> None:
    body, headers = _signed()
    headers[ID_HEADER] = "d-2"  # the header is not signed; the body's copy of the id is

    with pytest.raises(InvalidSignature, match="delivery_id"):
        verify(body, headers, KEY, now=NOW)


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        (b'{"delivery_id":"d-1","event":', "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"", "not JSON"),
        (b'["d-1"]', "delivery_id does not match"),
        (b'"d-1"', "delivery_id does not match"),
        (b"null", "delivery_id does not match"),
        (b'{"event":{}}', "delivery_id does not match"),
        (b'{"delivery_id":1,"event":{}}', "delivery_id does not match"),
        (b'{"delivery_id":null}', "delivery_id does not match"),
    ],
)
def test_a_genuinely_signed_body_of_the_wrong_shape_is_refused(body: bytes, refusal: str) -> None:
    headers = sign(body, KEY, delivery_id="d-1", timestamp=NOW)

    with pytest.raises(InvalidSignature, match=refusal) as refused:
        verify(body, headers, KEY, now=NOW)
    assert refused.value.__cause__ is None


def test_every_member_of_the_body_is_returned_as_sent() -> None:
    payload = {
        "correlation_id": "c-1",
        "delivery_id": "d-1",
        "event": {"n": 2**70, "x": 1.5, "list": [None, True, "é"], "nested": {"a": {}}},
        "added_later": "by a newer sender",
    }
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()

    assert verify(body, sign(body, KEY, delivery_id="d-1", timestamp=NOW), KEY, now=NOW) == payload


def test_any_offered_signature_may_match_during_a_key_rotation() -> None:
    body, headers = _signed()
    headers[SIGNATURE_HEADER] = f"v1={'0' * 64} {headers[SIGNATURE_HEADER]}"

    assert verify(body, headers, KEY, now=NOW)["delivery_id"] == "d-1"


@pytest.mark.parametrize(
    "change",
    [
        {ID_HEADER: ""},
        {TIMESTAMP_HEADER: "soon"},
        {TIMESTAMP_HEADER: "-5"},
        {SIGNATURE_HEADER: ""},
        {SIGNATURE_HEADER: "v0=abc"},
    ],
)
def test_malformed_headers_are_refused(change: dict[str, str]) -> None:
    body, headers = _signed()
    headers.update(change)

    with pytest.raises(InvalidSignature):
        verify(body, headers, KEY, now=NOW)


def test_keys_shorter_than_32_bytes_are_refused() -> None:
    body, headers = _signed()

    with pytest.raises(ValueError, match="32 bytes"):
        sign(body, "short", delivery_id="d-1", timestamp=NOW)
    with pytest.raises(ValueError, match="32 bytes"):
        verify(body, headers, "k" * 31, now=NOW)


def test_sign_refuses_a_delivery_id_that_cannot_be_a_header() -> None:
    with pytest.raises(ValueError, match="delivery_id"):
        sign(b"{}", KEY, delivery_id="a\r\nX-Injected: 1", timestamp=NOW)


# --- the activity's input ------------------------------------------------------------------


def test_the_request_round_trips_through_json() -> None:
    request = WebhookRequest(
        url="https://hooks.example.com/x",
        event={"type": "order.completed", "n": 1},
        delivery_id="ord-1:done",
        correlation_id="c-1",
    )

    assert read(WebhookRequest, json.loads(json.dumps(request.dump()))) == request
    bare = WebhookRequest(url="https://hooks.example.com/x", event={}, delivery_id="ord-1:done")
    # correlation_id is written even when null: the input the orchestrator has always scheduled.
    assert bare.dump() == {
        "url": "https://hooks.example.com/x",
        "event": {},
        "delivery_id": "ord-1:done",
        "correlation_id": None,
    }
    assert read(WebhookRequest, json.loads(json.dumps(bare.dump()))) == bare


def test_an_old_request_still_reads() -> None:
    """A deliver_webhook input as recorded, plus a member added later, minus the null one."""
    recorded = (
        '{"url": "https://hooks.example.com/orders", "event": {"job_id": "order-h", '
        '"job_type": "order", "sequence": 4, "kind": "completed", "correlation_id": "corr-1", '
        '"result": {"order_id": "h", "total": 1.0, "reason": null}}, '
        '"delivery_id": "order-h:4", "correlation_id": "corr-1"}'
    )
    request = read(WebhookRequest, {**json.loads(recorded), "added_later": True})
    assert json.dumps(request.dump()) == recorded
    bare = read(WebhookRequest, {"url": "https://h.example/x", "event": {}, "delivery_id": "d"})
    assert bare.correlation_id is None


def test_the_result_is_plain_json() -> None:
    result = WebhookResult(delivered=True, status=204, attempt_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert result.dump() == {
        "delivered": True,
        "status": 204,
        "attempt_at": "2026-01-01T00:00:00+00:00",
    }


def test_the_body_is_the_same_bytes_for_every_retry_and_carries_the_id() -> None:
    first = WebhookRequest(
        url="https://h.example/x", event={"b": 2, "a": 1}, delivery_id="d-1", correlation_id="c-1"
    )
    again = WebhookRequest(
        url="https://h.example/x", event={"a": 1, "b": 2}, delivery_id="d-1", correlation_id="c-1"
    )

    assert first.body() == again.body()
    assert json.loads(first.body()) == {
        "delivery_id": "d-1",
        "correlation_id": "c-1",
        "event": {"a": 1, "b": 2},
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], "dictionary"),
        ({"event": {}, "delivery_id": "d"}, "url"),
        ({"url": "https://x.example", "event": [], "delivery_id": "d"}, "event"),
        ({"url": "https://x.example", "event": {}, "delivery_id": "d d"}, "delivery_id"),
        ({"url": "https://x.example", "event": {}}, "delivery_id"),
        (
            {"url": "https://x.example", "event": {}, "delivery_id": "d", "correlation_id": 5},
            "correlation_id",
        ),
        (
            {"url": "https://x.example", "event": {"x": float("nan")}, "delivery_id": "d"},
            "event: JSON values only",
        ),
        (
            {"url": "https://x.example", "event": {"x": "a" * MAX_BODY_BYTES}, "delivery_id": "d"},
            f"event: at most {MAX_BODY_BYTES} bytes",
        ),
    ],
)
def test_bad_requests_name_the_field(data: object, field: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        read(WebhookRequest, data)
    assert field in caught.value.problems[0]
