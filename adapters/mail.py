"""The mail port: one small interface every transport (file, SMTP, Azure Communication Services)
implements, and the errors that tell the outbox sender whether to try again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMail:
    """One rendered notification. `id` is the same for every attempt at the same outbox row
    (a UUID): ACS takes it as the operation id, SMTP as the Message-ID, the file transport as
    the file name, so a resend is recognisable or absorbed. Addresses and bodies stay out of
    repr(), hence out of logs."""

    id: str
    sender: str = field(repr=False)
    to: tuple[str, ...] = field(repr=False)
    subject: str = field(repr=False)
    text: str = field(repr=False)
    html: str = field(repr=False)
    resend: bool = False  # an earlier attempt may have reached the transport


class MailTransport(Protocol):
    """Sends a mail, or raises one of the errors below; returning means it was accepted."""

    name: str

    def send(self, mail: OutgoingMail) -> None: ...


class MailError(Exception):
    """A send that did not happen; the message names the cause, never an address or a body."""


class TransientMailError(MailError):
    """Try again later: after `retry_after` seconds when the transport said (a 429's
    Retry-After, which does not count as a failed attempt), else after the sender's backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def throttled(self) -> bool:
        return self.retry_after is not None


class PermanentMailError(MailError):
    """Never worth trying again (a refused recipient, a bad sender): the row is marked dead."""
