"""The expected deliveries of a simulated population, from its ground truth only.

Independent of coordination (nothing of ``services.coordination`` is imported): the rules of
ARCHITECTURE §7 and docs/coordination.md, re-implemented plainly over the scripts' own record of
who takes part when and which consents exist, with categories and marked fields read from the
published JSON Schemas (``schemas/json``):

- the origin gets no delivery of its own event (it gets the receipt);
- a recipient must take part at the event's bus position (from joining, opening or being
  invited by a referral; after leaving, declining or closing, still for events whose business
  time is within the grace period after that);
- every category the event carries (its type's default and a declared one) must be covered by a
  consent naming origin and recipient, granted at or before the event, not revoked before it,
  valid on the event's business date in Zurich; the legal-basis matrix is empty;
- ``health`` is covered only by a consent that names it;
- ``health`` and ``identity`` leave their origin under a consent only if the origin recorded
  that consent or confirmed it (``consent.confirmed``) at or before the event;
- a marked field (``x-datacategory``) is withheld unless its category is covered too; a marked
  value of a list field (``x-datacategory-values``: the barrier ``health``) is the path
  ``<field>[<value>]``, and withholding it removes the value from the list;
- every institution named in a consent that another recorded receives its ``consent.granted``
  (marked fields withheld as above), taking part or not, with that consent as its basis.

The bus position of a person's events is the order of the script's accepted steps (the driver
submits a person's steps strictly one after the other). A script holds no event coordination
would refuse (``simulator.ground_truth`` knows the authority rules: who takes part, that only
the lead closes the case or removes another, that a consent id is recorded once), so every
accepted step is folded here; the participations and consents come from that ground truth
(of early revocations, the earliest by an institution the grant names counts).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from schemas.events import ConsentGranted
from services.intake.submission import canonical_id
from simulator.ground_truth import ConsentFact
from simulator.script import Expect, PersonScript, Step

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "json"
ZURICH = ZoneInfo("Europe/Zurich")
GRACE = dt.timedelta(days=30)
IDENTITY, HEALTH = "identity", "health"
HOLDER_VOUCHED = frozenset({HEALTH, IDENTITY})  # only under a consent the origin vouches for
CLEAR_AHV, SEALED_AHV = "person.ahv_number", "person.sealed_ahv"
ALL_CATEGORIES = (
    "case-admin", "employment", "benefits", "education", "integration", "health", "documents",
    IDENTITY,
)  # fmt: skip

Key = tuple[uuid.UUID, str]  # (canonical event id, recipient)


@dataclass(frozen=True)
class SchemaFacts:
    default_category: str
    marked: Mapping[str, str]  # dotted field path (or ``field[value]``) → its own category


@cache
def schema_facts(event_type: str) -> SchemaFacts:
    """The default category and the marked fields of a type, from its published JSON Schema."""
    schema = json.loads((SCHEMAS / f"{event_type}.json").read_text(encoding="utf-8"))
    return SchemaFacts(schema["x-datacategory"], dict(_marked(schema, schema, "")))


def _marked(schema: dict[str, Any], node: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    found = []
    for name, spec in node.get("properties", {}).items():
        if "x-datacategory" in spec:
            found.append((f"{prefix}{name}", spec["x-datacategory"]))
        for value, category in spec.get("x-datacategory-values", {}).items():
            found.append((f"{prefix}{name}[{value}]", category))
        for ref in [spec.get("$ref")] + [s.get("$ref") for s in spec.get("anyOf", [])]:
            if ref:
                target = schema["$defs"][ref.rsplit("/", 1)[-1]]
                found.extend(_marked(schema, target, f"{prefix}{name}."))
    return found


@dataclass(frozen=True)
class StepExpectation:
    status: Expect
    reason: str | None
    canonical_id: uuid.UUID | None


@dataclass(frozen=True)
class SentEvent:
    """What the partner sent, as far as deliveries must reflect it."""

    event_type: str
    ahv_digits: str
    marked: frozenset[str]  # the marked fields it carried
    content: Mapping[str, Any]  # everything else: delivered unchanged


@dataclass(frozen=True)
class Expected:
    deliveries: Mapping[Key, frozenset[str]]  # → the marked paths it must lack
    bases: Mapping[Key, frozenset[uuid.UUID]]  # → the consents it may name as its basis
    steps: Mapping[tuple[str, int], StepExpectation]  # (person id, step index) → receipt
    events: Mapping[uuid.UUID, SentEvent]  # canonical id → what was sent
    # Deliveries that only the consent notice makes (the ordinary rules would not), and those
    # lacking a field only because its origin has not vouched for the consent: what a run
    # must exercise for the new rules to be tested at all.
    told: frozenset[Key] = frozenset()
    unvouched: frozenset[Key] = frozenset()

    @property
    def accepted_ids(self) -> set[uuid.UUID]:
        return {
            e.canonical_id
            for e in self.steps.values()
            if e.status is Expect.ACCEPTED and e.canonical_id is not None
        }


def expect(persons: Iterable[PersonScript], *, grace: dt.timedelta = GRACE) -> Expected:
    """Every delivery the persons' accepted submissions must lead to, and every receipt."""
    deliveries: dict[Key, frozenset[str]] = {}
    bases: dict[Key, frozenset[uuid.UUID]] = {}
    steps: dict[tuple[str, int], StepExpectation] = {}
    events: dict[uuid.UUID, SentEvent] = {}
    told: set[Key] = set()
    unvouched: set[Key] = set()
    for person in persons:
        for step in person.steps:
            steps[(person.person_id, step.index)] = _receipt(step)
            if not step.on_bus:
                continue
            event_id = canonical_id(step.event.source, str(step.event.id))
            events[event_id] = _sent(person, step)
            notified = told_of_consent(person, step)
            for recipient, withheld in recipients(person, step, grace).items():
                deliveries[(event_id, recipient)] = withheld
                bases[(event_id, recipient)] = frozenset(
                    c.consent_id for c in person.consents if active(c, step, recipient)
                ) | ({step.event.data.consent_id} if recipient in notified else set())
                if recipient in notified and not ordinarily(person, step, recipient, grace):
                    told.add((event_id, recipient))
                if withheld - withheld_if_anyone_vouched(person, step, recipient):
                    unvouched.add((event_id, recipient))
    return Expected(deliveries, bases, steps, events, frozenset(told), frozenset(unvouched))


