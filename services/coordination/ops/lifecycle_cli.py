"""The ``erase`` and ``retention`` commands (``python -m services.coordination erase|retention``).

``erase --ahv-stdin --ticket T [--actor NAME]`` reads the AHV number from standard input (never
from the command line, where ``ps`` and the shell history would keep it), erases every subject
the person is known under, and prints per subject only the rows deleted per table. The audit row
names ``operator/<NAME>`` (default: the operating-system user); like the ticket, a login name
only, never an AHV number, case number or sentence. A person with events from before the person
registry (a legacy ``psn:`` subject, in clear on the log) is refused (exit 3, nothing erased)
until the log is resealed: a rebuild would bring them back.
``retention [--count] [--force]`` applies the retention schedule now (``--count``: only how many
persons are past retention; ``--force``: run even if today's run happened); exit 1 without doing
anything while the worker has not caught up with the canonical log.
"""

from __future__ import annotations

import getpass
import sys
from typing import TextIO

import asyncpg

from schemas.ahv import AhvNumber
from schemas.errors import ContractError
from services.common.database import create_pool
from services.coordination.clock import utc_now
from services.coordination.ops.erase import (
    LegacySubjectError,
    Requester,
    TicketError,
    checked_actor,
    checked_ticket,
    erase_person,
)
from services.coordination.ops.retention import count_persons_past_retention, run_retention
from services.coordination.settings import CoordinationSettings


def read_ahv(stream: TextIO) -> AhvNumber | None:
    """The AHV number on the first line of ``stream`` (None if it is not one; never echoed)."""
    try:
        return AhvNumber(stream.readline().strip())
    except (ContractError, ValueError):
        return None


def os_user() -> str | None:
    """Who runs the command, as the operating system says (None if it cannot tell)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (a bare container)
        return None


async def erase_command(
    settings: CoordinationSettings, ticket: str, actor: str | None, stream: TextIO = sys.stdin
) -> int:
    """``actor``: the operator's name for the audit row (None: the operating-system user)."""
    name = actor if actor is not None else os_user()
    if name is None:
        print("error: cannot tell who you are: name yourself with --actor", file=sys.stderr)
        return 2
    try:
        checked_ticket(ticket)
        checked_actor(name)
    except TicketError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    ahv = read_ahv(stream)
    if ahv is None:
        print("error: standard input holds no valid AHV number", file=sys.stderr)
        return 2
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        erasures = await erase_person(
            pool, settings, ahv, Requester(actor=f"operator/{name}", ticket=ticket), at=utc_now()
        )
    except LegacySubjectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except asyncpg.UndefinedTableError as error:
        print(
            f"error: {error}: nothing was erased (are the schemas migrated? are"
            " IIZ_COORDINATION_INTAKE_DB_SCHEMA, IIZ_DOCUMENT_DB_SCHEMA, IIZ_PERSON_DB_SCHEMA"
            " right?)",
            file=sys.stderr,
        )
        return 2
    finally:
        await pool.close()
    for e in erasures:
        rows = ", ".join(f"{t} {n}" for t, n in sorted(e.counts.items())) or "no rows"
        state = "key destroyed" if e.tombstoned else "no live key"
        print(f"{e.subject}: {rows}; {state}")
    if not any(e.changed for e in erasures):
        print("nothing to erase (never seen, or erased before)")
    return 0


async def retention_command(settings: CoordinationSettings, *, count: bool, force: bool) -> int:
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        if count:
            print(f"{await count_persons_past_retention(pool, settings)} persons past retention")
            return 0
        report = await run_retention(pool, settings, force=force)
    finally:
        await pool.close()
    if report is None:
        print("not run: another instance runs it now, or today's run happened (--force)")
        return 0
    if report.deferred and not report.changed:
        print(
            f"not run: the worker has {report.deferred} records of the canonical log to process"
            " yet (persons are judged on what it has folded); run again once it has caught up"
        )
        return 1
    print(" ".join(f"{k}={v}" for k, v in report.detail().items()))
    if report.deferred:
        print(
            f"stopped erasing: {report.deferred} new records on the canonical log; the rest waits"
        )
    return 0
