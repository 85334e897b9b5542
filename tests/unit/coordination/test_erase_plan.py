"""Erasure's plan covers every table, its audit row says only counts and the ticket, and the
retention cutoff is the day N years back."""

from __future__ import annotations

import datetime as dt

import pytest

from services.coordination.ops.erase import (
    PLAN,
    Erasure,
    Requester,
    TicketError,
    checked_actor,
    checked_ticket,
    erased_entry,
)
from services.coordination.ops.lifecycle_cli import erase_command
from services.coordination.ops.retention import RetentionReport, retention_cutoff, run_entry
from services.coordination.settings import CoordinationSettings
from services.coordination.tables import METADATA


def test_every_coordination_table_is_placed_in_the_erasure_plan() -> None:
    assert set(PLAN) == set(METADATA.tables)


def test_only_the_audit_tables_and_aggregates_are_kept() -> None:
    kept = {table for table, what in PLAN.items() if what.startswith("kept")}

    assert kept == {"audit_log", "audit_head", "audit_checkpoints", "published_figures"}


@pytest.mark.parametrize("ticket", ["DSB-42", "retention:r1", "OTRS#2026/123"])
def test_plain_ticket_references_are_taken(ticket: str) -> None:
    assert checked_ticket(ticket) == ticket


@pytest.mark.parametrize(
    "ticket",
    [
        "",
        "756.1234.5678.97",
        "T-7561234567897",
        "T-756-1234-5678-97",
        "IIZ-2026-000123",
        "Herr Müller",
        "x" * 65,
    ],
)
def test_personal_or_free_text_references_are_refused(ticket: str) -> None:
    with pytest.raises(TicketError):
        checked_ticket(ticket)


@pytest.mark.parametrize("actor", ["dsb", "anna.muster", "ops_2", "root"])
def test_login_names_are_taken_as_the_operator(actor: str) -> None:
    assert checked_actor(actor) == actor


@pytest.mark.parametrize(
    "actor",
    [
        "",
        "a-756-1234-5678-97",
        "a756.1234.5678.97",
        "dsb-IIZ-2026-000123",
        "u1234567",
        "Herr Müller",
        "dsb/admin",
        "dsb per Telefon",
        "x" * 41,
    ],
)
def test_personal_or_free_text_operator_names_are_refused(actor: str) -> None:
    with pytest.raises(TicketError):
        checked_actor(actor)


async def test_the_erase_command_refuses_a_bad_operator_name_before_it_reads_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class NotToBeRead:
        def readline(self) -> str:
            raise AssertionError("read the AHV number although the actor is refused")

    settings = CoordinationSettings(environment="test", database_url="postgresql://nowhere/x")
    code = await erase_command(settings, "DSB-42", "Fall IIZ-2026-000123", NotToBeRead())  # type: ignore[arg-type]

    assert code == 2
    assert "login name" in capsys.readouterr().err


def test_the_erased_row_holds_counts_and_the_ticket_only() -> None:
    erasure = Erasure("prs:" + "a" * 32, {"timeline": 7, "cases": 1}, tombstoned=True)
    entry = erased_entry(erasure, Requester(actor="operator/dsb", ticket="DSB-42"))

    assert (entry.action, entry.subject, entry.object) == ("erased", erasure.subject, None)
    assert entry.detail == {
        "rows": {"cases": 1, "timeline": 7},
        "key_destroyed": True,
        "ticket": "DSB-42",
    }


def test_a_retention_run_row_has_no_subject_and_names_its_day() -> None:
    report = RetentionReport(dt.date(2031, 3, 1), persons_erased=2, outbox_payloads_stripped=5)
    entry = run_entry(report, 5)

    assert (entry.action, entry.subject, entry.object) == (
        "retention-run",
        None,
        "retention:2031-03-01",
    )
    assert entry.detail["persons_erased"] == 2


def test_the_cutoff_is_the_start_of_the_same_day_years_back_in_zurich() -> None:
    cutoff = retention_cutoff(dt.date(2031, 6, 15), 5)

    assert cutoff.isoformat() == "2026-06-15T00:00:00+02:00"
    assert retention_cutoff(dt.date(2028, 2, 29), 5).date() == dt.date(2023, 2, 28)
