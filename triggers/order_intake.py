"""Reads an order start request from HTTP or a queue message: the order, and where results go.

Both entry points take an optional `callback_url` (the caller's webhook, vetted here against the
allow-list so that a bad one is refused before anything starts); a message-started order also
replies to the reply queue, or to its ReplyTo when that names a declared reply queue.
"""

from __future__ import annotations

import app_config
from adapters.outbound import outbound_allow_list
from domain.job_updates import ResultRouting, reply_queue_for
from domain.order_requests import OrderMessage, OrderRequest, parse_order_message
from domain.payload import InvalidPayload
from domain.webhooks import InvalidCallbackUrl, parse_callback_url

CALLBACK_URL = "callback_url"


def vet_callback_url(url: str | None) -> str | None:
    """The caller's webhook if the allow-list (a setting) lets it through; InvalidPayload if not."""
    if url is not None:
        try:
            parse_callback_url(url, outbound_allow_list(purpose="webhooks"))
        except InvalidCallbackUrl as invalid:
            raise InvalidPayload([f"{CALLBACK_URL}: {p}" for p in invalid.problems]) from None
    return url


def http_order_routing(request: OrderRequest) -> ResultRouting:
    """An HTTP caller gets no reply message: it polls the status URL, or names a webhook."""
    return ResultRouting(callback_url=vet_callback_url(request.callback_url))


def parse_queued_order(body: bytes, reply_to: str | None) -> tuple[OrderMessage, ResultRouting]:
    """A message carries a claim-check reference only, and is answered on a reply queue."""
    message = parse_order_message(body)
    url = vet_callback_url(message.callback_url)
    channels = app_config.result_channels()
    reply_queue = reply_queue_for(reply_to, channels.reply_queue, channels.reply_queues)
    return message, ResultRouting(reply_queue=reply_queue, callback_url=url)
