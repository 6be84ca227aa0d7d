"""Reads an order start request from HTTP or a queue message: the order, and where results go.

Both entry points take an optional `callback_url` (the caller's webhook, vetted here so that a
bad one is refused before anything starts); a message-started order also replies to the reply
queue, or to its ReplyTo when that names a declared reply queue.
"""

from __future__ import annotations

from typing import Any

import app_config
from adapters.outbound import outbound_allow_list
from domain.job_updates import ResultRouting, reply_queue_for
from domain.order_requests import CustomerForm, OrderRequest, parse_order_request
from domain.orders import InvalidOrder
from domain.webhooks import InvalidCallbackUrl, parse_callback_url

CALLBACK_URL = "callback_url"


def _callback_url(body: Any) -> tuple[str | None, list[str]]:
    """The vetted callback URL in `body` (or None) and the problems found with it."""
    url = body.get(CALLBACK_URL) if isinstance(body, dict) else None
    if url is None:
        return None, []
    try:
        parse_callback_url(url, outbound_allow_list(purpose="webhooks"))
    except InvalidCallbackUrl as invalid:
        return None, [f"{CALLBACK_URL}: {problem}" for problem in invalid.problems]
    return url, []


def _parse(body: Any, form: CustomerForm) -> tuple[OrderRequest, str | None]:
    """InvalidOrder lists the order's problems and the callback URL's together."""
    url, url_problems = _callback_url(body)
    try:
        request = parse_order_request(body, customer_form=form)
    except InvalidOrder as invalid:
        raise InvalidOrder(invalid.problems + url_problems) from invalid
    if url_problems:
        raise InvalidOrder(url_problems)
    return request, url


def parse_http_order(body: Any) -> tuple[OrderRequest, ResultRouting]:
    """An HTTP caller sends personal data inline (the claim check stores it) and gets no reply
    message: it polls the status URL, or names a webhook."""
    request, url = _parse(body, CustomerForm.INLINE)
    return request, ResultRouting(callback_url=url)


def parse_queued_order(body: Any, reply_to: str | None) -> tuple[OrderRequest, ResultRouting]:
    """A message carries a claim-check reference only, and is answered on a reply queue."""
    request, url = _parse(body, CustomerForm.REFERENCE)
    channels = app_config.result_channels()
    reply_queue = reply_queue_for(reply_to, channels.reply_queue, channels.reply_queues)
    return request, ResultRouting(reply_queue=reply_queue, callback_url=url)
