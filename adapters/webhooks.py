"""Sends one signed webhook through the app's one outbound guard (adapters/outbound.py).

Webhooks never follow a redirect: a 3xx is permanent, asking the caller to register the final
URL. Neither the key nor the body is ever logged, nor the URL's path and query (they may hold
the receiver's token): only scheme, host and port.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from adapters.outbound import OutboundClient, OutboundResponse
from domain.failures import FailureKind, PermanentFailure, TransientFailure
from domain.outbound import AllowList, classify_status
from domain.webhooks import sign, signing_key

logger = logging.getLogger(__name__)

# An error answer is read only for a short excerpt in the failure reason; never more than this.
MAX_RESPONSE_BYTES = 1024
MAX_EXCERPT_CHARS = 200
USER_AGENT = "durable-background-jobs-webhooks/1"


class WebhookSender:
    """Delivers JSON bodies to callback URLs; `send` returns the 2xx status or raises a failure."""

    def __init__(
        self,
        key: str | bytes,
        allowed: AllowList,
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        **options: Any,
    ) -> None:
        """`options` are OutboundClient's others: connect and read timeouts, `ca_certs`."""
        self._key = signing_key(key)
        self._client = OutboundClient(
            allowed, max_response_bytes=max_response_bytes, user_agent=USER_AGENT, **options
        )

    def __repr__(self) -> str:  # the key must not leak through a log of this object
        return f"WebhookSender(allowed={sorted(self._client.allowed.entries, key=str)!r})"

    def send(self, url: str, body: bytes, delivery_id: str) -> int:
        """POST `body`, signed for `delivery_id`, to `url`; returns the receiver's 2xx status.

        Raises PermanentFailure for a refused URL or address, a redirect, a 4xx other than
        408/429 or an invalid certificate; TransientFailure for DNS or connection trouble,
        timeouts, 408, 429 and 5xx.
        """
        headers = {
            "Content-Type": "application/json",
            **sign(body, self._key, delivery_id=delivery_id, timestamp=int(time.time())),
        }
        response = self._client.request(
            "POST", url, body=body, headers=headers, what="callback URL", max_redirects=0
        )
        status, where = response.status, response.where
        kind = classify_status(status)
        if kind is None:
            logger.info("webhook %s delivered to %s (%d)", delivery_id, where, status)
            return status
        if 300 <= status <= 399:
            raise PermanentFailure(
                f"{where} answered {status}: redirects are not followed, register the final URL"
            )
        reason = f"{where} answered {status}{_excerpt(response)}"
        if kind is FailureKind.TRANSIENT:
            raise TransientFailure(reason)
        raise PermanentFailure(reason)


def _excerpt(response: OutboundResponse) -> str:
    """Up to MAX_EXCERPT_CHARS printable characters of an error answer (the guard read at most
    max_response_bytes of it, within the read timeout)."""
    text = "".join(c if c.isprintable() else " " for c in response.body.decode("ascii", "replace"))
    text = " ".join(text.split())[:MAX_EXCERPT_CHARS]
    return f": {text}" if text else ""
