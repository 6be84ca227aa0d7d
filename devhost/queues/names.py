"""Queue names as the queues extension resolves and checks them, and their poison queues."""

from __future__ import annotations

from devhost.expressions import resolve

POISON_SUFFIX = "-poison"


class InvalidQueueName(ValueError):
    """A queue name storage would refuse; the message is the extension's."""


def validate(name: str) -> str:
    """The extension's QueueClientExtensions.ValidateQueueName rules, with its messages."""
    if not name:
        raise InvalidQueueName("A queue name can't be null or empty")
    if not 3 <= len(name) <= 63:
        raise InvalidQueueName(f'A queue name must be from 3 to 63 characters long - "{name}"')
    if name[0] == "-" or name[-1] == "-":
        raise InvalidQueueName(
            f'The dash (-) character may not be the first or last letter - "{name}"'
        )
    previous = "a"
    for ch in name:
        if ch.isupper():
            raise InvalidQueueName(f'Queue names must be all lower case - "{name}"')
        if not (ch.isalnum() or ch == "-"):
            raise InvalidQueueName(
                f'A queue name can contain only letters, numbers, and dash(-) characters - "{name}"'
            )
        if ch == "-" and previous == "-":
            raise InvalidQueueName("A queue name cannot contain consecutive dash(-) characters.")
        previous = ch
    return name


def trigger_queue_name(declared: str) -> str:
    """`%Setting%` resolved, lowercased ("coerce here to be nice", as the extension does),
    then validated. BindingExpressionError or InvalidQueueName say what is wrong."""
    return validate(resolve(declared).lower())


def poison_queue_name(name: str) -> str | None:
    """`<name>-poison`, or None where the extension has no poison queue: a queue that is a
    poison queue itself, or whose name would grow past 63 characters."""
    if name.endswith(POISON_SUFFIX):
        return None
    candidate = name + POISON_SUFFIX
    try:
        return validate(candidate)
    except InvalidQueueName:
        return None
