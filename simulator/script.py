"""A person's script: the submissions partners make, in order, and the ground truth they imply.

The ground truth is kept in plain terms while the script is written — who takes part in the case
from which step and until when, which consents exist and when they were granted and revoked —
so that an independent model can say who must receive what, without any coordination code.
A script cannot contain an event that coordination would refuse (the ground truth knows the
contract's authority rules): writing one is an error in the scenario.
Pure: no I/O, no clock; every id and time comes from the writer's seeded random source.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from schemas.ahv import AhvNumber
from schemas.envelope import CloudEvent, new_event
from schemas.events import (
    ConsentConfirmed,
    EventData,
    PersonRef,
)
from schemas.registry.institutions import InstitutionRegistry
from schemas.vocabulary import DataCategory
from simulator.ground_truth import ConsentFact, GroundTruth, Participation

ZURICH = ZoneInfo("Europe/Zurich")
Door = Literal["kafka", "http", "form"]
ConsentId = uuid.UUID  # (inside ScriptWriter, ``uuid`` is its method)


class Fault(StrEnum):
    """A deliberate mistake in a submission, and the reason code intake must answer with."""

    MISTYPED_CHECK_DIGIT = "invalid_ahv"  # the last digit of the AHV number is wrong
    UNKNOWN_FIELD = "schema_violation"  # a field the schema does not know ("bemerkung")


class Expect(StrEnum):
    """The receipt status a submission must get."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class FormSubmission:
    """What a municipality fills into one of intake's ZIF registration forms
    (``/formular/<slug>``). The form builds the events itself — ``case.opened`` (if
    ``open_case``), ``consent.granted``, ``referral.requested`` to ZIF, ``document.shared`` for
    the signed consent form — with ids and a time of its own: the script's events are the plan,
    their ids placeholders that the driver replaces by what the municipality observes."""

    slug: str  # erstgespraech | potenzialabklaerung | re-assessment
    open_case: bool
    institutions: tuple[str, ...]  # ticked besides the municipality and ZIF
    categories: tuple[str, ...]
    signed_on: dt.date
    valid_until: dt.date
    answer_due: dt.date | None
    note: str | None
    document_name: str  # the signed consent form's file name
    document: bytes  # … and its content (a PDF)


@dataclass(frozen=True)
class Step:
    """One submission: who sends it, through which door, and the event as the partner has it.

    Through the ``form`` door one submission makes several events: each is a step, with the
    same ``form`` and its position in it (``form_part``); the first step submits the form."""

    index: int
    origin: str
    door: Door
    event: CloudEvent[Any]
    fault: Fault | None = None
    expect: Expect = Expect.ACCEPTED
    form: FormSubmission | None = None
    form_part: int = 0

    @property
    def on_bus(self) -> bool:
        """Only an accepted first submission becomes a canonical event."""
        return self.expect is Expect.ACCEPTED


@dataclass(frozen=True)
class PersonScript:
    person_id: str
    path: str
    tags: frozenset[str]
    ahv: str  # dotted, as the partners send it
    steps: tuple[Step, ...]
    participations: tuple[Participation, ...]
    consents: tuple[ConsentFact, ...]


@dataclass(frozen=True)
class PendingConfirmation:
    """A named institution confirms a consent another recorded, once ``due`` sends were made."""

    institution: str
    consent_id: uuid.UUID
    due: int


class RefusedInScriptError(ValueError):
    """A scenario wrote an event that coordination would refuse."""


class StoryGoesOnError(Exception):
    """The next submission would fall after the writer's ``horizon``: the story goes on beyond
    the simulated window, and its script ends with what was written so far (nothing of the
    submission that would have crossed the horizon is written)."""


