"""Synthetic partners for the demo: deterministic (seeded) Basel-Landschaft case events.

Every AHV number made here is synthetic: random digits with a correct check digit.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from schemas.ahv import AhvNumber, ean13_check_digit
from schemas.envelope import CloudEvent, new_event
from schemas.events import (
    BenefitExhaustionExpected,
    CaseOpened,
    ConsentGranted,
    ParticipantJoined,
    PersonRef,
    ReferralRequested,
)
from schemas.registry.institutions import Institution
from schemas.vocabulary import BenefitKind, DataCategory, ParticipantRole, ReferralPurpose

FIRST_DAY = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


class SyntheticPartners:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets

    def ahv(self) -> str:
        first = "756" + "".join(str(self._rng.randrange(10)) for _ in range(9))
        return f"{first}{ean13_check_digit(first)}"

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)

    def rav_job_seekers(self, rav: Institution, persons: int) -> list[CloudEvent[Any]]:
        """Job seekers whose ALV entitlement runs out soon: the trigger for parallel planning."""
        events: list[CloudEvent[Any]] = []
        for n in range(persons):
            person = PersonRef(ahv_number=AhvNumber(self.ahv()), case_ref=f"RAV-2026-{n:05d}")
            at = FIRST_DAY + dt.timedelta(minutes=7 * n)
            runs_out = at.date() + dt.timedelta(days=self._rng.randrange(20, 90))
            opened = CaseOpened(person=person, project_code="IIZ-FALLKOORD")
            consent = ConsentGranted(
                person=person,
                consent_id=self.uuid(),
                institutions=[rav.id, "assessmentcenter", "sozialhilfe-2829"],
                categories=[
                    DataCategory.CASE_ADMIN,
                    DataCategory.EMPLOYMENT,
                    DataCategory.BENEFITS,
                ],
                valid_from=at.date(),
                document_ref=f"RAV-EINW-{n:05d}",
            )
            joins = ParticipantJoined(
                person=person, institution="assessmentcenter", role=ParticipantRole.PARTICIPANT
            )
            forecast = BenefitExhaustionExpected(
                person=person,
                benefit_id=self.uuid(),
                kind=BenefitKind.ALV_DAILY_ALLOWANCE,
                expected_end=runs_out,
            )
            for offset, data in enumerate((opened, consent, joins, forecast)):
                events.append(
                    new_event(
                        data,
                        source=rav.source,
                        time=at + dt.timedelta(minutes=offset),
                        event_id=self.uuid(),
                        partitionkey=person.case_ref,
                    )
                )
        return events

    def municipal_referrals(self, municipality: Institution, count: int) -> list[dict[str, Any]]:
        """ZIF first-interview referrals as a municipal case system posts them (structured JSON).

        The first one carries a mistyped check digit, as happens in real forms.
        """
        bodies = []
        for n in range(count):
            ahv = self.ahv()
            if n == 0:
                ahv = ahv[:-1] + str((int(ahv[-1]) + 1) % 10)
            data = ReferralRequested(
                person=PersonRef(case_ref=f"SH-{municipality.bfs_number}-{n:04d}"),
                referral_id=self.uuid(),
                to_institution="zif",
                purpose=ReferralPurpose.ZIF_FIRST_INTERVIEW,
            ).model_dump(mode="json", exclude_none=True)
            data["person"]["ahv_number"] = ahv  # raw, so a typo reaches intake as sent
            bodies.append(
                {
                    "specversion": "1.0",
                    "id": str(self.uuid()),
                    "source": municipality.source,
                    "type": ReferralRequested.cloud_event_type(),
                    "time": (FIRST_DAY + dt.timedelta(days=1, hours=n)).isoformat(),
                    "datacontenttype": "application/json",
                    "partitionkey": f"SH-{municipality.bfs_number}-{n:04d}",
                    "data": data,
                }
            )
        return bodies
