"""The misuse signals in German, as the data-protection officer reads them (page and e-mail).

Who: the institution and role, and the user's stable reference as the audit log keeps it (the
token's ``sub``: the identity provider's opaque id, not a name; the institution's own provider
resolves it to the person when the officer must follow a signal up). Never a person's data:
a repeated-looks signal names the person by the audit rows behind it only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from services.coordination.domain.misuse_signals import Signal, SignalKind, SignalRules
from services.coordination.domain.working_days import SWISS_TIME

TITLES: Mapping[SignalKind, str] = {
    SignalKind.OFF_HOURS: "Zugriffe ausserhalb der Bürozeiten",
    SignalKind.MANY_PERSONS: "Viele Personen an einem Tag",
    SignalKind.REPEATED_LOOKS: "Wiederholte Abfragen ohne neues Ereignis",
    SignalKind.REFUSED_RUN: "Serie abgewiesener Abfragen",
}
ROLES = {
    "caseworker": "Fallbearbeitung",
    "coordinator": "IIZ-Koordination",
    "auditor": "Datenschutz",
    "committee": "IIZ-Ausschuss",
}


def rules_text(rules: SignalRules) -> dict[SignalKind, str]:
    """What each signal means, with the thresholds in force."""
    days = ", ".join(str(d) for d in sorted(rules.office_days))
    return {
        SignalKind.OFF_HOURS: (
            f"Abfragen vor {rules.office_start:%H:%M} oder ab {rules.office_end:%H:%M} Uhr,"
            f" an Nicht-Bürotagen (ISO-Wochentage {days}) oder an Feiertagen;"
            " je Benutzer und Tag ein Signal."
        ),
        SignalKind.MANY_PERSONS: (
            f"Ein Benutzer hat an einem Tag mehr als {rules.max_persons_per_day} verschiedene"
            " Personen gelesen (Fälle, Dokumente, Auskünfte)."
        ),
        SignalKind.REPEATED_LOOKS: (
            f"Ein Benutzer hat eine Person mehr als {rules.max_looks}-mal angesehen, ohne dass"
            " dazwischen ein neues Ereignis zur Person eintraf (Abfragen innerhalb von"
            f" {int(rules.look_window.total_seconds() // 60)} Minuten zählen als eine)."
        ),
        SignalKind.REFUSED_RUN: (
            f"Mindestens {rules.refused_run} abgewiesene Abfragen in Folge (nicht gefunden oder"
            f" nicht berechtigt) innerhalb von {int(rules.refused_window.total_seconds() // 60)}"
            " Minuten: mögliches Ausprobieren von AHV- oder Fallnummern."
        ),
    }


def when(at: dt.datetime) -> str:
    return at.astimezone(SWISS_TIME).strftime("%d.%m.%Y %H:%M")


def who(signal: Signal) -> str:
    return f"{signal.institution} · {ROLES.get(signal.role, signal.role)} · Benutzer {signal.user}"


def what(signal: Signal) -> str:
    n = signal.count
    return {
        SignalKind.OFF_HOURS: f"{n} Abfrage(n) ausserhalb der Bürozeiten",
        SignalKind.MANY_PERSONS: f"{n} verschiedene Personen an einem Tag",
        SignalKind.REPEATED_LOOKS: f"{n} Abfragen derselben Person ohne neues Ereignis",
        SignalKind.REFUSED_RUN: f"{n} abgewiesene Abfragen in Folge",
    }[signal.kind]


def rows_link(signal: Signal, base: str = "") -> str:
    """The page of the audit rows behind the signal."""
    return f"{base}/datenschutz/protokoll?" + "&".join(f"seq={s}" for s in signal.seqs[:200])
