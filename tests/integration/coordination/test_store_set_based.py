"""The store writes a batch with one statement per table (``unnest``), and leaves the rows the
row-by-row statements left: the same values, the list's order, the same conflict handling —
also when a batch names the same row twice (an upsert cannot touch a row twice in one
statement)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import asyncpg

from schemas.codec import KafkaRecord
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import Case
from services.coordination.domain.consequences import Deadline
from services.coordination.worker import store
from services.coordination.worker.deliveries import OutboxRecord
from services.coordination.worker.effects import ReadModels

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
AWKWARD = ["plain", 'with "quotes"', "back\\slash", "comma, {braces}", "NULL", "", "Zürich ü"]


def read_models(**rows: Any) -> ReadModels:
    empty: dict[str, Any] = {
        "cases": [],
        "participants": [],
        "engagements": [],
        "referrals": [],
        "consents": [],
        "revocations": [],
    }
    return ReadModels(persons=["psn:a"], **{**empty, **rows})


async def test_two_updates_of_one_case_in_a_batch_leave_what_row_by_row_left(
    db: asyncpg.Pool,
) -> None:
    key, other = uuid.uuid4(), uuid.uuid4()
    closed = T0 + dt.timedelta(days=3)
    rows = [
        (key, "IIZ-2026-000001", "psn:a", "inst-a", T0, None, None, ["p1"]),
        (other, "IIZ-2026-000002", "psn:b", "inst-b", T0, closed, "done", []),
        # the same case again: only closing, outcome and projects change on a conflict
        (key, "IIZ-2026-999999", "psn:x", "inst-x", closed, closed, "solved", AWKWARD),
    ]
    async with db.acquire() as conn, conn.transaction():
        await store.write_read_models(conn, read_models(cases=rows))
        # and once more, now against the stored rows (redone batch): nothing else changes
        await store.write_read_models(conn, read_models(cases=rows))
    got = {r["case_key"]: r for r in await db.fetch("SELECT * FROM cases")}
    assert got[key]["case_number"] == "IIZ-2026-000001"
    assert (got[key]["pseudonym"], got[key]["opened_by"]) == ("psn:a", "inst-a")
    assert got[key]["opened_at"] == T0
    assert (got[key]["closed_at"], got[key]["outcome"]) == (closed, "solved")
    assert got[key]["projects"] == AWKWARD
    assert got[other]["projects"] == []
    assert (got[other]["closed_at"], got[other]["outcome"]) == (closed, "done")


async def test_two_updates_of_one_file_in_a_batch_keep_the_last_state_and_sealed_number(
    db: asyncpg.Pool,
) -> None:
    async with db.acquire() as conn, conn.transaction():
        await store.lock_files(conn, {"psn:a": (0, 1), "psn:b": (1, 2)})
        state = [CaseFile(pseudonym="psn:a").model_dump_json(), json.dumps({"v": 2})]
        await store.update_files(
            conn,
            [
                ("psn:a", state[0], 5, "sealed-1"),
                ("psn:b", json.dumps({"b": 1}), 7, None),
                ("psn:a", state[1], 9, None),  # None keeps the sealed number before it
            ],
        )
    got = {r["pseudonym"]: r for r in await db.fetch("SELECT * FROM persons")}
    assert json.loads(got["psn:a"]["state"]) == {"v": 2}
    assert (got["psn:a"]["last_offset"], got["psn:a"]["sealed_ahv"]) == (9, "sealed-1")
    assert (got["psn:b"]["last_offset"], got["psn:b"]["sealed_ahv"]) == (7, None)
    assert got["psn:b"]["bus_partition"] == 1


async def test_outbox_ids_follow_the_list_and_the_first_of_a_delivery_id_wins(
    db: asyncpg.Pool,
) -> None:
    ids = [uuid.uuid4() for _ in range(300)]
    records = [
        OutboxRecord(
            delivery_id=d,
            lane=i % 3,
            topic="iiz.deliveries.v1",
            record=KafkaRecord(
                key=None if i % 7 == 0 else f"k{i}".encode(),
                value=f"v{i}".encode(),
                headers=(("ce_id", str(d).encode()), ("n", str(i).encode())),
            ),
        )
        for i, d in enumerate(ids)
    ]
    twice = OutboxRecord(ids[5], 0, "other", KafkaRecord(b"x", b"x", ()))
    async with db.acquire() as conn, conn.transaction():
        await store.write_outbox(conn, [*records, twice])
    async with db.acquire() as conn, conn.transaction():
        await store.write_outbox(conn, records[::-1])  # a redo changes nothing
    rows = await db.fetch("SELECT * FROM outbox ORDER BY id")
    assert [r["delivery_id"] for r in rows] == ids
    for i, row in enumerate(rows):
        assert row["value"] == f"v{i}".encode()
        assert row["key"] == (None if i % 7 == 0 else f"k{i}".encode())
        assert row["lane"] == i % 3
        assert row["topic"] == "iiz.deliveries.v1"
        assert json.loads(row["headers"]) == [["ce_id", str(ids[i])], ["n", str(i)]]


async def test_case_numbers_are_issued_in_the_list_order_once_per_case(db: asyncpg.Pool) -> None:
    cases = [
        Case(case_key=uuid.uuid4(), opened_by="i", opened_at=T0, opened_position=n, lead="i")
        for n in range(5)
    ]
    async with db.acquire() as conn, conn.transaction():
        first = await store.issue_case_numbers(conn, [cases[0], cases[1], cases[0]])
        later = await store.issue_case_numbers(conn, cases[::-1])
    assert len(set(first.values())) == 2
    assert later[cases[0].case_key] == first[cases[0].case_key]
    numbers = [later[c.case_key] for c in cases]
    assert numbers[:2] == sorted(numbers[:2])
    assert numbers[2:] == sorted(numbers[2:])[::-1]
    assert all(n.startswith("IIZ-2026-") for n in numbers)
    assert len(set(numbers)) == 5


async def test_appended_read_models_deadlines_and_marks_ignore_what_exists(
    db: asyncpg.Pool,
) -> None:
    consent, event, ref = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    day = dt.date(2026, 3, 2)
    grant: tuple[Any, ...] = (
        consent,
        "psn:a",
        "inst-a",
        ["i1", 'i "2"'],
        ["health"],
        day,
        None,
        "doc",
        event,
        4,
    )
    later: tuple[Any, ...] = (
        consent,
        "psn:a",
        "inst-z",
        ["other"],
        [],
        day,
        day,
        "doc2",
        uuid.uuid4(),
        8,
    )
    part = ("psn:a", None, "inst-a", "lead", None, T0, 3, False, None)
    deadline = Deadline(kind="referral-reminder", ref_id=ref, due_on=day)
    async with db.acquire() as conn, conn.transaction():
        await store.write_read_models(
            conn, read_models(consents=[grant, later], participants=[part])
        )
        await store.write_read_models(conn, read_models(consents=[later], participants=[part]))
        await store.write_deadlines(conn, [("psn:a", deadline), ("psn:b", deadline)])
        await store.write_deadlines(conn, [("psn:c", deadline)])
    row = await db.fetchrow("SELECT * FROM consents")
    assert row is not None
    assert (row["recorded_by"], row["institutions"], row["categories"]) == (
        "inst-a",
        ["i1", 'i "2"'],
        ["health"],
    )
    assert (row["valid_until"], row["event_id"], row["bus_offset"]) == (None, event, 4)
    assert await db.fetchval("SELECT count(*) FROM participants") == 1
    assert await db.fetchval("SELECT pseudonym FROM deadlines") == "psn:a"
