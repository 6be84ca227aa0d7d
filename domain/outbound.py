"""The one outbound guard's rules, with no I/O: which URLs and addresses the app may call."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urljoin, urlsplit

from pydantic import Field

from domain.failures import FailureKind
from domain.payload import InvalidPayload

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}
# Redirect statuses a GET may follow (when the caller allows any): each hop is vetted again.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
# A last label like "1" or "0x7f" makes resolvers and browsers read the name as an IPv4 number
# ("127.1", "0x7f.1"): such hosts are refused rather than guessed at.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


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


class InvalidOutboundUrl(ValueError):
    """A URL the app refuses to call; the message lists every problem, never the URL itself
    (its query or userinfo may hold a caller's secret), so it can go into an HTTP 400."""

    def __init__(self, problems: Iterable[str], what: str = "URL") -> None:
        self.problems = tuple(problems)
        super().__init__(f"invalid {what}: " + "; ".join(self.problems))


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
class OutboundUrl:
    """A vetted URL, split into what a client needs to connect to a pinned address."""

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

    @property
    def url(self) -> str:
        """The whole URL again (never logged: its path and query may carry a token)."""
        return f"{self.origin}{self.target}"


def parse_outbound_url(url: Any, allowed: AllowList, *, what: str = "URL") -> OutboundUrl:
    """Vet a URL the app is asked to call; raises InvalidOutboundUrl listing every problem.

    `what` names the URL in messages ("callback URL", "status URL").

    https only, except http for allow-listed hosts; no userinfo; at most MAX_URL_LENGTH
    ASCII characters without spaces, controls or backslashes (which parsers disagree on); no
    fragment; a host that is a DNS name or an IP literal, and a literal must be a public
    address unless allow-listed. Names are vetted again, address by address, when sending.
    """
    if not isinstance(url, str) or not url:
        raise InvalidOutboundUrl([f"the {what} must be a non-empty string"], what)
    if len(url) > MAX_URL_LENGTH:
        raise InvalidOutboundUrl([f"the {what} is longer than {MAX_URL_LENGTH} characters"], what)
    if not url.isascii() or any(c <= " " or c in "\x7f\\" for c in url):
        # urlsplit silently drops tabs and newlines; a backslash is "/" to browsers: refuse both.
        raise InvalidOutboundUrl(
            [
                f"the {what} must be ASCII without spaces, control characters or "
                "backslashes (percent-encode them; use the punycode form of a host name)"
            ],
            what,
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidOutboundUrl(
            [f"the {what} is malformed (check the host and port)"], what
        ) from None
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
            problems.append(f"the host is refused: {reason}")  # never the caller's value
    if problems:
        raise InvalidOutboundUrl(problems, what)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return OutboundUrl(scheme, host, port, target, allow_listed)


def check_urls(allowed: AllowList, **urls: str | None) -> None:
    """A request's URL fields (`status_url=...`, `callback_url=...`; None: not given) against
    the rules above with the allow-list, a setting and so not the model's job; InvalidPayload
    lists every problem under its field."""
    problems: list[str] = []
    for name, url in urls.items():
        if url is None:
            continue
        try:
            parse_outbound_url(url, allowed, what=name.replace("_url", " URL"))
        except InvalidOutboundUrl as invalid:
            problems.extend(f"{name}: {problem}" for problem in invalid.problems)
    if problems:
        raise InvalidPayload(problems)


def redirect_target(
    current: OutboundUrl, location: Any, allowed: AllowList, *, what: str = "URL"
) -> OutboundUrl:
    """Where a redirect's Location leads from `current`, vetted exactly like a first URL.

    A relative Location is resolved against the current URL; the result must pass every rule
    of `parse_outbound_url` on its own (an allow-listed first hop does not exempt the next).
    """
    if not isinstance(location, str) or not location.strip():
        raise InvalidOutboundUrl(["a redirect without a Location"], f"redirect from the {what}")
    return parse_outbound_url(
        urljoin(current.url, location.strip()), allowed, what=f"redirect from the {what}"
    )


def refusal_reason(address: IPAddress) -> str | None:
    """Why no outbound call may go to `address`; None for a public unicast address.

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
    """None for a 2xx answer; else whether a later attempt may help.

    408, 429 and 5xx are transient. Every other answer is permanent: a 3xx that was not
    followed (webhooks never follow one: a redirect could point anywhere, including inside the
    network), any other 4xx, and anything outside 200-599.
    """
    if 200 <= status <= 299:
        return None
    if status in (408, 429) or 500 <= status <= 599:
        return FailureKind.TRANSIENT
    return FailureKind.PERMANENT


# The `callback_url` of a job start request, as the API documents it. The app vets it when the
# job starts (check_urls) and again address by address when it sends; JSON Schema can say less,
# so the pattern is the form the document promises to accept in Azure (a client generating URLs
# from the schema gets only ones the app takes), documentation rather than a check: the model
# enforces the length only.
_PCHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
DOCUMENTED_PATTERN = (
    r"^https://(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.){1,3}"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,59}[A-Za-z0-9])?(?::[1-9][0-9]{0,3})?"
    rf"(?:/(?:{_PCHAR}(?:{_PCHAR}|/){{0,399}})?)?(?:\?(?:{_PCHAR}|[/?]){{0,190}})?$"
)
CallbackUrl = Annotated[
    str,
    Field(
        max_length=MAX_URL_LENGTH,
        json_schema_extra={"pattern": DOCUMENTED_PATTERN},
        description=(
            "Optional webhook for the job's outcome (null: none). The outcome is POSTed once, "
            "signed with HMAC-SHA256 (docs/webhooks.md), retried with backoff (allow-list "
            "setting: WEBHOOK_ALLOWED_HOSTS). An absolute URL of at most 2048 characters; the "
            "pattern is the form this document promises to accept in Azure: https, a host name "
            "of 2 to 4 labels (at most 253 characters, a last label that starts with a letter), "
            "an optional port, RFC 3986 characters only, no user:pass@, no fragment, a path "
            "that does not start with //. The app also takes a public IP address literal, "
            "which the pattern leaves out; never a private, loopback, link-local or metadata "
            "address (in any spelling, nor by DNS name or redirect). Hosts in the allow-list "
            "settings may also use http and private addresses (local use only)."
        ),
    ),
]
