"""Who reads: a user of a registered institution, in one of the roles coordination knows."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    CASEWORKER = "caseworker"  # Fallbearbeitung at a partner institution
    COORDINATOR = "coordinator"  # IIZ coordinator (case manager)
    AUDITOR = "auditor"  # data-protection officer or auditor: the audit log
    COMMITTEE = "committee"  # IIZ-Ausschuss: aggregates only, never a case


# Who works on cases: adds notes, answers referrals, reads the institution's Posteingang.
CASE_WORK_ROLES = frozenset({Role.COORDINATOR, Role.CASEWORKER})


@dataclass(frozen=True)
class Caller:
    user: str  # the token's ``sub``: stable, the audit log's name for the caller
    institution: str
    role: Role
    # How the pages greet the caller (``preferred_username``, else ``name``); never audited and
    # never part of the caller's identity (not compared, not hashed).
    display_name: str | None = field(default=None, compare=False)

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        return f"{self.institution}/{self.role.value}/{self.user}"
