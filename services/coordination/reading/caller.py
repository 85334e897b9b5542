"""Who reads: a user of a registered institution, in one of the roles coordination knows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CASEWORKER = "caseworker"  # Fallbearbeitung at a partner institution
    COORDINATOR = "coordinator"  # IIZ coordinator (case manager)
    AUDITOR = "auditor"  # data-protection officer or auditor: the audit log
    COMMITTEE = "committee"  # IIZ-Ausschuss: aggregates only, never a case


@dataclass(frozen=True)
class Caller:
    user: str
    institution: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        return f"{self.institution}/{self.role.value}/{self.user}"
