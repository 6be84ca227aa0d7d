"""The one outbound guard: every HTTP call the app makes to a caller's URL goes through here.

DNS rebinding: a name can resolve to a public address when checked and to 169.254.169.254 a
moment later when a client resolves it again to connect. So the client resolves once, vets
every address (any refused one refuses the host), and connects to a vetted address itself,
sending the real host in the Host header and using it for TLS SNI and certificate checks.
Redirects are followed only when the caller allows some (monitor polls, a few hops, GET only),
and then each hop is vetted, resolved and pinned again as if it were a new URL; webhooks
follow none. Every call has connect and read timeouts and reads at most a set number of bytes.
Failures are raised as domain.failures kinds. The URL's path and query (which may hold a
token) never appear in logs or failure reasons: only scheme, host and port do.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from domain.failures import PermanentFailure, TransientFailure
from domain.outbound import (
    REDIRECT_STATUSES,
    AllowList,
    InvalidOutboundUrl,
    OutboundUrl,
    parse_outbound_url,
    redirect_target,
    refusal_reason,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
# A host with many addresses is tried on at most this many before the attempt counts as failed.
MAX_ADDRESSES = 4
# The most redirects any caller may ask to follow.
MAX_REDIRECTS = 5
USER_AGENT = "durable-background-jobs/1"
_FOLLOWABLE_METHODS = frozenset({"GET", "HEAD"})


class _QuietWhileCalling(logging.Filter):
    """Drops urllib3's DEBUG request lines while this thread makes an outbound call: they
    contain the path and query, which may hold the receiver's token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_calling, "active", False)


_calling = threading.local()
logging.getLogger("urllib3.connectionpool").addFilter(_QuietWhileCalling())


class _Unreachable(Exception):
    """No TCP connection to one address: the request was not sent, so the next may be tried."""


