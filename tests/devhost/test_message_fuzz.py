"""Hypothesis fuzzes the `orders` queue on devhost: one order per valid message, a row per other."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.storage.queue import QueueClient
from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st

from adapters.factory import OrderAdapters, build_order_adapters, build_rejected_messages
from adapters.rejected_messages import RejectedMessage
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite
from devhost.servicebus.client import peek_dead_letters, send_message
from devhost.servicebus.names import active_queue_name
from devhost.testing import DURABLE, PROJECT_ROOT, TERMINAL, DevHostProcess, wait_until
from domain.order_requests import PERSONAL_DATA_ON_QUEUE
from domain.orders import (
    CURRENCIES,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_UNIT_PRICE_CENTS,
    ORDER_ID,
    instance_id_for,
)

QUEUE = "orders"
# Deeper than the JSON parser nests (pydantic-core's reader stops near 200 levels).
TOO_DEEP = (250, 300)
EMULATOR = (
    "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)
# Orders at or above this wait for an approver; nobody approves, so they time out (Rejected).
THRESHOLD = 100_000
ENV = {
    "PAYMENT_PROVIDER": "simulated",
    "APPROVAL_SIGNING_KEY": "message-fuzz-test-approval-signing-key-0123456789",
    "WEBHOOK_SIGNING_KEY": "message-fuzz-test-webhook-signing-key-0123456789",
    "ServiceBusConnection": EMULATOR,
    # Nothing allow-listed: a callback URL meets the outbound guard's rules for Azure.
    "OUTBOUND_ALLOWED_HOSTS": "",
    "WEBHOOK_ALLOWED_HOSTS": "",
    "ORDER_APPROVAL_THRESHOLD_CENTS": str(THRESHOLD),
    # Each batch with an order to approve moves virtual time on by the approval timeout (72 h),
    # and timer triggers follow it: retention must not purge the orders this test counts.
    "RETENTION_INSTANCE_DAYS": "3650",
    "RETENTION_CLAIM_DAYS": "3650",
}
# The same messages every run: @seed fixes what Hypothesis draws (derandomize alone would
# derive the seed from this function's source, so every edit would change the batch).
SEED = 20_261_215
# Each example is a batch sent to the module's one devhost: valid messages, and one message
# for each malformed case in CASES. Hypothesis holds at most 8 KiB of choices per example
# (about 50 of these messages), so the messages come in several batches. The first example
# is Hypothesis's simplest (every choice at its minimum: here no messages), assumed away.
BATCHES = 6
VALID = (14, 18)
DRAIN_SECONDS = 60
# Until every order of a batch has run to its end (approvals time out on virtual time).
FINISH_SECONDS = 60
# Every string a malformed message carries that a reason could echo holds this marker; a
# rejection reason must never hold it (compared case-insensitively: SKUs are upper case).
MARKER = "qzx"
CUSTOMER = {"name": "Fuzz Canary", "email": "fuzz-canary@example.invalid", "address": "3 Fuzz Rd"}

# -- what is generated -------------------------------------------------------------------------

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = UPPER + UPPER.lower() + DIGITS
CORRELATION_CHARS = ALNUM + "._:-"
# One of these makes a CorrelationId (or a MessageId standing in for it) malformed.
NOT_CORRELATION = " ;/\\#?+=@,!'\"%é\t\u00a0\u4e2d\U0001f600"
KNOWN = frozenset(
    {"order_id", "currency", "lines", "express", "customer", "customer_ref", "callback_url"}
)


@dataclass(frozen=True)
class Draft:
    """A generated message before the test makes its ids unique and publishes it.

    `body` is a JSON value (serialised with `style`) unless `raw` holds the exact bytes. An
    order id that matches the rule gets a unique suffix (so do a valid order's SKUs), and a
    valid message's `customer_ref` becomes the claim check's reference for its final order id.
    """

    kind: str  # "valid", or what makes the message invalid
    body: Any = None
    raw: bytes | None = None
    style: dict[str, Any] = field(default_factory=dict)
    space: str = ""  # JSON whitespace around the serialised body
    bad_message_id: str | None = None  # None: a unique valid MessageId
    message_id_is_order_id: bool = False  # the publisher convention of docs/order-workflow.md
    correlation_id: str | None = None
    reply_to: str | None = None
    content_type: str | None = None
    stocked: tuple[bool, ...] = ()  # per line of a valid order: enough units on the shelf
    reasons: tuple[str, ...] = ()  # what the rejection reason must say (invalid messages)
    canaries: tuple[str, ...] = ()  # body values besides marked strings a reason must not hold

    @property
    def valid(self) -> bool:
        return self.kind == "valid"

    def __repr__(self) -> str:  # short: a failing example shows a whole batch
        body = self.raw if self.raw is not None else json.dumps(self.body)
        return f"Draft({self.kind!r}, {body[:200]!r}, reasons={self.reasons!r})"


STYLES = st.sampled_from(
    [
        {},
        {"separators": (",", ":")},
        {"ensure_ascii": False},
        {"indent": 2},
        {"sort_keys": True, "separators": (", ", ": ")},
    ]
)


def text(alphabet: str, min_size: int = 0, max_size: int = 8) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


def pattern_id(first: str, rest: str, max_size: int) -> st.SearchStrategy[str]:
    """An id that starts with one of `first` and goes on with up to `max_size` of `rest`."""
    return st.builds(str.__add__, st.sampled_from(first), text(rest, max_size=max_size))


order_stems = pattern_id(ALNUM, ALNUM + "_-", 12)
skus = pattern_id(UPPER + DIGITS, UPPER + DIGITS + "-", 10)
# Up to 128 characters (the longest the pattern takes, drawn cheaply: Hypothesis holds at
# most 8 KiB of choices per example).
correlation_ids = text(CORRELATION_CHARS, 1, 16) | text(CORRELATION_CHARS, 1, 4).map(
    lambda s: (s * 128)[:128]
)
marked = text(ALNUM + " -_.é\u4e2d", max_size=6).map(lambda s: MARKER + s)
# Numbers a reason could not hold by chance: at least six digits, ending in 7.
marked_ints = st.integers(10_000, 10**9).map(lambda n: n * 10 + 7)
bad_ids = st.builds(
    lambda head, bad, tail: (MARKER + head + bad + tail)[:100],
    text(CORRELATION_CHARS, max_size=6),
    st.sampled_from(NOT_CORRELATION),
    text(CORRELATION_CHARS + NOT_CORRELATION, max_size=10),
)
# Anything in a message's ReplyTo: a declared reply queue, or anything else (the reply then
# goes to the default reply queue).
reply_tos = st.one_of(st.none(), st.just("replies"), text(CORRELATION_CHARS + " /", 1, 12))
content_types = st.sampled_from([None, "application/json", "text/plain", "application/octet"])


def quantities() -> st.SearchStrategy[int | float]:
    whole = st.one_of(st.integers(1, 3), st.integers(1, MAX_QUANTITY), st.just(MAX_QUANTITY))
    # JSON does not tell 2 from 2.0: a whole number written as a float is a whole number.
    return st.one_of(whole, whole.map(float))


prices = st.one_of(
    st.integers(0, 5_000),
    st.sampled_from([0, -0.0, 2.0e3, MAX_UNIT_PRICE_CENTS]),  # -0.0 and 2000.0 are whole
    st.integers(0, MAX_UNIT_PRICE_CENTS),
)


@st.composite
def order_lines(
    draw: st.DrawFn, rich: bool = True
) -> tuple[list[dict[str, Any]], tuple[bool, ...]]:
    """1 to 4 lines (now and then up to the limit), each sku once, each stocked or not."""
    most = draw(st.sampled_from([1, 2, 4, 4, 4, 4, MAX_LINES])) if rich else 3
    lines = draw(
        st.lists(
            st.fixed_dictionaries(
                {"sku": skus, "quantity": quantities(), "unit_price_cents": prices}
            ),
            min_size=1,
            max_size=most,
            unique_by=lambda line: line["sku"],
        )
    )
    stocked = tuple(draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines))))
    return lines, stocked


# Members the order does not have (refused as unknown); a value of any JSON type.
extra_names = text(UPPER.lower() + "_", 1, 8).filter(lambda name: name not in KNOWN)
extra_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=5,
)


def nested(depth: int, leaf: Any = None) -> Any:
    """`leaf` inside `depth` arrays."""
    for _ in range(depth):
        leaf = [leaf]
    return leaf


@st.composite
def orders(
    draw: st.DrawFn, stem_prefix: str = "", rich: bool = True
) -> tuple[dict[str, Any], tuple[bool, ...]]:
    """A valid order body with a placeholder reference, and which lines are stocked; `rich`
    allows more lines (a malformed message does without)."""
    lines, stocked = draw(order_lines(rich))
    stem = stem_prefix + draw(order_stems)
    body: dict[str, Any] = {
        "order_id": stem,
        "currency": draw(st.sampled_from(sorted(CURRENCIES))),
        "lines": lines,
        "customer_ref": f"claim://orders-private/customers/{stem}.json",
    }
    if draw(st.booleans()):
        body["express"] = draw(st.booleans())
    if draw(st.integers(0, 5)) == 0:
        body["callback_url"] = None  # documented as "none"
    if not rich:
        return body, stocked
    return body, stocked


@st.composite
def valid_drafts(draw: st.DrawFn) -> Draft:
    body, stocked = draw(orders())
    bad_message_id, correlation_id = None, draw(st.none() | correlation_ids)
    if draw(st.integers(0, 5)) == 0:
        # A MessageId outside the pattern does not matter when a good CorrelationId is there.
        bad_message_id, correlation_id = draw(bad_ids), draw(correlation_ids)
    return Draft(
        "valid",
        body,
        style=draw(STYLES),
        space=draw(st.sampled_from(["", "", " ", "\n", "\r\n\t "])),
        bad_message_id=bad_message_id,
        message_id_is_order_id=bad_message_id is None and draw(st.booleans()),
        correlation_id=correlation_id,
        reply_to=draw(reply_tos),
        content_type=draw(content_types),
        stocked=stocked,
    )


# -- invalid messages --------------------------------------------------------------------------

Path = tuple[str | int, ...]
ANY_LINE = -1  # in a case's path: a line of the order, drawn


def where(path: Path) -> str:
    """How a reason names a field: `lines[2].sku`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def put(body: Any, path: Path, value: Any) -> None:
    for part in path[:-1]:
        body = body[part]
    body[path[-1]] = value


def remove(body: Any, path: Path) -> None:
    for part in path[:-1]:
        body = body[part]
    del body[path[-1]]


def canaries_in(value: Any) -> tuple[str, ...]:
    """The numbers in `value` that a reason must not hold (marked strings are found anyway)."""
    if isinstance(value, dict):
        return tuple(c for v in [*value.keys(), *value.values()] for c in canaries_in(v))
    if isinstance(value, list):
        return tuple(c for v in value for c in canaries_in(v))
    if isinstance(value, int | float) and not isinstance(value, bool) and len(repr(value)) >= 6:
        return (repr(value),)
    return ()


def json_of(kind: str) -> st.SearchStrategy[Any]:
    """A value of one JSON type, carrying the marker where it can."""
    return {
        "object": st.dictionaries(marked, marked | marked_ints, max_size=2),
        "array": st.lists(marked | marked_ints, max_size=2),
        "string": marked,
        "number": marked_ints | marked_ints.map(lambda n: n + 0.5),
        "fraction": marked_ints.map(lambda n: n + 0.5),  # a number, but not a whole one
        "boolean": st.booleans(),
        "null": st.none(),
    }[kind]


# Each field's JSON type, and the JSON types that are wrong for it.
FIELDS: dict[Path, str] = {
    ("order_id",): "string",
    ("currency",): "string",
    ("lines",): "array",
    ("customer_ref",): "string",
    ("express",): "boolean",
    ("callback_url",): "optional string",
    ("lines", ANY_LINE): "object",
    ("lines", ANY_LINE, "sku"): "string",
    ("lines", ANY_LINE, "quantity"): "integer",
    ("lines", ANY_LINE, "unit_price_cents"): "integer",
}
WRONG = {
    "string": ["object", "array", "number", "boolean", "null"],
    "array": ["object", "string", "number", "boolean", "null"],
    "object": ["array", "string", "number", "boolean", "null"],
    "integer": ["object", "array", "string", "fraction", "boolean", "null"],
    "boolean": ["object", "array", "string", "number", "null"],
    "optional string": ["object", "array", "number", "boolean"],  # null: no callback
}
REQUIRED: list[Path] = [
    ("order_id",),
    ("currency",),
    ("lines",),
    ("customer_ref",),
    ("lines", ANY_LINE, "sku"),
    ("lines", ANY_LINE, "quantity"),
    ("lines", ANY_LINE, "unit_price_cents"),
]
# A callback to a private or loopback address: its host is a canary, since no reason may
# quote it (domain/outbound.py names the kind of address refused, never the host).
ADDRESS_ECHOED = False
private_urls = st.builds(
    "https://{}.{}.{}.{}/qzx".format,
    st.sampled_from([10, 127]),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(1, 254),
)
# Values of the field's JSON type that break its rule.
OUT_OF_RULE: list[tuple[Path, st.SearchStrategy[Any]]] = [
    (
        ("order_id",),
        st.sampled_from(["", "-qzx", "_qzx", "qzx" + "a" * 62])  # 65 characters
        | marked.map(lambda s: s + "!")
        | marked.map(lambda s: s + "\n"),
    ),
    (("currency",), st.sampled_from(["", "eur", "EURO", "QZX", "XXX", " EUR", "EUR\n"])),
    (("lines",), st.just([])),
    (
        ("customer_ref",),
        st.sampled_from(["", "qzx ref", "qzx@example.com", "-qzx", "qzx" + "r" * 256]),
    ),
    (
        ("callback_url",),
        st.sampled_from(
            [
                "",
                "qzx",
                "ftp://qzx.example/",
                "http://qzx.example/",
                "https://u:qzx@h.example/",
                "https://qzx.example/#qzx",
                "https://qzx.example/" + "x" * 2048,
            ]
        ),
    ),
    (("callback_url",), private_urls),
    (
        ("lines", ANY_LINE, "sku"),
        st.sampled_from(["", "qzx", "QZX a", "QZX\n", "-QZX", "QZX" + "X" * 30]),
    ),
    (
        ("lines", ANY_LINE, "quantity"),
        st.sampled_from([0, -1, MAX_QUANTITY + 1, 0.0, 1.5, -(10**6) - 7, 10**6 + 7]),
    ),
    (
        ("lines", ANY_LINE, "unit_price_cents"),
        st.sampled_from([-1, -1.0, 0.5, MAX_UNIT_PRICE_CENTS + 17, -(10**7) - 7]),
    ),
]
# Numbers JSON has no room for: each is a problem for the price it stands in for.
REFUSED_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1E+400", "1" * 101]
Case = tuple[str, Any]
# Every way a message can be malformed that the test knows; each batch has one of each.
CASES: list[Case] = [
    *(("wrong type", path) for path in FIELDS),
    *(("out of rule", index) for index in range(len(OUT_OF_RULE))),
    *(("missing", path) for path in REQUIRED),
    ("duplicate sku", None),
    ("too many lines", None),
    ("unknown member", None),
    ("inline customer", None),
    ("not an object", None),
    ("not JSON", "bytes"),
    ("not JSON", "text"),
    ("not JSON", "encoding"),
    ("refused JSON", "number"),
    ("refused JSON", "surrogate"),
    ("too deep", None),
    ("bad CorrelationId", None),
    ("bad MessageId", None),
]


def is_json(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"))
    except ValueError:
        return False
    return True


def inline_customers() -> st.SearchStrategy[Any]:
    person = st.fixed_dictionaries(
        {"name": marked, "email": marked.map(lambda s: s + "@example.invalid")},
        optional={"address": marked},
    )
    return person | json_of("string") | json_of("array")


@st.composite
def invalid_drafts(draw: st.DrawFn, case: Case) -> Draft:
    """A message malformed in the way `case` names (now and then its CorrelationId too)."""
    kind, detail = case
    body, _ = draw(orders(stem_prefix=MARKER, rich=False))
    lines: list[dict[str, Any]] = body["lines"]
    raw: bytes | None = None
    reasons: tuple[str, ...] = ()
    canaries: tuple[str, ...] = ()

    def resolve(path: Path) -> Path:
        index = draw(st.integers(0, len(lines) - 1))
        return tuple(index if part == ANY_LINE else part for part in path)

    if kind == "wrong type":
        path = resolve(detail)
        value = draw(json_of(draw(st.sampled_from(WRONG[FIELDS[detail]]))))
        put(body, path, value)
        reasons, canaries = (f"{where(path)}: ",), canaries_in(value)
    elif kind == "out of rule":
        path, values = OUT_OF_RULE[detail]
        path, value = resolve(path), draw(values)
        put(body, path, value)
        reasons, canaries = (f"{where(path)}: ",), canaries_in(value)
        host = urlsplit(value).hostname if path == ("callback_url",) else None
        if host is not None and not ADDRESS_ECHOED:
            canaries += (host,)
    elif kind == "missing":
        path = resolve(detail)
        remove(body, path)
        reasons = (f"{where(path)}: ",)
    elif kind == "duplicate sku":
        index = draw(st.integers(0, len(lines) - 1))
        lines.append(dict(lines[index]))
        reasons = ("lines: each sku at most once",)
    elif kind == "too many lines":
        body["lines"] = [{**lines[0], "sku": f"S{n}"} for n in range(MAX_LINES + 1)]
        reasons = (f"lines: Tuple should have at most {MAX_LINES} items",)
    elif kind == "unknown member":
        name, value = draw(extra_names), draw(extra_values)
        body[name] = value
        reasons, canaries = (f"{name}: Extra inputs are not permitted",), canaries_in(value)
    elif kind == "inline customer":
        body["customer"] = draw(inline_customers())
        if draw(st.booleans()):
            del body["customer_ref"]
        reasons = (PERSONAL_DATA_ON_QUEUE,)
    elif kind == "not an object":
        value = draw(st.one_of(json_of("array"), json_of("string"), json_of("number")))
        body = draw(st.sampled_from([value, [body], None, True, False]))
        reasons, canaries = ("Input should be an object",), canaries_in(body)
    elif kind == "not JSON":
        text_body = json.dumps(body)
        raw = draw(
            {
                "bytes": st.just(b"") | st.binary(min_size=1, max_size=40),
                "text": st.one_of(
                    st.integers(1, len(text_body) - 1).map(lambda n: text_body[:n].encode()),
                    st.just(text_body.encode() + b"}"),
                    st.just(text_body.replace('"', "'").encode()),
                    st.just(text_body.replace(",", ",,", 1).encode()),
                ),
                "encoding": st.sampled_from(
                    [
                        text_body.encode().replace(b'"currency"', b'"\xff\xfecurrency"'),
                        text_body.encode().replace(b'"currency"', b'"\xc3currency"'),
                        text_body.encode("utf-16"),
                        text_body.encode("utf-32"),
                        b"\xef\xbb\xbf" + text_body.encode(),  # a byte order mark
                    ]
                ),
            }[detail]
        )
        # Random bytes may happen to be JSON (`1`, `""`): then any reason will do.
        reasons = () if is_json(raw) else ("the body is not JSON: ",)
    elif kind == "refused JSON":
        # Numbers no double holds (or no JSON allows) and text that is not Unicode.
        index = len(lines) - 1
        lines[index]["unit_price_cents"] = "<literal>"
        if detail == "number":
            literal = draw(st.sampled_from(REFUSED_NUMBERS))
            reasons = (f"lines[{index}].unit_price_cents: ",)
        else:
            literal, reasons = '"\\ud800qzx"', ("the body is not JSON: ",)
        raw = json.dumps(body).replace('"<literal>"', literal).encode()
    elif kind == "too deep":
        depth = draw(st.integers(*TOO_DEEP))
        around = draw(st.sampled_from(["body", "member", "line"]))
        if around == "body":
            body = nested(depth - 1, body)
        elif around == "member":
            body["deep"] = nested(depth - 1)  # the body object is the first level
        else:
            lines[0]["deep"] = nested(depth - 3)  # below the body, `lines` and a line
        # Compact: an indented style would repeat the indentation at each of ~300 levels and
        # outgrow the stand-in's message size.
        raw = json.dumps(body, separators=(",", ":")).encode()
        reasons = ("the body is not JSON: recursion limit exceeded",)
    bad_message_id, correlation_id = None, draw(st.none() | correlation_ids)
    if kind == "bad MessageId":
        bad_message_id, correlation_id = draw(bad_ids), None
        reasons += ("MessageId: ",)
    elif kind == "bad CorrelationId" or draw(st.integers(0, 9)) == 0:
        # Now and then a malformed body has a malformed CorrelationId too: both are reported.
        correlation_id = draw(bad_ids)
        reasons += ("CorrelationId: ",)
    return Draft(
        kind,
        body,
        raw=raw,
        style=draw(STYLES),
        bad_message_id=bad_message_id,
        correlation_id=correlation_id,
        reply_to=draw(reply_tos),
        content_type=draw(content_types),
        reasons=reasons,
        canaries=canaries,
    )


@st.composite
def batches(draw: st.DrawFn) -> list[Draft]:
    """Valid messages, and one of each malformed case, in an order drawn too."""
    # Hypothesis's first example is its simplest: here no messages, assumed away.
    valid = draw(st.just(0) | st.integers(*VALID))
    assume(valid > 0)
    drafts = [draw(valid_drafts()) for _ in range(valid)]
    drafts += [draw(invalid_drafts(case)) for case in CASES]
    return draw(st.permutations(drafts))


# -- the app on devhost ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    draft: Draft
    body: bytes
    message_id: str
    order_id: str | None = None  # valid messages: the order they must start
    outcome: str | None = None  # and how it must end (an OrderStatus)

    @property
    def correlation_id(self) -> str:
        """The id the order carries: CorrelationId, else MessageId."""
        return self.draft.correlation_id or self.message_id

    @property
    def valid(self) -> bool:
        return self.draft.valid

    def __repr__(self) -> str:
        draft = self.draft
        return (
            f"Sent({draft.kind!r}, body={self.body[:300]!r}, message_id={self.message_id!r}, "
            f"correlation_id={draft.correlation_id!r}, reply_to={draft.reply_to!r})"
        )


@dataclass
class App:
    host: DevHostProcess  # the main app: its `orders` trigger starts every order
    express: DevHostProcess  # the express app, whose hub runs the orders marked express
    env: dict[str, str]
    storage: str
    adapters: OrderAdapters
    # Everything sent to this devhost so far (a failing example is run once more).
    sent: list[Sent] = field(default_factory=list)

    def send(self, sent: Sent) -> None:
        draft = sent.draft
        result = send_message(
            QUEUE,
            sent.body,
            message_id=sent.message_id,
            correlation_id=draft.correlation_id,
            reply_to=draft.reply_to,
            content_type=draft.content_type,
            connection="ServiceBusConnection",
            app_dir=PROJECT_ROOT,
            environ=self.env,
        )
        assert result.accepted, sent.message_id

    def queued(self) -> int:
        """Messages on `orders` not yet completed or dead-lettered (locked ones included)."""
        queue = QueueClient.from_connection_string(self.storage, active_queue_name(QUEUE))
        return int(queue.get_queue_properties().approximate_message_count or 0)

    def dead_letters(self) -> int:
        letters, total = peek_dead_letters(
            QUEUE, connection="ServiceBusConnection", app_dir=PROJECT_ROOT, environ=self.env
        )
        return max(len(letters), total or 0)

    def rejected(self) -> list[RejectedMessage]:
        connection = StorageConnection(connection_string=self.storage)
        return build_rejected_messages(connection, "rejectedmessages").for_queue(QUEUE)

    def orders(self) -> dict[str, dict[str, Any]]:
        """Every order orchestration in both task hubs, by instance id, with its input."""
        found: dict[str, dict[str, Any]] = {}
        for host in (self.host, self.express):
            for instance_id, status in self._orders(host).items():
                assert instance_id not in found  # one hub runs each order
                found[instance_id] = status
        return found

    @staticmethod
    def _orders(host: DevHostProcess) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        token = ""
        while True:
            response = host.http.get(
                host.url(f"{DURABLE}/instances"),
                params={"instanceIdPrefix": "order-", "showInput": "true", "top": "200"},
                headers={"x-ms-continuation-token": token} if token else {},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            for status in response.json():
                assert status["instanceId"] not in found
                found[status["instanceId"]] = status
            token = response.headers.get("x-ms-continuation-token", "")
            if not token:
                return found


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory,
    both_apps: Callable[..., AbstractContextManager[Any]],
) -> Iterator[App]:
    """The app at the repository root in both roles on devhosts of their own (own Azurite,
    virtual time): a valid message marked express runs in the express app's hub."""
    azurite = Azurite(tmp_path_factory.mktemp("message-fuzz-azurite"), project_root=PROJECT_ROOT)
    azurite.start()
    try:
        env = {**ENV, "AzureWebJobsStorage": azurite.connection_string}
        state = tmp_path_factory.mktemp("message-fuzz-devhost")
        connection = StorageConnection(connection_string=azurite.connection_string)
        adapters = build_order_adapters(
            connection, order_storage_names({}), payment_provider=ENV["PAYMENT_PROVIDER"]
        )
        with both_apps(
            PROJECT_ROOT, state_dir=state, virtual_time=True, env=env, fsync=False
        ) as apps:
            yield App(apps.main, apps.express, env, azurite.connection_string, adapters)
    finally:
        azurite.stop()


RUNS = itertools.count(1)


def prepare(app: App, drafts: list[Draft]) -> list[Sent]:
    """Give every message unique ids (and each valid order SKUs of its own); store each valid
    order's customer in the claim check, as a publisher must, and put exactly enough units on
    the shelf for stocked lines and one too few for the others, as a stock-take would."""
    run = next(RUNS)
    prepared: list[Sent] = []
    shelf: dict[str, int] = {}
    for index, draft in enumerate(drafts):
        suffix = f"-{run}-{index}"
        body = draft.body
        order_id = outcome = None
        oid = body.get("order_id") if isinstance(body, dict) else None
        if isinstance(oid, str) and ORDER_ID.fullmatch(oid):
            body = {**body, "order_id": oid + suffix}
        if draft.valid:
            order_id = body["order_id"]
            body["customer_ref"] = app.adapters.claims.put(order_id, CUSTOMER)
            body["lines"] = [{**line, "sku": line["sku"] + suffix} for line in body["lines"]]
            for line, stocked in zip(body["lines"], draft.stocked, strict=True):
                shelf[line["sku"]] = int(line["quantity"]) - (0 if stocked else 1)
            outcome = expected_outcome(body, draft.stocked)
        if draft.raw is not None:
            raw = draft.raw
        else:
            raw = (draft.space + json.dumps(body, **draft.style) + draft.space).encode()
        if draft.bad_message_id is not None:
            message_id = (draft.bad_message_id + suffix)[-128:]
        elif draft.message_id_is_order_id:
            message_id = str(order_id)
        else:
            message_id = f"fuzz{suffix}"
        prepared.append(Sent(draft, raw, message_id, order_id, outcome))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda item: app.adapters.stock.set_level(*item), shelf.items()))
    return prepared


