"""What the worklist pages need besides the read: the German query parameters, the German
words for roles and deadline kinds, and links that keep the chosen filter. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from urllib.parse import urlencode

from schemas.registry.projects import load_projects
from services.coordination.domain.worklist import DueItem, DueKind, Role
from services.coordination.pages.wording import DASH, NO_NAMES, InstitutionNames

SORTS = {"frist": "deadline", "fall": "case", "aktualisiert": "updated"}
SORT_LABELS = {"frist": "nächste Frist", "fall": "Fallnummer", "aktualisiert": "zuletzt geändert"}
STATUS = {"offen": True, "abgeschlossen": False, "alle": None}
STATUS_LABELS = {"offen": "offene", "abgeschlossen": "abgeschlossene", "alle": "alle"}
ROLES = {
    Role.LEAD: "fallführend",
    Role.PARTICIPANT: "beteiligt",
    Role.INVITED: "angemeldet",
    Role.LEFT: "ausgetreten",
}
DUE_KINDS = {
    DueKind.ANSWER_DUE: "Antwort auf Anmeldung von {counterpart}",
    DueKind.ANSWER_AWAITED: "Antwort von {institution} auf Ihre Anmeldung",
    DueKind.REFERRAL_OPEN: "Antwort von {institution} auf Anmeldung von {counterpart}",
    DueKind.EXHAUSTION: "Voraussichtliche Aussteuerung ({institution})",
    DueKind.ESCALATION: "Eskalation: Anmeldung an {institution} unbeantwortet",
    DueKind.EXHAUSTION_PLANNING: "Parallele Unterstützung planen (Aussteuerung bei {counterpart})",
}


@dataclass(frozen=True)
class Choice:
    """The page's filter and order, as the German query parameters name them."""

    sort: str = "frist"
    status: str = "offen"
    overdue_only: bool = False
    lead_only: bool = False
    project: str | None = None
    offset: int = 0

    @classmethod
    def of(
        cls, sort: str, status: str, overdue: str, lead: str, project: str, offset: int
    ) -> Choice:
        """Unknown values fall back to the defaults (a page never fails on a hand-made URL)."""
        known = {p.code for p in load_projects().projects}
        return cls(
            sort=sort if sort in SORTS else "frist",
            status=status if status in STATUS else "offen",
            overdue_only=overdue == "1",
            lead_only=lead == "1",
            project=project if project in known else None,
            offset=max(offset, 0),
        )

    @property
    def sort_code(self) -> str:
        return SORTS[self.sort]

    @property
    def open(self) -> bool | None:
        return STATUS[self.status]

    def link(self, **changes: object) -> str:
        """``/faelle`` with this choice, changed as given (and back to the first rows)."""
        chosen = replace(self, **{"offset": 0, **changes})  # type: ignore[arg-type]
        params: dict[str, str | int] = {"sortierung": chosen.sort, "status": chosen.status}
        if chosen.overdue_only:
            params["ueberfaellig"] = "1"
        if chosen.lead_only:
            params["fuehrung"] = "1"
        if chosen.project:
            params["projekt"] = chosen.project
        if chosen.offset:
            params["ab"] = chosen.offset
        return "/faelle?" + urlencode(params)


@cache
def project_names() -> dict[str, str]:
    return {p.code: p.name for p in load_projects().projects}


def role_label(role: Role) -> str:
    return ROLES[role]


def due_label(item: DueItem, names: InstitutionNames = NO_NAMES) -> str:
    """What falls due, in German, naming institutions by their short names (as the lanes do)."""
    counterpart = names.short(item.counterpart) if item.counterpart else DASH
    return DUE_KINDS[item.kind].format(
        institution=names.short(item.institution), counterpart=counterpart
    )
