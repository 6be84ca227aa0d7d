"""Sends one signed webhook: resolve once, refuse unsafe addresses, connect to the vetted IP.

DNS rebinding: a name can resolve to a public address when checked and to 169.254.169.254 a
moment later when a client resolves it again to connect. So the sender resolves once, vets
every address (any refused one refuses the host), and connects to a vetted address itself,
sending the real host in the Host header and using it for TLS SNI and certificate checks.
Redirects are never followed. Failures are raised as domain.failures kinds: transient ones
(timeouts, connection errors, 408, 429, 5xx) are worth a retry, permanent ones are not.
Neither the key nor the body is ever logged, and the URL's path and query (which may hold a
receiver's token) never appear in logs or failure reasons: only scheme, host and port do.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

import app_config
from domain.failures import FailureKind, PermanentFailure, TransientFailure
from domain.webhooks import (
    AllowList,
    CallbackUrl,
    InvalidCallbackUrl,
    classify_status,
    parse_callback_url,
    refusal_reason,
    sign,
    signing_key,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 10.0
# An error answer is read only for a short excerpt in the failure reason; never more than this.
MAX_RESPONSE_BYTES = 1024
MAX_EXCERPT_CHARS = 200
# A host with many addresses is tried on at most this many before the attempt counts as failed.
MAX_ADDRESSES = 4
USER_AGENT = "durable-background-jobs-webhooks/1"


class _QuietWhileSending(logging.Filter):
    """Drops urllib3's DEBUG request lines while this thread sends a webhook: they contain
    the path and query, which may hold the receiver's token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_sending, "active", False)


_sending = threading.local()
logging.getLogger("urllib3.connectionpool").addFilter(_QuietWhileSending())


class _Unreachable(Exception):
    """No TCP connection to one address: the request was not sent, so the next may be tried."""


class WebhookSender:
    """Delivers JSON bodies to callback URLs; `send` returns the 2xx status or raises a failure."""

    def __init__(
        self,
        key: str | bytes,
        allowed: AllowList,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        ca_certs: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = signing_key(key)
        self._allowed = allowed
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._read_timeout = read_timeout
        self._max_response_bytes = max_response_bytes
        # None: the system's trust store. A file: that CA bundle only (tests with their own CA).
        self._ca_certs = ca_certs
        self._clock = clock

    def __repr__(self) -> str:  # the key must not leak through a log of this object
        return f"WebhookSender(allowed={sorted(self._allowed.entries, key=str)!r})"

    def send(self, url: str, body: bytes, delivery_id: str) -> int:
        """POST `body`, signed for `delivery_id`, to `url`; returns the receiver's 2xx status.

        Raises PermanentFailure for a refused URL or address, a redirect, a 4xx other than
        408/429 or an invalid certificate; TransientFailure for DNS or connection trouble,
        timeouts, 408, 429 and 5xx.
        """
        try:
            target = parse_callback_url(url, self._allowed)
        except InvalidCallbackUrl as error:
            raise PermanentFailure(str(error)) from None
        addresses = self._resolve(target)
        headers = {
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Connection": "close",
            **sign(body, self._key, delivery_id=delivery_id, timestamp=int(self._clock())),
        }
        unreachable: list[str] = []
        for address in addresses:
            try:
                status = self._post(target, address, body, headers)
            except _Unreachable as error:
                unreachable.append(str(error))
                continue
            logger.info("webhook %s delivered to %s (%d)", delivery_id, target.origin, status)
            return status
        raise TransientFailure(f"{target.origin}: could not connect ({'; '.join(unreachable)})")

    def _resolve(self, target: CallbackUrl) -> list[str]:
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

    def _pool(self, target: CallbackUrl, address: str) -> urllib3.HTTPConnectionPool:
        # retries=False everywhere: one attempt per call; retrying is the orchestrator's job,
        # on durable timers, where it can tell transient from permanent.
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

    def _post(
        self, target: CallbackUrl, address: str, body: bytes, headers: Mapping[str, str]
    ) -> int:
        where = target.origin if address == target.host else f"{target.origin} ({address})"
        _sending.active = True
        try:
            return self._post_quietly(target, address, body, headers, where)
        finally:
            _sending.active = False

    def _post_quietly(
        self,
        target: CallbackUrl,
        address: str,
        body: bytes,
        headers: Mapping[str, str],
        where: str,
    ) -> int:
        with self._pool(target, address) as pool:
            try:
                response = pool.urlopen(
                    "POST",
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
                status = response.status
                kind = classify_status(status)
                if kind is None:
                    return status
                if 300 <= status <= 399:
                    raise PermanentFailure(
                        f"{where} answered {status}: redirects are not followed, "
                        "register the final URL"
                    )
                reason = f"{where} answered {status}{self._excerpt(response)}"
                if kind is FailureKind.TRANSIENT:
                    raise TransientFailure(reason)
                raise PermanentFailure(reason)
            finally:
                response.close()

    def _excerpt(self, response: urllib3.BaseHTTPResponse) -> str:
        """Up to MAX_EXCERPT_CHARS printable characters of an error answer, read within the
        read timeout in total and never beyond max_response_bytes."""
        deadline = time.monotonic() + self._read_timeout
        data = b""
        try:
            while len(data) < self._max_response_bytes and time.monotonic() < deadline:
                chunk = response.read1(self._max_response_bytes - len(data), decode_content=False)
                if not chunk:
                    break
                data += chunk
        except (HTTPError, OSError):
            pass  # the status is the answer; the excerpt is only a courtesy
        text = "".join(c if c.isprintable() else " " for c in data.decode("ascii", "replace"))
        text = " ".join(text.split())[:MAX_EXCERPT_CHARS]
        return f": {text}" if text else ""


_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def _cause(error: BaseException) -> str:
    """The OS-level reason (e.g. "Connection refused") without urllib3's pool description."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        nested = [a for a in current.args if isinstance(a, BaseException)]
        current = current.__cause__ or current.__context__ or (nested[0] if nested else None)
    return type(error).__name__


def _certificate_error(error: BaseException) -> str | None:
    """The verification message when a TLS failure is a rejected certificate, else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or "certificate verification failed"
        nested = [a for a in current.args if isinstance(a, BaseException)]
        current = current.__cause__ or current.__context__ or (nested[0] if nested else None)
    return None


def build_webhook_sender(env: Mapping[str, str] | None = None) -> WebhookSender:
    """The sender from app settings; a PermanentFailure naming the setting when webhooks are
    not configured (the signing key is read here, when a webhook is due, never at import)."""
    try:
        key = app_config.webhook_signing_key(env)
    except ValueError as error:
        raise PermanentFailure(f"webhooks are not configured: {error}") from None
    try:
        allowed = AllowList.parse(app_config.webhook_allowed_hosts(env))
    except ValueError as error:
        setting = app_config.WEBHOOK_ALLOWED_HOSTS_SETTING
        raise PermanentFailure(f"webhooks are not configured: {setting}: {error}") from None
    return WebhookSender(key, allowed)