def expected_outcome(body: dict[str, Any], stocked: tuple[bool, ...]) -> str:
    """How the workflow ends an order: short of stock, it fails; at or above the threshold,
    nobody approves it and the approval times out; otherwise it completes."""
    if not all(stocked):
        return "Failed"
    total = sum(int(line["quantity"]) * int(line["unit_price_cents"]) for line in body["lines"])
    return "Rejected" if total >= THRESHOLD else "Completed"


def expected_order(sent: Sent) -> dict[str, Any]:
    body = json.loads(sent.body)
    return {
        "order_id": body["order_id"],
        "customer_ref": body["customer_ref"],
        "currency": body["currency"],
        "lines": [
            {
                "sku": line["sku"],
                "quantity": int(line["quantity"]),
                "unit_price_cents": int(line["unit_price_cents"]),
            }
            for line in body["lines"]
        ],
        "express": body.get("express", False),
    }


@seed(SEED)
@settings(
    derandomize=True,
    max_examples=BATCHES,
    database=None,
    deadline=None,
    # No shrinking: each example sends a whole batch. A failure is reported as generated.
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(drafts=batches())
def test_every_valid_message_starts_one_order_and_every_other_is_recorded(
    app: App, drafts: list[Draft]
) -> None:
    batch = prepare(app, drafts)
    app.sent += batch
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(app.send, batch))
    # Completed or dead-lettered: gone from the queue, locked or not.
    wait_until(lambda: app.queued() == 0, DRAIN_SECONDS, "the orders queue drained")
    assert app.dead_letters() == 0, app.host.logs()[-3000:]

    orders, rows = app.orders(), {row.message_id: row for row in app.rejected()}
    # None lost: each message sent so far started its order or was recorded, not both.
    assert sorted(orders) == sorted(instance_id_for(str(s.order_id)) for s in app.sent if s.valid)
    assert sorted(rows) == sorted(s.message_id for s in app.sent if not s.valid)
    assert len(orders) + len(rows) == len(app.sent)

    logs = app.host.logs()
    for sent in batch:
        assert f"Message '{sent.message_id}' failed" not in logs, sent  # never retried
        if sent.valid:
            assert_started_once(sent, orders[instance_id_for(str(sent.order_id))], logs)
        else:
            assert_recorded(sent, rows[sent.message_id])
    assert_orders_ended(app, [s for s in batch if s.valid])
    print(
        f"\nmessage fuzz batch: {sum(s.valid for s in batch)} valid, "
        f"{sum(not s.valid for s in batch)} invalid"
    )


