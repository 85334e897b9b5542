"""The ``decided`` audit row names, per allowed recipient, the categories it received and the
consents or articles it received them on (the access report reads them)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from schemas.events import MeasureStarted
from schemas.vocabulary import DataCategory, MeasureKind
from services.coordination.domain.event_step import Applied
from services.coordination.domain.policy import (
    Basis,
    BasisKind,
    Decision,
    DenialReason,
    EventFacts,
)
from services.coordination.worker.batch_audit import decided
from tests.case_story import CaseStory

pytestmark = pytest.mark.unit

CONSENT = uuid.UUID("11111111-2222-4333-8444-555555555555")


def test_decided_rows_name_categories_consents_and_articles_per_recipient() -> None:
    event = CaseStory(person_seed=5).rav(MeasureStarted, kind=MeasureKind.COACHING)
    employment = frozenset({DataCategory.EMPLOYMENT})
    decisions = [
        Decision("rav", True, Basis(BasisKind.ORIGIN), employment),
        Decision("iv", True, Basis(BasisKind.CONSENT, consent_ids=(CONSENT,)), employment),
        Decision(
            "ksa", True, Basis(BasisKind.LAW, articles=("AVG Art. 35a Abs. 1bis",)), employment
        ),
        Decision("sozialhilfe-2829", False, reason=DenialReason.NOT_INVOLVED),
    ]
    facts = EventFacts(0, "rav", dt.datetime(2026, 3, 3, tzinfo=dt.UTC), employment)

    entry = decided(event, Applied(None, facts, decisions, [], []))

    assert entry.detail["allowed"] == {
        "rav": "origin",
        "iv": f"consent {CONSENT}",
        "ksa": "law AVG Art. 35a Abs. 1bis",
    }
    assert entry.detail["denied"] == {"sozialhilfe-2829": "not-involved"}
    assert entry.detail["delivered"] == {
        "rav": {"categories": ["employment"], "consents": [], "articles": []},
        "iv": {"categories": ["employment"], "consents": [str(CONSENT)], "articles": []},
        "ksa": {
            "categories": ["employment"],
            "consents": [],
            "articles": ["AVG Art. 35a Abs. 1bis"],
        },
    }
