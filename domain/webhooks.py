"""Webhook rules with no I/O: which callback URLs and addresses are safe, and how bodies are signed.

SSRF defence in two steps: `parse_callback_url` vets the URL when a caller hands it over (and
again before each delivery), `refusal_reason` vets every address its host resolves to at send
time. Hosts in the allow-list (local development, tests) skip the address rules and may use
plain http. Signing: HMAC-SHA256 over `f"{timestamp}.".encode() + body`, sent in the
Webhook-Id, Webhook-Timestamp and Webhook-Signature headers; `verify` is the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict
from urllib.parse import urlsplit

from domain.failures import FailureKind

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
MAX_BODY_BYTES = 256 * 1024
MIN_KEY_BYTES = 32
DEFAULT_TOLERANCE_SECONDS = 300
MAX_CORRELATION_ID = 128
DEFAULT_PORTS = {"https": 443, "http": 80}

ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
SIGNATURE_VERSION = "v1"

# Delivery ids travel in a header and key the receiver's duplicate check: header-safe text.
DELIVERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
# A last label like "1" or "0x7f" makes resolvers and browsers read the name as an IPv4 number
# ("127.1", "0x7f.1"): such hosts are refused rather than guessed at.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_SIGNATURE = re.compile(rf"^{SIGNATURE_VERSION}=([0-9a-f]{{64}})$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")

# The Azure platform's virtual public address (wireserver: DHCP, DNS, health probes, the VM
# agent): public-looking, but reachable only from inside Azure and never a webhook receiver.
AZURE_WIRESERVER = ipaddress.IPv4Address("168.63.129.16")
CLOUD_METADATA = ipaddress.IPv4Address("169.254.169.254")

_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class InvalidCallbackUrl(ValueError):
    """A callback URL that is refused; the message lists every problem, never the URL itself
    (its query or userinfo may hold a caller's secret), so it can go into an HTTP 400."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid callback URL: " + "; ".join(self.problems))


class InvalidWebhookRequest(ValueError):
    """A delivery request that can never work; the message names fields, never their values."""


class InvalidSignature(ValueError):
    """A webhook that was not signed with the key, was altered, or is outside the time window."""


def _normal_host(host: str) -> str:
    """Lower case, without IPv6 brackets or one trailing dot ("example.com." is example.com)."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host[:-1] if host.endswith(".") and not host.endswith("..") else host


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _host_problem(host: str) -> str | None:
    """Why `host` (normalized) is neither an IP literal nor a DNS name; None if it is fine."""
    if not host:
        return "the URL has no host"
    if "%" in host:
        return "IPv6 zone ids (%...) are not allowed"
    if _ip_literal(host) is not None:
        return None
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        return "the host is not a valid DNS name or IP address"
    if _NUMERIC_LABEL.match(labels[-1]):
        return "the host looks like a numeric address in a non-standard form"
    return None


@dataclass(frozen=True)
class AllowList:
    """Hosts allowed over plain http and on any address: entries `host` (any port) or
    `host:port`, e.g. "localhost", "127.0.0.1:8080", "[::1]:9000". Empty by default."""

    entries: frozenset[tuple[str, int | None]] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Raises ValueError naming the bad entry (host names are not secrets)."""
        parsed: set[tuple[str, int | None]] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                split = urlsplit(f"//{entry}")
                host, port = _normal_host(split.hostname or ""), split.port
            except ValueError as error:
                raise ValueError(f"allow-list entry {entry!r}: bad port") from error
            bad = split.username is not None or split.path or split.query or split.fragment
            problem = "not a host or host:port" if bad else _host_problem(host)
            if problem is None and port == 0:
                problem = "port 0"
            if problem is not None:
                raise ValueError(f"allow-list entry {entry!r}: {problem}")
            parsed.add((host, port))
        return cls(frozenset(parsed))

    def allows(self, host: str, port: int) -> bool:
        host = _normal_host(host)
        return (host, None) in self.entries or (host, port) in self.entries


@dataclass(frozen=True)
class CallbackUrl:
    """A vetted callback URL, split into what the sender needs."""

    scheme: str  # "https", or "http" for an allow-listed host
    host: str  # lower case; an IP literal has no brackets
    port: int
    target: str  # path and query, as sent in the request line
    allow_listed: bool

    @property
    def address(self) -> IPAddress | None:
        """The host as an IP address when the URL names one directly."""
        return _ip_literal(self.host)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """scheme://host:port only, for logs and failure reasons (the path may carry tokens)."""
        return f"{self.scheme}://{self.host_header}"


def parse_callback_url(url: Any, allowed: AllowList) -> CallbackUrl:
    """Vet a caller's callback URL; raises InvalidCallbackUrl listing every problem found.

    https only, except http for allow-listed hosts; no userinfo; at most MAX_URL_LENGTH
    ASCII characters without spaces, controls or backslashes (which parsers disagree on); no
    fragment; a host that is a DNS name or an IP literal, and a literal must be a public
    address unless allow-listed. Names are vetted again, address by address, when sending.
    """
    if not isinstance(url, str) or not url:
        raise InvalidCallbackUrl(["the callback URL must be a non-empty string"])
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallbackUrl([f"the callback URL is longer than {MAX_URL_LENGTH} characters"])
    if not url.isascii() or any(c <= " " or c in "\x7f\\" for c in url):
        # urlsplit silently drops tabs and newlines; a backslash is "/" to browsers: refuse both.
        raise InvalidCallbackUrl(
            [
                "the callback URL must be ASCII without spaces, control characters or "
                "backslashes (percent-encode them; use the punycode form of a host name)"
            ]
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidCallbackUrl(["the URL is malformed (check the host and port)"]) from None
    problems: list[str] = []
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        problems.append("the scheme must be https")
    if "@" in parts.netloc:
        problems.append("user names and passwords (user:pass@) are not allowed in the URL")
    if parts.fragment or url.endswith("#"):
        problems.append("fragments (#...) are not allowed")
    if port == 0:
        problems.append("port 0 is not allowed")
    if parts.path.startswith("//"):
        # Clients read "//name/..." as a host; it would not reach the path the caller meant.
        problems.append("the path must not start with //")
    host = _normal_host(parts.hostname or "")
    host_problem = _host_problem(host)
    if host_problem is not None:
        problems.append(host_problem)
    port = port or DEFAULT_PORTS.get(scheme, 443)
    allow_listed = host_problem is None and allowed.allows(host, port)
    if scheme == "http" and not allow_listed:
        problems.append("the scheme must be https (http only for allow-listed hosts)")
    literal = _ip_literal(host) if host_problem is None else None
    if literal is not None and not allow_listed:
        reason = refusal_reason(literal)
        if reason is not None:
            problems.append(f"the host {host} is refused: {reason}")
    if problems:
        raise InvalidCallbackUrl(problems)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return CallbackUrl(scheme, host, port, target, allow_listed)


def refusal_reason(address: IPAddress) -> str | None:
    """Why a webhook must not be sent to `address`; None for a public unicast address.

    IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by the
    IPv4 address they reach. The last rule refuses anything not globally routable that the
    named rules missed (documentation, benchmarking and protocol ranges).
    """
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # drops a zone id (fe80::1%eth0)
        embedded, form = _embedded_ipv4(address)
        if embedded is not None:
            inner = refusal_reason(embedded)
            if inner is not None:
                return f"{form} form of {embedded}, {inner}"
            if form == "IPv4-compatible":
                return "IPv4-compatible IPv6 address (deprecated)"
            return None
        if address.teredo is not None:
            return "Teredo tunnel address"
        if address in _LOCAL_NAT64:
            return "local-use NAT64 address"
    return _named_refusal(address) or (
        None if address.is_global else "special-purpose address, not globally routable"
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address | None, str]:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: or ::1
        return ipaddress.IPv4Address(int(address)), "IPv4-compatible"
    return None, ""


def _named_refusal(address: IPAddress) -> str | None:
    if address.is_unspecified:
        return "unspecified address"
    if address.is_loopback:
        return "loopback address"
    if address == CLOUD_METADATA:
        return "link-local address (the cloud instance metadata service)"
    if address.is_link_local:
        return "link-local address"
    if address == AZURE_WIRESERVER:
        return "Azure platform address (wireserver)"
    if isinstance(address, ipaddress.IPv4Address):
        if address in _THIS_NETWORK:
            return "'this network' address (0.0.0.0/8)"
        if any(address in network for network in _PRIVATE_V4):
            return "private address"
        if address in _SHARED_ADDRESS_SPACE:
            return "shared address space (100.64.0.0/10)"
    else:
        if address in _UNIQUE_LOCAL:
            return "private address (unique local, fc00::/7)"
        if address.is_site_local:
            return "site-local address (fec0::/10)"
    if address.is_multicast:
        return "multicast address"
    if address.is_reserved:
        return "reserved address"
    return None


def classify_status(status: int) -> FailureKind | None:
    """None when the receiver took the webhook (2xx); else whether a retry may help.

    408, 429 and 5xx are transient. Every other answer is permanent: a 3xx (redirects are never
    followed, since a redirect could point anywhere, including inside the network), any other
    4xx, and anything outside 200-599.
    """
    if 200 <= status <= 299:
        return None
    if status in (408, 429) or 500 <= status <= 599:
        return FailureKind.TRANSIENT
    return FailureKind.PERMANENT


def signing_key(key: str | bytes) -> bytes:
    """The key as bytes (text is UTF-8); at least MIN_KEY_BYTES long. Never logged."""
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(f"a webhook signing key needs at least {MIN_KEY_BYTES} bytes")
    return raw


def signature(body: bytes, timestamp: int | str, key: str | bytes) -> str:
    """Hex HMAC-SHA256 of `f"{timestamp}.".encode() + body`."""
    signed = f"{timestamp}.".encode("ascii") + body
    return hmac.new(signing_key(key), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, key: str | bytes, *, delivery_id: str, timestamp: int) -> dict[str, str]:
    """The three headers that sign `body` for delivery `delivery_id` at `timestamp` (unix s)."""
    if not DELIVERY_ID.match(delivery_id):
        raise ValueError("delivery_id: 1-128 letters, digits and _ . : -")
    if timestamp < 0:
        raise ValueError("timestamp: unix seconds")
    return {
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={signature(body, timestamp, key)}",
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    key: str | bytes,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """For receivers: check a webhook and return its JSON payload; raises InvalidSignature.

    `body` is the raw request body (before any JSON parsing), `headers` the request headers
    (any case), `now` the receiver's clock in unix seconds. The signature is compared in
    constant time, and a timestamp more than `tolerance_seconds` away from `now` is refused, so
    a captured request cannot be replayed later. The payload's `delivery_id` must equal the
    Webhook-Id header: it is the signed copy of the id to drop duplicates by.
    """
    secret = signing_key(key)
    lower = {name.lower(): value for name, value in headers.items()}
    delivery_id = lower.get(ID_HEADER.lower(), "")
    timestamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    offered = lower.get(SIGNATURE_HEADER.lower(), "").split()
    if not DELIVERY_ID.match(delivery_id) or not _TIMESTAMP.match(timestamp) or not offered:
        raise InvalidSignature("missing or malformed webhook headers")
    expected = signature(body, timestamp, secret)
    # Several space-separated signatures may be offered (e.g. during a key rotation).
    matches = [m.group(1) for m in map(_SIGNATURE.match, offered) if m is not None]
    if not any(hmac.compare_digest(expected, candidate) for candidate in matches):
        raise InvalidSignature("bad signature")
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise InvalidSignature("timestamp outside the tolerance window")
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise InvalidSignature("the body is not JSON") from error
    if not isinstance(payload, dict) or payload.get("delivery_id") != delivery_id:
        raise InvalidSignature("the body's delivery_id does not match the Webhook-Id header")
    return payload


class WebhookResult(TypedDict):
    """What `deliver_webhook` returns when the receiver took the webhook."""

    delivered: bool
    status: int
    attempt_at: str


@dataclass(frozen=True)
class WebhookRequest:
    """`deliver_webhook`'s input: where to send which event, under which stable delivery id.

    The same `delivery_id` on every retry (and the same body bytes) lets receivers drop
    duplicates; the orchestrator derives it from its instance id, never from a clock.
    """

    url: str
    event: Mapping[str, Any]
    delivery_id: str
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "url": self.url,
            "event": dict(self.event),
            "delivery_id": self.delivery_id,
        }
        if self.correlation_id is not None:
            body["correlation_id"] = self.correlation_id
        return body

    @classmethod
    def from_dict(cls, data: Any) -> WebhookRequest:
        if not isinstance(data, Mapping):
            raise InvalidWebhookRequest("the input must be a JSON object")
        url, event = data.get("url"), data.get("event")
        delivery_id, correlation_id = data.get("delivery_id"), data.get("correlation_id")
        if not isinstance(url, str) or not url:
            raise InvalidWebhookRequest("url: a callback URL")
        if not isinstance(event, Mapping):
            raise InvalidWebhookRequest("event: a JSON object")
        if not isinstance(delivery_id, str) or not DELIVERY_ID.match(delivery_id):
            raise InvalidWebhookRequest("delivery_id: 1-128 letters, digits and _ . : -")
        if correlation_id is not None and (
            not isinstance(correlation_id, str) or len(correlation_id) > MAX_CORRELATION_ID
        ):
            raise InvalidWebhookRequest(
                f"correlation_id: text of at most {MAX_CORRELATION_ID} characters"
            )
        request = cls(url, dict(event), delivery_id, correlation_id)
        request.body()  # refuse an event that cannot be sent now, not at delivery time
        return request

    def body(self) -> bytes:
        """The JSON body, byte for byte the same on every retry: the delivery id (signed, unlike
        the header), the correlation id when there is one, and the event."""
        payload: dict[str, Any] = {"delivery_id": self.delivery_id, "event": self.event}
        if self.correlation_id is not None:
            payload["correlation_id"] = self.correlation_id
        try:
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise InvalidWebhookRequest("event: JSON values only") from error
        raw = text.encode("utf-8")
        if len(raw) > MAX_BODY_BYTES:
            raise InvalidWebhookRequest(f"event: at most {MAX_BODY_BYTES} bytes of JSON")
        return raw
