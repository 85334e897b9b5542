"""Submits a population through the real doors and waits for every answer.

Each person's steps go strictly in order — the next only after the previous step's receipt (on
the sender's delivery topic for the Kafka door, in the HTTP answer for the HTTP door, on the
receipt page and the sender's delivery topic for the web form) — so the bus order of a person's
events is the script's order. Many persons run at once (bounded).

The municipalities' ZIF registrations go through intake's web form (``simulator.web_form``),
which makes the events' ids itself: what the partners learn of them (the receipt page shows the
registration's, the consent's and the document's ids; the receipts the events' ids) replaces
the script's placeholders in the later steps, and ``resolved`` gives the population as it was
really sent, for the expected deliveries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from schemas.registry.institutions import InstitutionRegistry
from services.common.database import create_pool
from services.common.kafka_clients import create_producer
from services.common.settings import CommonSettings
from services.intake.tokens import TokenStore
from simulator import wire
from simulator.credentials import PartnerSettings
from simulator.partners import PartnerInboxes
from simulator.population import Population
from simulator.script import Door, PersonScript, Step
from simulator.web_form import FormReceipt, WebForm

Progress = Callable[[int, int], None]
RETRY_STATUSES = (429, 503)


@dataclass(frozen=True)
class SubmissionRecord:
    """What happened to one submission."""

    person_id: str
    step: int
    institution: str
    door: Door
    original_id: str
    submitted_at: dt.datetime
    answered_at: dt.datetime | None
    status: str  # accepted | duplicate | rejected | no-receipt | http-<code> | not-sent
    reason: str | None = None
    canonical_id: str | None = None


async def issue_http_tokens(
    database_url: str,
    intake_schema: str,
    registry: InstitutionRegistry,
    institutions: Iterable[str],
) -> dict[str, str]:
    """One access token per HTTP sender (intake's migrations must have run)."""
    pool = await create_pool(database_url, intake_schema, max_size=2)
    try:
        store = TokenStore(pool, registry)
        return {i: await store.create(i, "IIZ-Simulator") for i in sorted(set(institutions))}
    finally:
        await pool.close()


class SimulationDriver:
    def __init__(
        self,
        settings: CommonSettings,
        registry: InstitutionRegistry,
        inbox: PartnerInboxes,
        http: httpx.AsyncClient,
        tokens: Mapping[str, str],
        *,
        concurrency: int = 32,
        receipt_timeout: float = 60.0,
        http_attempts: int = 20,
        as_partner: PartnerSettings | None = None,
        form_concurrency: int = 8,
    ) -> None:
        """``as_partner``: each institution produces as its own principal (see
        ``simulator.credentials.partner_settings``); without it all produce with ``settings``.
        ``form_concurrency``: web form submissions at once (each is several requests)."""
        self._settings = settings
        self._registry = registry
        self._inbox = inbox
        self._http = http
        self._tokens = tokens
        self._concurrency = concurrency
        self._receipt_timeout = receipt_timeout
        self._http_attempts = http_attempts
        self._as_partner = as_partner
        self._producers: dict[str, AIOKafkaProducer] = {}  # by institution
        self._form = WebForm(http, tokens, inbox, receipt_timeout, concurrency=form_concurrency)
        # What the partners learnt of the ids the form made: placeholder → real, per person;
        # every step as it was really sent (the form's events as the form made them).
        self._learned: dict[str, dict[str, str]] = {}
        self._sent: dict[tuple[str, int], Step] = {}
        self._form_answers: dict[tuple[str, int], dict[str, Any]] = {}
        self._form_sent_at: dict[str, dt.datetime] = {}  # person → their last form's

    async def run(
        self, population: Population, progress: Progress | None = None
    ) -> list[SubmissionRecord]:
        """Every step of every person, persons concurrently; returns a record per step."""
        total, done, records = len(population.steps), 0, []
        gate = asyncio.Semaphore(self._concurrency)
        senders = sorted({s.origin for s in population.steps if s.door == "kafka"})
        try:
            for institution in senders:
                settings = self._as_partner(institution) if self._as_partner else self._settings
                self._producers[institution] = create_producer(settings)
                await self._producers[institution].start()
        except BaseException:
            await self._stop_producers()
            raise

        async def play(person: PersonScript) -> None:
            nonlocal done
            async with gate:
                answered = True
                for step in person.steps:
                    if answered:
                        record = await self._submit(person, step)
                        answered = record.status in ("accepted", "duplicate", "rejected")
                    else:  # without an answer the order is unknown: stop this person
                        record = _not_sent(person, step)
                    records.append(record)
                    done += 1
                    if progress is not None:
                        progress(done, total)

        try:
            await asyncio.gather(*(play(p) for p in population.persons))
        finally:
            await self._stop_producers()
        return sorted(records, key=lambda r: (r.person_id, r.step))

    async def _stop_producers(self) -> None:
        producers, self._producers = self._producers, {}
        for producer in producers.values():
            await producer.stop()

    def resolved(self, population: Population) -> Population:
        """The population as it was really sent: the form's events with the ids and the time
        the form gave them, the later steps and the consents with the ids the partners learnt
        (what the expected deliveries must be computed from after a run)."""
        persons = []
        for person in population.persons:
            learned = self._learned.get(person.person_id, {})
            steps = tuple(
                self._sent.get((person.person_id, s.index)) or _substituted(s, learned)
                for s in person.steps
            )
            consents = tuple(
                replace(c, consent_id=uuid.UUID(learned.get(str(c.consent_id), str(c.consent_id))))
                for c in person.consents
            )
            persons.append(replace(person, steps=steps, consents=consents))
        return replace(population, persons=tuple(persons))

    async def _submit(self, person: PersonScript, step: Step) -> SubmissionRecord:
        submitted = dt.datetime.now(dt.UTC)
        key = (person.person_id, step.index)
        if step.door == "form":
            if step.form_part == 0:
                await self._submit_form(person, step)
                self._form_sent_at[person.person_id] = submitted
            submitted = self._form_sent_at[person.person_id]  # one submission, its events
            answer = self._form_answers.pop(key, {})
            sent = self._sent.get(key, step)
        else:
            sent = _substituted(step, self._learned.get(person.person_id, {}))
            self._sent[key] = sent
            if step.door == "kafka":
                answer = await self._over_kafka(sent)
            else:
                answer = await self._over_http(sent)
        return SubmissionRecord(
            person_id=person.person_id,
            step=step.index,
            institution=step.origin,
            door=step.door,
            original_id=str(sent.event.id),
            submitted_at=submitted,
            answered_at=dt.datetime.now(dt.UTC) if answer else None,
            status=str(answer.get("status", "no-receipt")),
            reason=answer.get("reason"),
            canonical_id=answer.get("canonical_id"),
        )

    async def _submit_form(self, person: PersonScript, first: Step) -> None:
        """Fill in and send the web form of ``first`` and its following parts; learn the ids
        the form made (receipt page, receipts) and keep each part's answer and event."""
        parts = [s for s in person.steps[first.index :] if s.form is first.form]
        submitted = await self._form.submit(first, len(parts))
        if not isinstance(submitted, FormReceipt):
            for part in parts:
                self._form_answers[(person.person_id, part.index)] = submitted
            return
        learned = self._learned.setdefault(person.person_id, {})
        for part in parts:
            data = part.event.data
            for name, real in (
                ("referral_id", submitted.registration_id),
                ("consent_id", submitted.consent_id),
                ("document_id", submitted.document_id),
            ):
                if real is not None and isinstance(getattr(data, name, None), uuid.UUID):
                    learned[str(getattr(data, name))] = real
        for part, receipt in zip(parts, submitted.receipts, strict=True):
            event = _substituted(part, learned).event.model_copy(
                update={"id": uuid.UUID(str(receipt["original_id"])), "time": submitted.time}
            )
            self._sent[(person.person_id, part.index)] = replace(part, event=event)
            self._form_answers[(person.person_id, part.index)] = receipt

    async def _over_kafka(self, step: Step) -> dict[str, Any]:
        producer = self._producers[step.origin]
        original_id = str(step.event.id)
        receipt = self._inbox.expect_receipt(original_id)
        record = wire.kafka_record(step)
        topic = self._registry.by_id[step.origin].intake_topic
        await producer.send_and_wait(
            topic, record.value, key=record.key, headers=list(record.headers)
        )
        try:
            return await asyncio.wait_for(receipt, self._receipt_timeout)
        except TimeoutError:
            self._inbox.forget_receipt(original_id)
            return {}

    async def _over_http(self, step: Step) -> dict[str, Any]:
        body = json.dumps(wire.structured(step), ensure_ascii=False).encode()
        headers = {
            "Authorization": f"Bearer {self._tokens[step.origin]}",
            "Content-Type": "application/cloudevents+json",
        }
        for _ in range(self._http_attempts):
            answer = await self._http.post("/v1/events", content=body, headers=headers)
            if answer.status_code not in RETRY_STATUSES:
                break
            # Over the rate or unavailable: the contract says send again, with the same id.
            await asyncio.sleep(min(float(answer.headers.get("Retry-After", "1")), 10.0))
        found = answer.json() if answer.content else {}
        if not isinstance(found, dict):
            found = {}
        if answer.status_code == 202:
            receipt: dict[str, Any] = found["receipts"][0]
            return receipt
        if isinstance(found.get("receipt"), dict):  # a single rejected event: problem + receipt
            return {**found["receipt"], "http_status": answer.status_code}
        return {"status": f"http-{answer.status_code}", "reason": found.get("reason")}


def _substituted(step: Step, learned: Mapping[str, str]) -> Step:
    """The step with the ids a partner learnt in place of the script's placeholders (in the
    data and the correlation id)."""
    if not learned:
        return step
    event = step.event
    dumped = event.data.model_dump(mode="json", exclude_none=True)
    data = type(event.data).model_validate(_replace_ids(dumped, learned))
    correlation = learned.get(event.correlationid or "", event.correlationid)
    if data == event.data and correlation == event.correlationid:
        return step
    return replace(
        step, event=event.model_copy(update={"data": data, "correlationid": correlation})
    )


def _replace_ids(value: Any, learned: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _replace_ids(v, learned) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_ids(v, learned) for v in value]
    if isinstance(value, str):
        return learned.get(value, value)
    return value


def _not_sent(person: PersonScript, step: Step) -> SubmissionRecord:
    return SubmissionRecord(
        person_id=person.person_id,
        step=step.index,
        institution=step.origin,
        door=step.door,
        original_id=str(step.event.id),
        submitted_at=dt.datetime.now(dt.UTC),
        answered_at=None,
        status="not-sent",
    )
