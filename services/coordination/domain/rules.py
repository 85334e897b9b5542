"""The configurable numbers of coordination's rules (settings turn them into this value)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class RuleSettings:
    """Periods of the rules, in days (calendar days unless named working days)."""

    grace_days: int = 30
    exhaustion_window_days: int = 90
    referral_answer_working_days: int = 10
    referral_escalation_working_days: int = 5
    handoff_gap_days: int = 30

    @property
    def grace(self) -> dt.timedelta:
        return dt.timedelta(days=self.grace_days)
