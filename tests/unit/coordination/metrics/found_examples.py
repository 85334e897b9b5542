"""Populations that hypothesis found to break a disclosure test, kept so that the test runs
them every time (a clean clone's random search finds them only sometimes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from services.coordination.metrics.facts import CaseFact, CostFact, EngagementFact, ReferralFact

D = dt.date

# test_two_downloads_half_a_year_apart_recover_nothing_together, found 2026-12-06: the downloads
# as of 2026-07-01 and 2027-01-01, each audited on its own, blank different cells of 2025 and
# 2026-Q1/Q2 (the later one blanks cells the earlier one showed); merged, they give away
# ('p2', '2025', 'cases_closed') and four more small counts.
TWO_DOWNLOADS_MERGED = [
    CaseFact(
        person=22,
        projects=(),
        opened_on=D(2025, 1, 1),
        closed_on=D(2025, 5, 5),
        outcome="employment",
        costs=(
            CostFact(financed_by="alv", chf=Decimal("1658.5"), ended_on=D(2025, 1, 1)),
            CostFact(financed_by="alv", chf=Decimal("8798.81"), ended_on=D(2025, 4, 4)),
            CostFact(financed_by="alv", chf=Decimal("3.89"), ended_on=D(2025, 2, 20)),
        ),
        record_key=0.6361791936703716,
    ),
    CaseFact(
        person=17,
        projects=(),
        opened_on=D(2025, 8, 19),
        closed_on=D(2026, 6, 4),
        outcome="employment",
        engagements=(
            EngagementFact(
                institution="rav", kind="measure", started_on=D(2026, 3, 5), ended_on=None
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 12, 8),
                answered_on=None,
                accepted=None,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 3, 6),
                answered_on=D(2026, 4, 4),
                accepted=False,
            ),
        ),
        costs=(
            CostFact(financed_by="alv", chf=Decimal("5105.11"), ended_on=D(2026, 1, 16)),
            CostFact(financed_by="alv", chf=Decimal("11.67"), ended_on=D(2026, 3, 10)),
        ),
        institutions=frozenset({"rav"}),
        record_key=0.5,
    ),
    CaseFact(
        person=19,
        projects=("p1", "p2"),
        opened_on=D(2026, 6, 5),
        engagements=(
            EngagementFact(
                institution="rav", kind="measure", started_on=D(2026, 8, 15), ended_on=None
            ),
            EngagementFact(
                institution="rav", kind="measure", started_on=D(2026, 8, 23), ended_on=None
            ),
            EngagementFact(
                institution="rav", kind="measure", started_on=D(2026, 12, 12), ended_on=None
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 12, 31),
                answered_on=None,
                accepted=None,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 11, 13),
                answered_on=D(2026, 12, 12),
                accepted=True,
            ),
        ),
        institutions=frozenset({"rav"}),
        record_key=0.7123992289724685,
    ),
    CaseFact(
        person=16,
        projects=("p1", "p2"),
        opened_on=D(2026, 4, 18),
        closed_on=D(2026, 4, 28),
        outcome="iv-measure",
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 4, 26),
                answered_on=None,
                accepted=None,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 4, 26),
                answered_on=None,
                accepted=None,
            ),
        ),
        costs=(CostFact(financed_by="social-services", chf=Decimal("1"), ended_on=D(2026, 4, 27)),),
        record_key=0.6068069506698381,
    ),
    CaseFact(
        person=18,
        projects=(),
        opened_on=D(2025, 11, 7),
        closed_on=D(2025, 12, 9),
        outcome="education",
        engagements=(
            EngagementFact(
                institution="iv", kind="benefit", started_on=D(2025, 11, 19), ended_on=D(2026, 3, 3)
            ),
            EngagementFact(
                institution="iv", kind="measure", started_on=D(2025, 12, 3), ended_on=None
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 12, 4),
                answered_on=D(2025, 12, 17),
                accepted=False,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 11, 16),
                answered_on=D(2025, 12, 22),
                accepted=False,
            ),
        ),
        costs=(
            CostFact(financed_by="alv", chf=Decimal("20.12"), ended_on=D(2025, 11, 23)),
            CostFact(financed_by="iv", chf=Decimal("4"), ended_on=D(2025, 12, 1)),
        ),
        institutions=frozenset({"iv"}),
        record_key=1.1125369292536007e-308,
    ),
    CaseFact(
        person=10,
        projects=("p1",),
        opened_on=D(2026, 4, 1),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 6, 1),
                answered_on=None,
                accepted=None,
            ),
        ),
        costs=(
            CostFact(
                financed_by="social-services", chf=Decimal("320.96"), ended_on=D(2026, 12, 26)
            ),
            CostFact(financed_by="social-services", chf=Decimal("20.62"), ended_on=D(2026, 11, 17)),
        ),
        record_key=1.1796453929707186e-139,
    ),
    CaseFact(
        person=5,
        projects=("p2",),
        opened_on=D(2026, 9, 24),
        engagements=(
            EngagementFact(
                institution="rav",
                kind="benefit",
                started_on=D(2026, 10, 18),
                ended_on=D(2027, 1, 14),
            ),
            EngagementFact(
                institution="rav", kind="benefit", started_on=D(2026, 11, 22), ended_on=None
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 10, 18),
                answered_on=D(2026, 11, 3),
                accepted=False,
            ),
        ),
        costs=(
            CostFact(financed_by="iv", chf=Decimal("16.59"), ended_on=D(2026, 12, 5)),
            CostFact(
                financed_by="social-services", chf=Decimal("5105.09"), ended_on=D(2026, 12, 8)
            ),
            CostFact(financed_by="iv", chf=Decimal("24.16"), ended_on=D(2026, 11, 2)),
        ),
        institutions=frozenset({"rav"}),
        record_key=0.741820683012085,
    ),
    CaseFact(
        person=3,
        projects=("p1",),
        opened_on=D(2025, 5, 6),
        closed_on=D(2025, 5, 13),
        outcome="moved-away",
        engagements=(
            EngagementFact(
                institution="iv", kind="benefit", started_on=D(2025, 5, 10), ended_on=None
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 5, 7),
                answered_on=D(2025, 6, 4),
                accepted=False,
            ),
        ),
        costs=(CostFact(financed_by="alv", chf=Decimal("3.65"), ended_on=D(2025, 5, 12)),),
        institutions=frozenset({"iv"}),
        record_key=0.8440354217707405,
    ),
    CaseFact(
        person=3,
        projects=(),
        opened_on=D(2025, 5, 21),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 4, 16),
                answered_on=D(2026, 4, 16),
                accepted=True,
            ),
        ),
        record_key=0.08131154777825578,
    ),
    CaseFact(
        person=10,
        projects=("p1",),
        opened_on=D(2025, 7, 12),
        engagements=(
            EngagementFact(
                institution="iv", kind="benefit", started_on=D(2026, 2, 3), ended_on=None
            ),
            EngagementFact(
                institution="sozialhilfe", kind="benefit", started_on=D(2026, 5, 9), ended_on=None
            ),
            EngagementFact(
                institution="zif",
                kind="benefit",
                started_on=D(2026, 8, 21),
                ended_on=D(2026, 12, 17),
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 10, 20),
                answered_on=None,
                accepted=None,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 7, 15),
                answered_on=D(2026, 7, 21),
                accepted=False,
            ),
        ),
        costs=(
            CostFact(financed_by="social-services", chf=Decimal("25.93"), ended_on=D(2025, 8, 8)),
        ),
        institutions=frozenset({"zif", "sozialhilfe", "iv"}),
        record_key=0.4275107816541404,
    ),
    CaseFact(
        person=12,
        projects=("p2",),
        opened_on=D(2025, 3, 4),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 8, 7),
                answered_on=D(2026, 9, 12),
                accepted=True,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 5, 23),
                answered_on=None,
                accepted=None,
            ),
        ),
        costs=(CostFact(financed_by="alv", chf=Decimal("155.82"), ended_on=D(2026, 9, 12)),),
        record_key=0.5254367169833165,
    ),
    CaseFact(
        person=5,
        projects=("p2",),
        opened_on=D(2025, 3, 1),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 11, 12),
                answered_on=None,
                accepted=None,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 12, 31),
                answered_on=D(2027, 2, 3),
                accepted=False,
            ),
        ),
        costs=(
            CostFact(financed_by="alv", chf=Decimal("3.46"), ended_on=D(2025, 10, 28)),
            CostFact(financed_by="social-services", chf=Decimal("26.5"), ended_on=D(2025, 10, 22)),
            CostFact(financed_by="iv", chf=Decimal("47.51"), ended_on=D(2026, 2, 25)),
        ),
        record_key=6.462474753453175e-194,
    ),
    CaseFact(
        person=6,
        projects=(),
        opened_on=D(2025, 3, 14),
        engagements=(
            EngagementFact(
                institution="rav", kind="measure", started_on=D(2025, 4, 3), ended_on=None
            ),
            EngagementFact(
                institution="iv", kind="benefit", started_on=D(2025, 9, 1), ended_on=None
            ),
        ),
        institutions=frozenset({"rav", "iv"}),
        record_key=0.9155129148390563,
    ),
    CaseFact(
        person=13,
        projects=("p2",),
        opened_on=D(2025, 1, 1),
        closed_on=D(2025, 1, 15),
        outcome="other",
        engagements=(
            EngagementFact(
                institution="rav", kind="measure", started_on=D(2025, 1, 3), ended_on=D(2025, 4, 23)
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 1, 2),
                answered_on=D(2025, 1, 19),
                accepted=False,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 1, 10),
                answered_on=D(2025, 2, 6),
                accepted=True,
            ),
        ),
        costs=(
            CostFact(financed_by="social-services", chf=Decimal("24.92"), ended_on=D(2025, 1, 15)),
        ),
        institutions=frozenset({"rav"}),
        record_key=0.5901466930281793,
    ),
    CaseFact(
        person=18,
        projects=(),
        opened_on=D(2025, 11, 24),
        engagements=(
            EngagementFact(
                institution="iv", kind="measure", started_on=D(2026, 4, 13), ended_on=D(2026, 5, 14)
            ),
            EngagementFact(
                institution="zif",
                kind="measure",
                started_on=D(2026, 8, 19),
                ended_on=D(2026, 11, 21),
            ),
            EngagementFact(
                institution="rav",
                kind="measure",
                started_on=D(2026, 12, 30),
                ended_on=D(2027, 2, 4),
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 11, 27),
                answered_on=None,
                accepted=None,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 2, 12),
                answered_on=D(2026, 3, 1),
                accepted=True,
            ),
        ),
        institutions=frozenset({"rav", "zif", "iv"}),
        record_key=0.5,
    ),
    CaseFact(
        person=7,
        projects=(),
        opened_on=D(2025, 2, 7),
        record_key=0.9999999999999999,
    ),
    CaseFact(
        person=11,
        projects=("p1", "p2"),
        opened_on=D(2025, 8, 15),
        closed_on=D(2026, 1, 15),
        outcome="moved-away",
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 12, 21),
                answered_on=None,
                accepted=None,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 1, 15),
                answered_on=D(2026, 2, 21),
                accepted=False,
            ),
        ),
        costs=(
            CostFact(financed_by="iv", chf=Decimal("2.38"), ended_on=D(2025, 12, 20)),
            CostFact(financed_by="social-services", chf=Decimal("56.9"), ended_on=D(2025, 9, 19)),
        ),
        record_key=0.8759751646591413,
    ),
    CaseFact(
        person=8,
        projects=("p1", "p2"),
        opened_on=D(2025, 8, 27),
        closed_on=D(2026, 5, 14),
        outcome="other",
        engagements=(
            EngagementFact(
                institution="sozialhilfe", kind="benefit", started_on=D(2025, 11, 5), ended_on=None
            ),
            EngagementFact(
                institution="sozialhilfe", kind="measure", started_on=D(2025, 12, 24), ended_on=None
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 3, 28),
                answered_on=None,
                accepted=None,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 2, 18),
                answered_on=D(2026, 3, 28),
                accepted=False,
            ),
        ),
        costs=(
            CostFact(financed_by="social-services", chf=Decimal("226.67"), ended_on=D(2026, 1, 17)),
        ),
        institutions=frozenset({"sozialhilfe"}),
        record_key=0.3048208379517634,
    ),
    CaseFact(
        person=10,
        projects=("p2",),
        opened_on=D(2025, 5, 1),
        engagements=(
            EngagementFact(
                institution="zif", kind="measure", started_on=D(2025, 12, 22), ended_on=None
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 6, 10),
                answered_on=D(2026, 7, 19),
                accepted=False,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 9, 13),
                answered_on=None,
                accepted=None,
            ),
        ),
        costs=(
            CostFact(financed_by="social-services", chf=Decimal("68.26"), ended_on=D(2026, 3, 6)),
        ),
        institutions=frozenset({"zif"}),
        record_key=0.6,
    ),
    CaseFact(
        person=18,
        projects=(),
        opened_on=D(2025, 12, 24),
        engagements=(
            EngagementFact(
                institution="iv", kind="benefit", started_on=D(2026, 7, 24), ended_on=D(2026, 8, 24)
            ),
            EngagementFact(
                institution="iv",
                kind="benefit",
                started_on=D(2026, 10, 23),
                ended_on=D(2026, 12, 21),
            ),
        ),
        institutions=frozenset({"iv"}),
        record_key=0.47424362741273335,
    ),
    CaseFact(
        person=1,
        projects=(),
        opened_on=D(2025, 10, 29),
        closed_on=D(2026, 2, 9),
        outcome="employment",
        engagements=(
            EngagementFact(
                institution="iv", kind="measure", started_on=D(2025, 11, 14), ended_on=None
            ),
            EngagementFact(
                institution="zif", kind="benefit", started_on=D(2026, 2, 1), ended_on=None
            ),
        ),
        costs=(
            CostFact(financed_by="alv", chf=Decimal("9.6"), ended_on=D(2025, 12, 26)),
            CostFact(financed_by="alv", chf=Decimal("1"), ended_on=D(2025, 12, 26)),
            CostFact(financed_by="alv", chf=Decimal("25.55"), ended_on=D(2025, 12, 24)),
        ),
        institutions=frozenset({"zif", "iv"}),
        record_key=0.1013793635873388,
    ),
    CaseFact(
        person=1,
        projects=("p1",),
        opened_on=D(2025, 9, 25),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 6, 1),
                answered_on=None,
                accepted=None,
            ),
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 3, 26),
                answered_on=D(2026, 4, 19),
                accepted=True,
            ),
        ),
        record_key=0.9999999999999998,
    ),
    CaseFact(
        person=4,
        projects=("p2",),
        opened_on=D(2026, 3, 10),
        engagements=(
            EngagementFact(
                institution="zif", kind="benefit", started_on=D(2026, 7, 3), ended_on=D(2026, 9, 28)
            ),
            EngagementFact(
                institution="rav", kind="benefit", started_on=D(2026, 7, 19), ended_on=None
            ),
            EngagementFact(
                institution="iv", kind="benefit", started_on=D(2026, 7, 22), ended_on=None
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 11, 1),
                answered_on=D(2026, 11, 21),
                accepted=True,
            ),
        ),
        institutions=frozenset({"rav", "zif", "iv"}),
        record_key=2.225073858507203e-309,
    ),
    CaseFact(
        person=2,
        projects=("p1", "p2"),
        opened_on=D(2025, 3, 16),
        closed_on=D(2025, 7, 11),
        outcome="iv-pension",
        engagements=(
            EngagementFact(
                institution="zif",
                kind="measure",
                started_on=D(2025, 5, 18),
                ended_on=D(2025, 6, 12),
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2025, 6, 14),
                answered_on=None,
                accepted=None,
            ),
        ),
        costs=(
            CostFact(financed_by="social-services", chf=Decimal("4.01"), ended_on=D(2025, 4, 10)),
            CostFact(financed_by="alv", chf=Decimal("150.05"), ended_on=D(2025, 4, 1)),
            CostFact(financed_by="alv", chf=Decimal("7.35"), ended_on=D(2025, 6, 24)),
        ),
        institutions=frozenset({"zif"}),
        record_key=0.17215729456579254,
    ),
    CaseFact(
        person=3,
        projects=("p1",),
        opened_on=D(2026, 1, 17),
        engagements=(
            EngagementFact(
                institution="iv", kind="measure", started_on=D(2026, 3, 23), ended_on=D(2026, 6, 20)
            ),
            EngagementFact(
                institution="rav", kind="measure", started_on=D(2026, 5, 13), ended_on=D(2026, 6, 2)
            ),
        ),
        referrals=(
            ReferralFact(
                from_institution="rav",
                to_institution="iv",
                requested_on=D(2026, 4, 20),
                answered_on=None,
                accepted=None,
            ),
        ),
        costs=(CostFact(financed_by="iv", chf=Decimal("9999.99"), ended_on=D(2026, 9, 4)),),
        institutions=frozenset({"rav", "iv"}),
        record_key=0.9738915614449976,
    ),
]
