"""Misuse signals on the real PostgreSQL: simulated patterns replayed into a throw-away schema's
audit log (``audit.append(..., at=t)``), each found with exactly its rows; a normal day raises
none; the page and the API for data-protection officers only, and reading them is audited."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence

import asyncpg
import httpx

from schemas.registry.institutions import load_institutions
from services.common.mailer import Mailer, SmtpSettings
from services.coordination import audit
from services.coordination.domain.misuse_signals import SignalKind, SignalRules
from services.coordination.domain.working_days import SWISS_TIME
from services.coordination.reading.signals import Period, signals_of
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.signals_summary import SignalsSummary
from simulator.mailbox import LocalSmtpServer
from tests.factories import valid_ahv
from tests.integration.coordination.conftest import api_client
from tests.tokens import mint_token

MONDAY = dt.date(2026, 11, 30)
RULES = SignalRules()
WEEK = Period(MONDAY, MONDAY + dt.timedelta(days=6))


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(MONDAY + dt.timedelta(days=day), dt.time(hour, minute), SWISS_TIME)


def read(
    actor: str, subject: str | None, action: str = "read-case", outcome: str = "ok"
) -> audit.AuditEntry:
    return audit.AuditEntry(
        actor=actor,
        action=action,
        subject=subject,
        purpose="case-coordination",
        detail={"outcome": outcome},
    )


def decided(subject: str) -> audit.AuditEntry:
    return audit.AuditEntry(
        actor="coordination", action="decided", subject=subject, purpose="routing"
    )


async def replay(pool: asyncpg.Pool, when: dt.datetime, *entries: audit.AuditEntry) -> list[int]:
    """Append at ``when``; the seqs of the entries written."""
    async with pool.acquire() as conn, conn.transaction():
        before = int(await conn.fetchval("SELECT seq FROM audit_head"))
        await audit.append(conn, entries, at=when)
    return list(range(before + 1, before + 1 + len(entries)))


async def normal_day(pool: asyncpg.Pool, day: int) -> None:
    """The demo's simulated reading: a delivery, then the case worker reads case and timeline;
    the coordinator opens the worklist in the morning; a search that finds nothing now and then."""
    await replay(
        pool,
        at(day, 8, 5),
        *(read("rav/coordinator/kim", f"prs:w{n}", "read-worklist") for n in range(30)),
    )
    for n in range(25):
        person = f"prs:d{day}n{n}"
        await replay(pool, at(day, 9 + n // 4, n % 4 * 10), decided(person))
        await replay(
            pool,
            at(day, 9 + n // 4, n % 4 * 10 + 2),
            read("rav/caseworker/anna", person),
            read("rav/caseworker/anna", person, "read-timeline"),
        )
    await replay(pool, at(day, 15), read("rav/caseworker/anna", None, "search-case", "not_found"))


async def found(pool: asyncpg.Pool, institution: str = "rav") -> list[tuple[SignalKind, list[int]]]:
    async with pool.acquire() as conn:
        report = await signals_of(conn, institution, WEEK, RULES)
    return [(s.kind, list(s.seqs)) for s in report.signals]


async def test_a_normal_week_raises_no_signal(db: asyncpg.Pool) -> None:
    for day in range(5):
        await normal_day(db, day)

    assert await found(db) == []


async def test_each_pattern_is_found_with_exactly_its_rows(db: asyncpg.Pool) -> None:
    await normal_day(db, 0)
    await normal_day(db, 1)
    # night reads (Tuesday 23:10 and 23:40) of one user
    night = await replay(db, at(1, 23, 10), read("rav/caseworker/nacht", "prs:x"))
    night += await replay(db, at(1, 23, 40), read("rav/caseworker/nacht", "prs:y"))
    # 50 persons in a day (Wednesday, office hours)
    many: list[int] = []
    for n in range(50):
        many += await replay(db, at(2, 9, n), read("rav/caseworker/viele", f"prs:m{n}"))
    # 4 looks at one person without an event in between (Thursday), two rows per look
    await replay(db, at(3, 8), decided("prs:neugier"))
    looks: list[int] = []
    for hour in (9, 11, 13, 15):
        looks += await replay(
            db,
            at(3, hour),
            read("rav/coordinator/neugier", "prs:neugier"),
            read("rav/coordinator/neugier", "prs:neugier", "read-timeline"),
        )
    # 6 refused look-ups in a row (Friday)
    probing: list[int] = []
    for n in range(6):
        probing += await replay(
            db, at(4, 10, n), read("rav/caseworker/probe", None, "search-case", "not_found")
        )
    # another institution's user doing the same at night is not RAV's signal
    await replay(db, at(1, 23, 30), read("iv/caseworker/other", "prs:x"))

    assert sorted(await found(db)) == sorted(
        [
            (SignalKind.OFF_HOURS, night),
            (SignalKind.MANY_PERSONS, many),
            (SignalKind.REPEATED_LOOKS, looks),
            (SignalKind.REFUSED_RUN, probing),
        ]
    )
    assert [k for k, _ in await found(db, "iv")] == [SignalKind.OFF_HOURS]


async def get(
    client: httpx.AsyncClient,
    settings: CoordinationSettings,
    path: str,
    role: str,
    **params: str | Sequence[int],
) -> httpx.Response:
    token = mint_token(settings, "dora", "rav", role, dt.timedelta(hours=1))
    return await client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


async def last_row(db: asyncpg.Pool) -> asyncpg.Record:
    row = await db.fetchrow("SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1")
    assert row is not None
    return row


async def test_the_officer_reads_signals_and_their_rows_other_roles_are_refused(
    coordination_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    night = await replay(db, at(1, 23, 10), read("rav/caseworker/nacht", "prs:x"))
    foreign = await replay(db, at(1, 23, 11), read("iv/caseworker/other", "prs:x"))
    now = at(4, 12)  # a Friday noon: the officer's own reads are in office hours
    settings = coordination_settings
    async with api_client(settings, clock=lambda: now) as client:
        refused = await get(client, settings, "/v1/signals", "caseworker")
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["reason"] == "role_not_allowed"
        denied = await last_row(db)
        assert (denied["action"], json.loads(denied["detail"])["outcome"]) == (
            "read-signals",
            "denied",
        )

        answer = await get(
            client, settings, "/v1/signals", "auditor", **{"from": "2026-11-30", "to": "2026-12-06"}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["period_from"], body["period_to"]) == ("2026-11-30", "2026-12-06")
        assert [(s["kind"], s["role"], s["user"], s["seqs"]) for s in body["signals"]] == [
            ("off-hours", "caseworker", "nacht", night)
        ]
        audited = await last_row(db)
        assert audited["action"] == "read-signals"
        assert audited["actor"] == "rav/auditor/dora"
        assert audited["at"] == now
        assert json.loads(audited["detail"])["signals"] == 1

        rows = await get(client, settings, "/v1/audit/rows", "auditor", seq=[*night, *foreign])
        assert [r["seq"] for r in rows.json()["rows"]] == night  # not the IV user's row
        assert (await last_row(db))["action"] == "read-audit-rows"

        page = await get(
            client, settings, "/datenschutz/signale", "auditor", von="2026-11-30", bis="2026-12-06"
        )
        assert page.status_code == 200
        assert "Zugriffe ausserhalb der Bürozeiten" in page.text
        assert f"/datenschutz/protokoll?seq={night[0]}" in page.text
        rows_page = await get(client, settings, "/datenschutz/protokoll", "auditor", seq=night)
        assert "rav/caseworker/nacht" in rows_page.text
        for path in ("/datenschutz/signale", "/datenschutz/protokoll"):
            assert (await get(client, settings, path, "caseworker")).status_code == 403


async def test_access_reports_and_notice_probes_through_the_api_raise_their_signals(
    coordination_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    """The rows the real doors write: an officer asking for 50 persons' access reports on one
    day (many persons), a case worker trying 6 notice ids that are not theirs (probing)."""
    settings = coordination_settings
    now = [at(2, 9)]

    def headers(user: str, role: str) -> dict[str, str]:
        token = mint_token(settings, user, "rav", role, dt.timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}

    async with api_client(settings, clock=lambda: now[0]) as client:
        for n in range(50):
            now[0] = at(2, 9, n)
            answer = await client.post(
                "/v1/access-reports",
                json={"ahv_number": valid_ahv(4200 + n), "ticket": f"DS-{n}"},
                headers=headers("dora", "auditor"),
            )
            assert answer.status_code == 200, answer.text
        for n in range(6):
            now[0] = at(4, 10, n)
            probe = await client.get(
                f"/v1/notices/{uuid.uuid4()}", headers=headers("eve", "caseworker")
            )
            assert probe.json()["reason"] == "notice_not_found"

    reports = [r["seq"] for r in await db.fetch(
        "SELECT seq FROM audit_log WHERE action = 'access-report' ORDER BY seq"
    )]  # fmt: skip
    probes = [r["seq"] for r in await db.fetch(
        "SELECT seq FROM audit_log WHERE action = 'read-notices' ORDER BY seq"
    )]  # fmt: skip
    assert len(probes) == 6
    async with db.acquire() as conn:
        report = await signals_of(conn, "rav", WEEK, RULES)
    by_kind = {(s.kind, s.actor): s for s in report.signals}
    assert set(by_kind) == {
        (SignalKind.MANY_PERSONS, "rav/auditor/dora"),
        (SignalKind.REFUSED_RUN, "rav/caseworker/eve"),
    }
    many = by_kind[(SignalKind.MANY_PERSONS, "rav/auditor/dora")]
    assert (many.count, list(many.seqs)) == (50, reports)
    assert list(by_kind[(SignalKind.REFUSED_RUN, "rav/caseworker/eve")].seqs) == probes


async def test_the_weekly_summary_goes_to_each_officer_once_and_is_audited(
    db: asyncpg.Pool,
) -> None:
    night = await replay(db, at(1, 23, 10), read("rav/caseworker/nacht", "prs:x"))
    registry = load_institutions()
    officers = {i.privacy_email for i in registry.institutions if i.privacy_email}
    monday_after = at(7, 8)
    with LocalSmtpServer() as smtp:
        mailer = Mailer(SmtpSettings(host=smtp.host, port=smtp.port, sender="iiz@example.org"))
        summary = SignalsSummary(
            db, registry, RULES, mailer, sender="iiz@example.org",
            page_url="https://iiz.example.org", clock=lambda: monday_after,
        )  # fmt: skip
        assert summary.due_week(at(7, 6)) is None  # before seven on Monday
        assert await summary.run_due() == len(officers)
        assert await summary.run_due() == 0  # once per week
        received = await smtp.wait_for_messages(len(officers))
    mail = next(m.message for m in received if m.rcpt_tos == ("datenschutz.rav@example.org",))
    text = mail.get_content()
    assert "Woche vom 30.11.2026 bis 06.12.2026" in mail["Subject"]
    assert "Zugriffe ausserhalb der Bürozeiten: 1" in text
    assert f"https://iiz.example.org/datenschutz/protokoll?seq={night[0]}" in text
    rows = await db.fetch("SELECT * FROM audit_log WHERE action = 'signals-summary' ORDER BY seq")
    assert len(rows) == len(officers)
    rav = next(r for r in rows if r["object"] == "rav:2026-11-30")
    assert json.loads(rav["detail"])["signals"]["off-hours"] == 1