def assert_started_once(sent: Sent, status: dict[str, Any], logs: str) -> None:
    """The orchestration has the order the message carried and the message's correlation id,
    and was started once, by the first delivery."""
    started = json.loads(status["input"])
    assert started["order"] == expected_order(sent), sent
    assert started["correlation_id"] == sent.correlation_id, sent
    assert logs.count(f"Order {sent.order_id} started as {status['instanceId']} [") == 1, sent
    assert f"Message {sent.message_id} on {QUEUE} repeats order" not in logs, sent


def assert_recorded(sent: Sent, row: RejectedMessage) -> None:
    """The row says why, without any value the message carried, and the message was completed
    on its first delivery."""
    for reason in sent.draft.reasons:
        assert reason in row.reason, (row.reason, sent)
    assert row.reason.strip(), sent
    assert MARKER not in row.reason.lower(), (row.reason, sent)
    for canary in sent.draft.canaries:
        assert canary not in row.reason, (canary, row.reason, sent)
    assert (row.queue, row.delivery_count, row.body_bytes) == (QUEUE, 1, len(sent.body))


def assert_orders_ended(app: App, started: list[Sent]) -> None:
    """Each order runs to the end its stock and amount decide: no message the intake accepts
    breaks the workflow."""
    by_instance = {instance_id_for(str(s.order_id)): s for s in started}

    def ended() -> dict[str, dict[str, Any]] | None:
        now = {i: status for i, status in app.orders().items() if i in by_instance}
        return now if all(s["runtimeStatus"] in TERMINAL for s in now.values()) else None

    for instance_id, status in wait_until(ended, FINISH_SECONDS, "the orders ended").items():
        sent = by_instance[instance_id]
        assert status["runtimeStatus"] == "Completed", (status, sent)
        assert status["output"]["order_id"] == sent.order_id, (status["output"], sent)
        assert status["output"]["status"] == sent.outcome, (status["output"], sent)
