"""``ops keys status`` and ``ops rekey``: which key versions stored rows use, moving them to the
current version online, and when a previous version can be retired.

Per key kind (pseudonym lookups, identity-sealed AHV numbers, person-key wrapping, documents)
every place that stores the key id is counted by id. ``rekey`` moves every row to the current
key in small batches, each its own short transaction over rows locked ``FOR UPDATE SKIP
LOCKED``: the services keep reading and writing, a row a service holds is taken on a later pass
or run, and a run can be stopped at any point and run again (it only looks at rows not yet
under the current key). It connects as the schema owner (the document store grants the service
role no UPDATE) and writes one ``rekeyed`` audit row per run (counts only) as the service role,
the audit log's writer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import asyncpg
from pydantic import Field

from schemas.topics import (
    COORDINATION_REJECTED,
    DELIVERIES,
    INTAKE_REJECTED,
    NOTIFICATIONS_DEAD_LETTERS,
    planned_topics,
)
from services.common.database import asyncpg_dsn, checked_schema
from services.common.document_seal import DocumentSeal
from services.common.identity_seal import IdentitySeal
from services.common.keyring import Keyring
from services.coordination import audit
from services.ops.keys_stores import (
    DOCUMENT,
    IDENTITY,
    PERSON,
    PSEUDONYM,
    Moved,
    Rotation,
    Store,
    stores,
)
from services.ops.settings import OpsSettings

KINDS = (PSEUDONYM, IDENTITY, PERSON, DOCUMENT)
PREVIOUS_VARIABLE = {
    PSEUDONYM: "IIZ_PSEUDONYM_PREVIOUS_KEYS",
    IDENTITY: "IIZ_IDENTITY_PREVIOUS_KEYS",
    PERSON: "IIZ_PERSON_PREVIOUS_KEYS",
    DOCUMENT: "IIZ_DOCUMENT_PREVIOUS_KEYS",
}
# Topics whose records may carry an identity seal under the key current when they were written:
# they cannot be re-keyed (a log is not rewritten), they expire.
IDENTITY_TOPICS = (INTAKE_REJECTED, COORDINATION_REJECTED, NOTIFICATIONS_DEAD_LETTERS, DELIVERIES)
PASSES = 3  # a row a service held during one pass is taken on the next


class KeysSettings(OpsSettings):
    """The ops settings plus the database: the schemas that hold keyed rows."""

    uses_database: ClassVar[bool] = True

    coordination_db_schema: str = Field(default="coordination")

    def rotation(self) -> Rotation:
        return Rotation(
            pseudonyms=self.pseudonym_keyring,
            persons=self.person_keyring,
            identity=IdentitySeal.from_settings(self),
            documents=DocumentSeal.from_settings(self),
            coordination_schema=checked_schema(self.coordination_db_schema),
            person_schema=checked_schema(self.person_db_schema),
            document_schema=checked_schema(self.document_db_schema),
        )

    def keyrings(self) -> dict[str, Keyring]:
        return {
            PSEUDONYM: self.pseudonym_keyring,
            IDENTITY: self.identity_keyring,
            PERSON: self.person_keyring,
            DOCUMENT: self.document_keyring,
        }


@dataclass(frozen=True)
class PlaceCount:
    kind: str
    place: str
    by_key: Mapping[str, int]
    absent: bool = False  # the table does not exist


@dataclass(frozen=True)
class KeyStatus:
    keyrings: Mapping[str, Keyring]
    places: list[PlaceCount]
    legacy_subjects: Mapping[str, int]  # pseudonym key id → coordination persons named by it

    def rows_under(self, kind: str, key_id: str) -> int:
        return sum(p.by_key.get(key_id, 0) for p in self.places if p.kind == kind)

    def not_current(self, kind: str) -> int:
        current = self.keyrings[kind].current_id
        return sum(
            n for p in self.places if p.kind == kind for k, n in p.by_key.items() if k != current
        )

    def retirable(self, kind: str) -> list[str]:
        """Previous ids no stored row uses (identity: mind the topics, ``retirement_advice``)."""
        return [
            key_id
            for key_id in self.keyrings[kind].previous_ids
            if self.rows_under(kind, key_id) == 0
            and not (kind == PSEUDONYM and self.legacy_subjects.get(key_id))
        ]


async def _connect_owner(settings: KeysSettings) -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))


async def _count(conn: asyncpg.Connection, store: Store) -> dict[str, int] | None:
    """Rows per key id; None when the place does not exist (its service never migrated)."""
    try:
        rows = await conn.fetch(store.count_sql)
    except asyncpg.UndefinedTableError:
        return None
    return {str(r["key_id"]): int(r["n"]) for r in rows}


async def _status(conn: asyncpg.Connection, settings: KeysSettings) -> KeyStatus:
    rotation = settings.rotation()
    places = []
    for store in stores(rotation):
        found = await _count(conn, store)
        places.append(PlaceCount(store.kind, store.place, found or {}, absent=found is None))
    try:
        legacy = await conn.fetch(
            "SELECT split_part(pseudonym, ':', 2) AS key_id, count(*) AS n"  # noqa: S608
            f' FROM "{rotation.coordination_schema}".persons WHERE pseudonym LIKE $1 GROUP BY 1',
            "psn:%",
        )
    except asyncpg.UndefinedTableError:
        legacy = []
    return KeyStatus(settings.keyrings(), places, {str(r["key_id"]): int(r["n"]) for r in legacy})


async def key_status(settings: KeysSettings) -> KeyStatus:
    conn = await _connect_owner(settings)
    try:
        return await _status(conn, settings)
    finally:
        await conn.close()


@dataclass
class RekeyReport:
    batch: int
    moved: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    left: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))  # not moved
    batches: int = 0
    completed: bool = False


OnBatch = Callable[[Store, Moved], Awaitable[None]]


async def rekey(
    settings: KeysSettings,
    *,
    batch: int = 500,
    on_batch: OnBatch | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> RekeyReport:
    """Move every stored row to the current keys; one ``rekeyed`` audit row per run, also for a
    run that stops on an error (``completed`` false; the rows it moved stay moved)."""
    if batch < 1:
        raise ValueError("a batch has at least one row")
    report = RekeyReport(batch)
    rotation = settings.rotation()
    conn = await _connect_owner(settings)
    try:
        for store in stores(rotation):
            await _move_store(conn, store, rotation, min(batch, store.batch_cap), report, on_batch)
        report.completed = True
    finally:
        await conn.close()
        await _audit(settings, report, clock())
    return report


async def _move_store(
    conn: asyncpg.Connection,
    store: Store,
    rotation: Rotation,
    size: int,
    report: RekeyReport,
    on_batch: OnBatch | None,
) -> None:
    current = rotation_current(rotation, store.kind)
    if await _count(conn, store) is None:
        return
    left = 0
    for _ in range(PASSES):
        after, unmovable = store.first, 0
        while True:
            async with conn.transaction():
                moved: Moved = await store.move(conn, rotation, after, size)
            if moved.last is None:
                break
            after = moved.last
            unmovable += moved.unmovable
            report.moved[store.kind] += moved.moved
            report.batches += 1
            if on_batch is not None:
                await on_batch(store, moved)
        left = sum(n for k, n in (await _count(conn, store) or {}).items() if k != current)
        if left <= unmovable:  # only rows a service held while we passed merit another pass
            break
    report.left[store.kind] += left


def rotation_current(rotation: Rotation, kind: str) -> str:
    return {
        PSEUDONYM: rotation.pseudonyms.current_id,
        IDENTITY: rotation.identity.key_id,
        PERSON: rotation.persons.current_id,
        DOCUMENT: rotation.documents.key_id,
    }[kind]


async def _audit(settings: KeysSettings, report: RekeyReport, at: dt.datetime) -> None:
    """As the service role, in the coordination schema (where the audit log is)."""
    conn = await asyncpg.connect(
        asyncpg_dsn(settings.database_url),
        server_settings={"search_path": checked_schema(settings.coordination_db_schema)},
    )
    try:
        async with conn.transaction():
            entry = audit.AuditEntry(
                actor="ops",
                action="rekeyed",
                purpose="maintenance",
                detail={
                    "current": {k: r.current_id for k, r in settings.keyrings().items()},
                    "moved": report.moved,
                    "left": report.left,
                    "batch": report.batch,
                    "batches": report.batches,
                    "completed": report.completed,
                },
            )
            await audit.append(conn, [entry], at=at)
    finally:
        await conn.close()


def _topic_days() -> int:
    """Days a record of the identity-sealed topics can live at most: retention plus the
    one-day segment roll (Kafka deletes closed segments only), in whole days; the broker's
    retention check (5 minutes by default) comes on top."""
    day_ms = 24 * 3600 * 1000
    lives = [
        life
        for t in planned_topics()
        if t.name in IDENTITY_TOPICS and (life := t.longest_life_ms) is not None
    ]
    return max((-(-life // day_ms) for life in lives), default=91)


def retirement_advice(status: KeyStatus) -> list[str]:
    """One line per previous key id: keep it (why), or retire it (and what to wait for)."""
    lines = []
    for kind in KINDS:
        ring = status.keyrings[kind]
        for key_id in ring.previous_ids:
            rows = status.rows_under(kind, key_id)
            legacy = status.legacy_subjects.get(key_id, 0) if kind == PSEUDONYM else 0
            if rows:
                lines.append(f"{kind} {key_id}: keep — {rows} stored rows use it (run `ops rekey`)")
            elif legacy:
                lines.append(
                    f"{kind} {key_id}: keep — {legacy} legacy subjects (psn:{key_id}:…, from before"
                    " the person registry) are found by AHV number only under it; retiring it"
                    " makes them unfindable (search, access report, erasure)"
                )
            elif kind == IDENTITY:
                lines.append(
                    f"{kind} {key_id}: no stored row uses it; retire it (remove it from"
                    f" {PREVIOUS_VARIABLE[kind]} in every service) once {_topic_days()} days have"
                    f" passed since {ring.current_id} became current (retention plus one day of"
                    " segment roll, and a few minutes for the broker's retention check): dead"
                    " letters and deliveries"
                    f" sealed under {key_id} ({', '.join(IDENTITY_TOPICS)}) expire by then."
                    f" But canonical events keep their data.person.sealed_ahv under {key_id},"
                    " and the worker copies it into every delivery it derives from them: a"
                    f" delivery created after the retirement from an event sealed under {key_id}"
                    " (an event still unprocessed at the switch, or new delivery rows from a"
                    " rebuild, e.g. after a change of the legal-basis profile) can no longer be"
                    " opened by notifications and is dead-lettered. Retire it only when the"
                    " worker has caught up and no such rebuild is due, or keep it in"
                    " notifications' previous keys"
                )
            else:
                lines.append(
                    f"{kind} {key_id}: no stored row uses it; retire it (remove it from"
                    f" {PREVIOUS_VARIABLE[kind]} in every service)"
                )
        for place in (p for p in status.places if p.kind == kind):
            for key_id, n in sorted(place.by_key.items()):
                if key_id not in ring.keys:
                    lines.append(
                        f"{kind} {key_id}: {n} rows in {place.place} name a key this keyring does"
                        " not hold (retired or foreign): they cannot be opened or moved"
                    )
    return lines


def status_lines(status: KeyStatus) -> list[str]:
    lines = [f"{'kind':<10} {'key':<10} {'rows':>8}  place"]
    for place in status.places:
        if place.absent:
            lines.append(f"{place.kind:<10} {'-':<10} {'-':>8}  {place.place}: no such table")
            continue
        ring = status.keyrings[place.kind]
        ids = sorted(set(place.by_key) | set(ring.keys), key=lambda k: (k != ring.current_id, k))
        for key_id in ids:
            label = f"{key_id}*" if key_id == ring.current_id else key_id
            lines.append(
                f"{place.kind:<10} {label:<10} {place.by_key.get(key_id, 0):>8}  {place.place}"
            )
    for key_id, n in sorted(status.legacy_subjects.items()):
        lines.append(
            f"{PSEUDONYM:<10} {key_id:<10} {n:>8}  legacy subjects psn:{key_id}:… (coordination)"
        )
    lines.append("(* current key)")
    return lines