@dataclass
class ScriptWriter:
    """Writes one person's script step by step and keeps its ground truth alongside."""

    person_id: str
    path: str
    ahv: str
    start: dt.datetime
    registry: InstitutionRegistry
    rng: random.Random
    case_refs: dict[str, str] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    steps: list[Step] = field(default_factory=list)
    truth: GroundTruth = field(default_factory=GroundTruth)
    fault_plan: tuple[int, Fault] | None = None  # the n-th send goes wrong first
    resend_plan: int | None = None  # the n-th send is sent twice (same id)
    pending: list[PendingConfirmation] = field(default_factory=list)
    # The year mode (``simulator.population.build_year_population``): no submission after the
    # horizon; the municipalities register ZIF persons through the HTTP door (their case
    # management application) instead of the web form; stories take the months they take.
    horizon: dt.datetime | None = None
    by_form: bool = True
    paced: bool = False
    ref_year: int = 2026  # the year in the institutions' own case references

    def __post_init__(self) -> None:
        self._now = self.start.astimezone(dt.UTC)  # real time; shown in Zurich time
        self._sends = 0
        self._pinned = True  # the first submission happens at the start

    @property
    def clock(self) -> dt.datetime:
        """The business time of the next submission, in Zurich local time."""
        return self._now.astimezone(ZURICH)

    @clock.setter
    def clock(self, moment: dt.datetime) -> None:
        self._now = moment.astimezone(dt.UTC)

    # ----- time ----------------------------------------------------------------------------

    def wait(self, *, days: float = 0, hours: float = 0, minutes: float = 0) -> None:
        self._now += dt.timedelta(days=days, hours=hours, minutes=minutes)

    def pause(self, low: int, high: int) -> None:
        """In a paced story (the year mode) ``low`` to ``high`` days pass; otherwise nothing
        happens and nothing is drawn (the quick demo's stories stay as they are)."""
        if self.paced:
            self.wait(days=self.rng.randrange(low, high))

    def _advance(self, after: dt.timedelta | None) -> None:
        """Move the clock to the next submission (``after`` the previous one, default 20 minutes
        to 30 hours later); past the horizon, stop the story instead (the clock stays)."""
        if after is None and not self._pinned:
            after = dt.timedelta(minutes=self.rng.randrange(20, 60 * 30))
        moment = self._now + (after or dt.timedelta(0))
        # A faulty copy goes 7 minutes before its correction: keep both inside the window.
        if self.horizon is not None and moment + dt.timedelta(minutes=10) > self.horizon:
            raise StoryGoesOnError(self.person_id)
        self._now = moment
        self._pinned = False

    def at_night(self) -> None:
        """Jump to 00:20 of the next day in Zurich (a partner's nightly batch, UTC still before)."""
        next_day = self.clock.date() + dt.timedelta(days=1)
        self.clock = dt.datetime.combine(next_day, dt.time(0, 20), tzinfo=ZURICH)
        self._pinned = True  # the next submission happens exactly then

    @property
    def today(self) -> dt.date:
        return self.clock.date()

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    # ----- submitting ----------------------------------------------------------------------

    def send(
        self,
        origin: str,
        cls: type[EventData],
        /,
        *,
        datacategory: DataCategory | None = None,
        fault: Fault | None = None,
        resend: bool = False,
        after: dt.timedelta | None = None,
        **fields: Any,
    ) -> CloudEvent[Any]:
        """Submit an event ``after`` the previous one (default: 20 minutes to 30 hours later);
        with ``fault``, a faulty copy goes first, with ``resend`` the same event again after."""
        self._advance(after)
        if self.fault_plan is not None and self.fault_plan[0] == self._sends:
            fault = fault or self.fault_plan[1]
        resend = resend or self.resend_plan == self._sends
        self._sends += 1
        for name, info in cls.model_fields.items():
            if name.endswith("_id") and name not in fields and info.annotation is uuid.UUID:
                fields[name] = self.uuid()
        person = PersonRef(ahv_number=AhvNumber(self.ahv), case_ref=self.case_ref(origin))
        extra: dict[str, Any] = {"datacategory": datacategory} if datacategory else {}
        if "referral_id" in fields:
            extra["correlationid"] = str(fields["referral_id"])
        data = cls(person=person, **fields)
        reason = self.truth.refusal(origin, data)
        if reason is not None:
            raise RefusedInScriptError(f"{self.person_id}: {cls.name} from {origin} ({reason})")
        if fault is not None:
            self.tags.add("bad-submission")
            faulty = new_event(
                data, source=self._source(origin), time=self.clock, event_id=self.uuid(), **extra
            )
            self._append(origin, faulty, fault=fault, expect=Expect.REJECTED)
            self.wait(minutes=7)  # the partner corrects the mistake and sends a new event
        event = new_event(
            data, source=self._source(origin), time=self.clock, event_id=self.uuid(), **extra
        )
        step = self._append(origin, event)
        self.truth.follow(step.index, step.origin, step.event)
        if resend:
            self.tags.add("resent")
            self._append(origin, event, expect=Expect.DUPLICATE)
        self.send_due_confirmations()
        return event

    def submit_form(
        self,
        origin: str,
        form: FormSubmission,
        parts: list[tuple[type[EventData], dict[str, Any]]],
        /,
        *,
        after: dt.timedelta | None = None,
    ) -> list[CloudEvent[Any]]:
        """One web form submission ``after`` the previous step, making the ``parts``' events in
        their order at one time (no deliberate fault, no resend: the form answers at once)."""
        self._advance(after)
        self._sends += 1
        events = []
        for part, (cls, fields) in enumerate(parts):
            person = PersonRef(ahv_number=AhvNumber(self.ahv), case_ref=self.case_ref(origin))
            data = cls(person=person, **fields)
            reason = self.truth.refusal(origin, data)
            if reason is not None:
                raise RefusedInScriptError(f"{self.person_id}: {cls.name} from {origin} ({reason})")
            event = new_event(
                data, source=self._source(origin), time=self.clock, event_id=self.uuid()
            )
            step = Step(len(self.steps), origin, "form", event, form=form, form_part=part)
            self.steps.append(step)
            self.truth.follow(step.index, step.origin, step.event)
            events.append(event)
        self.send_due_confirmations()
        return events

    # ----- confirmations (consent.confirmed, since 1.4.0) ---------------------------------

    def confirm_later(self, institution: str, consent_id: ConsentId, *, after_sends: int) -> None:
        """``institution`` confirms the consent after ``after_sends`` further sends (0: at the
        next ``send_due_confirmations``, which every send ends with)."""
        self.pending.append(PendingConfirmation(institution, consent_id, self._sends + after_sends))

    def drop_confirmations(self, consent_id: ConsentId) -> None:
        """Confirmations of this consent not sent yet never will be (it is being revoked)."""
        self.pending = [c for c in self.pending if c.consent_id != consent_id]

    def confirm_pending(self) -> None:
        """Every confirmation still pending is sent now (the story of this case ends)."""
        self.pending = [replace(c, due=self._sends) for c in self.pending]
        self.send_due_confirmations()

    def send_due_confirmations(self) -> None:
        """Send the confirmations that are due, each a few minutes after the previous step."""
        due = [c for c in self.pending if c.due <= self._sends]
        self.pending = [c for c in self.pending if c.due > self._sends]
        for confirmation in due:
            self.tags.add("consent-confirmed")
            self.send(
                confirmation.institution,
                ConsentConfirmed,
                after=dt.timedelta(minutes=self.rng.randrange(10, 90)),
                consent_id=confirmation.consent_id,
                document_ref=f"EINW-KOPIE-{self.case_ref(confirmation.institution)}",
            )

    def case_ref(self, institution: str) -> str:
        if institution not in self.case_refs:
            number = f"{self.person_id.lstrip('P')}{self.rng.randrange(100, 999)}"
            year = self.ref_year
            prefix = {
                "rav": f"RAV-BL-{year}",
                "iv": f"IV-FE-{year}",
                "ksa": f"KSA-IIZ-{year}",
                "assessmentcenter": f"AC-{year}",
                "zif": f"ZIF-{year}",
                "berufsbildung": f"CMBB-{year}",
            }.get(institution, f"SD-{institution.removeprefix('sozialhilfe-')}-{year}")
            self.case_refs[institution] = f"{prefix}-{number}"
        return self.case_refs[institution]

    def script(self) -> PersonScript:
        return PersonScript(
            person_id=self.person_id,
            path=self.path,
            tags=frozenset(self.tags),
            ahv=self.ahv,
            steps=tuple(self.steps),
            participations=tuple(self.truth.participations),
            consents=tuple(self.truth.consents.values()),
        )

    def _source(self, origin: str) -> str:
        return self.registry.by_id[origin].source

    def _append(
        self,
        origin: str,
        event: CloudEvent[Any],
        *,
        fault: Fault | None = None,
        expect: Expect = Expect.ACCEPTED,
    ) -> Step:
        door: Door = "http" if origin.startswith("sozialhilfe-") else "kafka"
        step = Step(len(self.steps), origin, door, event, fault, expect)
        self.steps.append(step)
        return step