@dataclass(frozen=True)
class OutboundResponse:
    """An answer: its status, headers (lower-case names), and at most the limit of its body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    # True when the body was longer than the limit (only the limit was read).
    truncated: bool
    # "scheme://host:port" of the hop that answered, with the address used for a name.
    where: str
    redirects: int = 0


class OutboundClient:
    """Makes guarded HTTP calls; `request` returns the answer or raises a failure kind."""

    def __init__(
        self,
        allowed: AllowList,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        ca_certs: str | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0 or max_response_bytes < 0:
            raise ValueError("timeouts must be positive and the response limit not negative")
        self.allowed = allowed
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._read_timeout = read_timeout
        self._max_response_bytes = max_response_bytes
        # None: the system's trust store. A file: that CA bundle only (tests with their own CA).
        self._ca_certs = ca_certs
        self._user_agent = user_agent

    def __repr__(self) -> str:
        return f"OutboundClient(allowed={sorted(self.allowed.entries, key=str)!r})"

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        what: str = "URL",
        max_redirects: int = 0,
        strict_body: bool = False,
    ) -> OutboundResponse:
        """Call `url` once (no retries: retrying is the orchestrator's job, on durable timers).

        Raises PermanentFailure for a refused URL, address or redirect hop, too many redirects,
        a name that does not exist or an invalid certificate; TransientFailure for DNS or
        connection trouble and timeouts. A 3xx that is not followed is returned as it is.
        With `strict_body`, a body longer than the limit is a PermanentFailure and a body not
        read within the read timeout a TransientFailure; otherwise the body is best effort.
        """
        if not 0 <= max_redirects <= MAX_REDIRECTS:
            raise ValueError(f"max_redirects: 0 to {MAX_REDIRECTS}")
        method = method.upper()
        try:
            target = parse_outbound_url(url, self.allowed, what=what)
        except InvalidOutboundUrl as error:
            raise PermanentFailure(str(error)) from None
        redirects = 0
        while True:
            response = self._call(method, target, body, headers or {}, strict_body, redirects)
            if response.status not in REDIRECT_STATUSES or method not in _FOLLOWABLE_METHODS:
                return response
            if max_redirects == 0:
                return response
            if redirects >= max_redirects:
                raise PermanentFailure(
                    f"{response.where} answered {response.status}: more than "
                    f"{max_redirects} redirects"
                )
            try:
                target = redirect_target(
                    target, response.headers.get("location"), self.allowed, what=what
                )
            except InvalidOutboundUrl as error:
                raise PermanentFailure(
                    f"{response.where} answered {response.status}, refused: {error}"
                ) from None
            redirects += 1

    def _call(
        self,
        method: str,
        target: OutboundUrl,
        body: bytes | None,
        headers: Mapping[str, str],
        strict_body: bool,
        redirects: int,
    ) -> OutboundResponse:
        addresses = self._resolve(target)
        sent = {
            "User-Agent": self._user_agent,
            **headers,
            "Host": target.host_header,
            "Connection": "close",
        }
        unreachable: list[str] = []
        for address in addresses:
            where = target.origin if address == target.host else f"{target.origin} ({address})"
            _calling.active = True
            try:
                return self._send(
                    method, target, address, body, sent, where, strict_body, redirects
                )
            except _Unreachable as error:
                unreachable.append(str(error))
            finally:
                _calling.active = False
        raise TransientFailure(f"{target.origin}: could not connect ({'; '.join(unreachable)})")

    def _resolve(self, target: OutboundUrl) -> list[str]:
        """The addresses to try, resolved once; any refused address refuses the host, since
        which one a client would pick is not ours to predict."""
        if target.address is not None:
            found = [target.host]
        else:
            try:
                infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
            except socket.gaierror as error:
                if error.errno in _NO_SUCH_NAME:
                    raise PermanentFailure(f"{target.host} does not resolve") from None
                raise TransientFailure(
                    f"{target.host}: name resolution failed ({error.strerror})"
                ) from None
            families = (socket.AF_INET, socket.AF_INET6)
            found = list(dict.fromkeys(str(i[4][0]) for i in infos if i[0] in families))
        if not found:
            raise TransientFailure(f"{target.host}: name resolution returned no address")
        if not target.allow_listed:
            for address in found:
                reason = refusal_reason(ipaddress.ip_address(address.partition("%")[0]))
                if reason is not None:
                    raise PermanentFailure(
                        f"{target.host} resolves to {address}, which is refused: {reason}"
                    )
        return found[:MAX_ADDRESSES]

    def _pool(self, target: OutboundUrl, address: str) -> urllib3.HTTPConnectionPool:
        # retries=False everywhere: one attempt per call.
        if target.scheme == "https":
            # Connect to the vetted address, but present and verify the real host name: SNI
            # and the certificate check both use server_hostname (the ssl module checks it).
            return urllib3.HTTPSConnectionPool(
                address,
                target.port,
                timeout=self._timeout,
                retries=False,
                maxsize=1,
                server_hostname=target.host,
                cert_reqs="CERT_REQUIRED",
                ca_certs=self._ca_certs,
            )
        return urllib3.HTTPConnectionPool(
            address, target.port, timeout=self._timeout, retries=False, maxsize=1
        )

    def _send(
        self,
        method: str,
        target: OutboundUrl,
        address: str,
        body: bytes | None,
        headers: Mapping[str, str],
        where: str,
        strict_body: bool,
        redirects: int,
    ) -> OutboundResponse:
        with self._pool(target, address) as pool:
            try:
                response = pool.urlopen(
                    method,
                    target.target,
                    body=body,
                    headers=dict(headers),
                    retries=False,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                )
            except ConnectTimeoutError as error:  # includes NewConnectionError: nothing sent
                raise _Unreachable(f"{address}: {_cause(error)}") from None
            except SSLError as error:
                verification = _certificate_error(error)
                if verification is not None:
                    raise PermanentFailure(
                        f"{where}: TLS certificate not accepted for {target.host} ({verification})"
                    ) from None
                raise TransientFailure(f"{where}: TLS handshake failed") from None
            except ReadTimeoutError:
                raise TransientFailure(
                    f"{where}: no answer within {self._read_timeout:g} s"
                ) from None
            except (ProtocolError, HTTPError, OSError) as error:
                raise TransientFailure(f"{where}: connection failed ({_cause(error)})") from None
            try:
                data, truncated = self._read(response, where, strict_body)
                return OutboundResponse(
                    status=response.status,
                    headers={name.lower(): value for name, value in response.headers.items()},
                    body=data,
                    truncated=truncated,
                    where=where,
                    redirects=redirects,
                )
            finally:
                response.close()

    def _read(
        self, response: urllib3.BaseHTTPResponse, where: str, strict: bool
    ) -> tuple[bytes, bool]:
        """At most max_response_bytes of the body, read within the read timeout in total (a
        slow trickle cannot hold the call), and whether there was more."""
        limit = self._max_response_bytes
        deadline = time.monotonic() + self._read_timeout
        data = b""
        try:
            while len(data) <= limit:
                if time.monotonic() >= deadline:
                    if strict:
                        raise TransientFailure(
                            f"{where}: the answer was not read within {self._read_timeout:g} s"
                        )
                    break
                chunk = response.read1(limit + 1 - len(data), decode_content=False)
                if not chunk:
                    break
                data += chunk
        except (HTTPError, OSError) as error:
            if strict:
                raise TransientFailure(
                    f"{where}: reading the answer failed ({_cause(error)})"
                ) from None
        truncated = len(data) > limit
        if truncated and strict:
            raise PermanentFailure(f"{where}: the answer is larger than {limit} bytes")
        return data[:limit], truncated


_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and its causes, however urllib3 nested them (cause, context or args)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nested = [a for a in current.args if isinstance(a, BaseException)]
        current = current.__cause__ or current.__context__ or (nested[0] if nested else None)


def _cause(error: BaseException) -> str:
    """The OS-level reason (e.g. "Connection refused") without urllib3's pool description."""
    reasons = (e.strerror for e in _chain(error) if isinstance(e, OSError) and e.strerror)
    return next(reasons, type(error).__name__)


def _certificate_error(error: BaseException) -> str | None:
    """The verification message when a TLS failure is a rejected certificate, else None."""
    for cause in _chain(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or "certificate verification failed"
    return None