def recipients(person: PersonScript, step: Step, grace: dt.timedelta) -> dict[str, frozenset[str]]:
    """Who must receive this step's event, each with the marked fields it must lack."""
    facts = schema_facts(step.event.type)
    notified = told_of_consent(person, step)
    found = {}
    involved = {p.institution for p in person.participations} | notified
    for institution in sorted(involved - {step.origin}):
        if institution in notified or ordinarily(person, step, institution, grace):
            covered = {c for c in ALL_CATEGORIES if consented(person, step, institution, c)}
            found[institution] = frozenset(p for p, c in facts.marked.items() if c not in covered)
    return found


def ordinarily(person: PersonScript, step: Step, recipient: str, grace: dt.timedelta) -> bool:
    """The recipient takes part and every category the event carries is covered."""
    facts = schema_facts(step.event.type)
    carried = {facts.default_category, step.event.datacategory.value}
    covered = {c for c in ALL_CATEGORIES if consented(person, step, recipient, c)}
    return takes_part(person, recipient, step, grace) and carried <= covered


def withheld_if_anyone_vouched(person: PersonScript, step: Step, recipient: str) -> set[str]:
    """The marked paths withheld if a consent's recorder could vouch for every institution."""
    covered = {
        c
        for c in ALL_CATEGORIES
        for consent in person.consents
        if active(consent, step, recipient) and c in {str(x) for x in consent.categories}
    }
    return {p for p, c in schema_facts(step.event.type).marked.items() if c not in covered}


def told_of_consent(person: PersonScript, step: Step) -> frozenset[str]:
    """The institutions a ``consent.granted`` names besides its recorder: each is told of it."""
    data = step.event.data
    if not isinstance(data, ConsentGranted):
        return frozenset()
    return frozenset(data.institutions) - {step.origin}


def takes_part(person: PersonScript, institution: str, step: Step, grace: dt.timedelta) -> bool:
    at = step.event.time.astimezone(dt.UTC)
    for p in person.participations:
        if p.institution != institution or p.since_step > step.index:
            continue
        if p.until_step is None or step.index <= p.until_step:
            return True
        if p.until_time is not None and at <= p.until_time.astimezone(dt.UTC) + grace:
            return True
    return False


def consented(person: PersonScript, step: Step, recipient: str, category: str) -> bool:
    """A consent holding at the step names the category (and, for health and identity, the
    origin recorded or confirmed it at or before the step)."""
    return any(
        active(c, step, recipient)
        and category in {str(x) for x in c.categories}
        and (category not in HOLDER_VOUCHED or c.vouched_by(step.origin, step.index))
        for c in person.consents
    )


def active(consent: ConsentFact, step: Step, recipient: str) -> bool:
    """The consent names origin and recipient and holds at the step on its business date."""
    day = step.event.time.astimezone(ZURICH).date()
    return (
        {step.origin, recipient} <= consent.institutions
        and consent.granted_step <= step.index
        and (consent.revoked_step is None or step.index <= consent.revoked_step)
        and consent.valid_from <= day
        and (consent.valid_until is None or day <= consent.valid_until)
    )


def _receipt(step: Step) -> StepExpectation:
    if step.expect is Expect.REJECTED:
        return StepExpectation(step.expect, step.fault.value if step.fault else None, None)
    return StepExpectation(step.expect, None, canonical_id(step.event.source, str(step.event.id)))


def _sent(person: PersonScript, step: Step) -> SentEvent:
    data = step.event.data.model_dump(mode="json", exclude_none=True)
    marked = schema_facts(step.event.type).marked
    return SentEvent(
        event_type=step.event.type,
        ahv_digits=person.ahv.replace(".", ""),
        marked=frozenset(p for p in marked if lookup(data, p) is not None),
        content=without(data, marked),
    )


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path; for ``field[value]`` the value if the list holds it."""
    *parents, leaf = path.split(".")
    for part in parents:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    if not isinstance(data, dict):
        return None
    name, value = _list_value(leaf)
    if value is None:
        return data.get(name)
    items = data.get(name)
    return value if isinstance(items, list) and value in items else None


def without(data: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of JSON-like ``data`` without the dotted ``paths`` (a ``field[value]`` path:
    without that value in the list, the rest in order)."""
    copy = json.loads(json.dumps(data))
    for path in paths:
        *parents, leaf = path.split(".")
        node = copy
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        name, value = _list_value(leaf)
        if value is None:
            node.pop(name, None)
        elif isinstance(node.get(name), list):
            node[name] = [item for item in node[name] if item != value]
    return dict(copy)


def _list_value(leaf: str) -> tuple[str, str | None]:
    """``barriers[health]`` → (``barriers``, ``health``); a plain name → (name, None)."""
    name, bracket, rest = leaf.partition("[")
    return (name, rest.removesuffix("]")) if bracket else (name, None)
