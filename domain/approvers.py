"""Who is asked to approve a large order: `id=email` pairs from settings, checked at start."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from domain.approval_tokens import APPROVER_PATTERN

# The two rounds of approval requests: when the order starts waiting, and at escalation.
Stage = Literal["approval", "escalation"]
# Deliberately simple: one @, no spaces or commas, a dot in the domain, at most 254 characters.
_EMAIL = re.compile(r"^[^@\s,;<>\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Approver:
    """An approver's id (what tokens and logs name) and address (what only a mailer reads)."""

    id: str
    email: str = field(repr=False)  # kept out of logs


def parse_approvers(entries: tuple[str, ...], setting: str) -> tuple[Approver, ...]:
    """`id=email` entries; ValueError naming the setting and the entry's position (never the
    address) for a bad entry or a repeated id."""
    approvers: list[Approver] = []
    for position, entry in enumerate(entries, start=1):
        approver_id, separator, email = (part.strip() for part in entry.partition("="))
        where = f"{setting}, entry {position}"
        if not separator:
            raise ValueError(f"{where}: expected id=email")
        if not APPROVER_PATTERN.match(approver_id):
            raise ValueError(f"{where}: the id must be 1-128 letters, digits or ._@+-")
        if len(email) > 254 or not _EMAIL.match(email):
            raise ValueError(f"{where}: not an email address")
        if any(known.id == approver_id for known in approvers):
            raise ValueError(f"{where}: the id {approver_id!r} is listed twice")
        approvers.append(Approver(approver_id, email))
    return tuple(approvers)
