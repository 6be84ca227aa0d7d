"""The mail port: one small interface every transport (file, SMTP, Azure Communication Services)
implements, and the errors that tell the outbox sender whether to try again."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
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


def mime(mail: OutgoingMail) -> EmailMessage:
    """The mail as RFC 5322 text and HTML parts, with a Message-ID that is the same on every
    attempt, so a rare duplicate is recognisable (and dropped by some mail systems)."""
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Message-ID"] = f"<{mail.id}@{mail.sender.rpartition('@')[2] or 'localhost'}>"
    message["Date"] = formatdate(localtime=False)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class FileTransport:
    """Local runs: each mail an .eml file named by its id (a resend rewrites the same file)."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, mail: OutgoingMail) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{mail.id}.eml"
        partial = target.with_suffix(".partial")
        partial.write_bytes(bytes(mime(mail)))
        partial.replace(target)  # whole or not at all


class SmtpTransport:
    """Any SMTP server: STARTTLS (587), implicit TLS (465) or none (a local relay)."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30,
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self._login = (username, password) if username and password else None
        self.timeout = timeout

    def send(self, mail: OutgoingMail) -> None:
        context = ssl.create_default_context()
        try:
            if self.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.security == "starttls":
                    client.starttls(context=context)
                if self._login:
                    client.login(*self._login)
                client.send_message(mime(mail))
        except smtplib.SMTPRecipientsRefused as refused:
            codes = sorted({code for code, _ in refused.recipients.values()})
            raise _by_code(codes[-1], "recipients refused") from None
        except smtplib.SMTPResponseException as error:
            raise _by_code(error.smtp_code, "the server refused the mail") from None
        except (OSError, smtplib.SMTPException) as error:
            raise TransientMailError(f"SMTP unreachable: {type(error).__name__}") from None


def _by_code(code: int, what: str) -> MailError:
    """SMTP's 4xx is try-again-later, 5xx final (RFC 5321, 4.2.1)."""
    if 400 <= code < 500:
        return TransientMailError(f"{what} ({code}, temporary)")
    return PermanentMailError(f"{what} ({code})")
