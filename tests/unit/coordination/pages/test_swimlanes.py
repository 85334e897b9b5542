"""The case chart: bars paired from the caller's entries, parallel bands, lanes and geometry."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from services.coordination.domain.summary import CaseSummary, CaseView, ParticipantView
from services.coordination.pages.swimlanes import (
    LABEL_WIDTH,
    Bar,
    Scale,
    bars_from,
    lane_order,
    layout,
    month_ticks,
    parallel_periods,
)
from services.coordination.pages.wording import InstitutionNames
from services.coordination.reading.timeline import Basis, TimelineEntry

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def entry(day: int, origin: str, name: str, **data: Any) -> TimelineEntry:
    return TimelineEntry(
        position=day,
        event_id=uuid.uuid4(),
        type=f"ch.bl.iiz.{name}.v1",
        time=START + dt.timedelta(days=day),
        origin=origin,
        category="case-admin",
        case_number="IIZ-2026-000001",
        basis=Basis(kind="origin"),
        withheld=[],
        data=data,
    )


def summary(last: dt.date, *participants: str, lead: str = "rav") -> CaseSummary:
    return CaseSummary(
        case_number="IIZ-2026-000001",
        case=CaseView(opened_at=START, opened_by=lead, lead=lead, open=True),
        position=10,
        last_event_on=last,
        participants=[
            ParticipantView(institution=p, role="participant", since=START, via_referral=False)
            for p in participants
        ],
        current_engagements=[],
        parallel=False,
        consents=[],
        open_referrals=[],
    )


def story() -> list[TimelineEntry]:
    referral, measure, benefit = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    return [
        entry(0, "rav", "benefit.granted", benefit_id=str(benefit), kind="x", start="2026-03-01"),
        entry(1, "rav", "referral.requested", referral_id=str(referral), to_institution="iv"),
        entry(4, "iv", "referral.accepted", referral_id=str(referral)),
        entry(6, "rav", "measure.started", measure_id=str(measure), kind="coaching"),
        entry(9, "rav", "measure.ended", measure_id=str(measure)),
        entry(12, "rav", "benefit.ended", benefit_id=str(benefit), end="2026-03-13"),
    ]


def test_starts_and_ends_are_paired_by_id_and_a_referral_waits_until_its_answer() -> None:
    bars = {(b.institution, b.kind): b for b in bars_from(story())}

    assert bars["rav", "benefit"].start == dt.date(2026, 3, 1)
    assert bars["rav", "benefit"].end == dt.date(2026, 3, 13)
    assert (bars["rav", "measure"].start, bars["rav", "measure"].end) == (
        dt.date(2026, 3, 8),
        dt.date(2026, 3, 11),
    )
    assert (bars["iv", "waiting"].start, bars["iv", "waiting"].end) == (
        dt.date(2026, 3, 3),
        dt.date(2026, 3, 6),
    )
    assert bars["iv", "referral"].start == dt.date(2026, 3, 6)
    assert bars["iv", "referral"].running


def test_an_end_whose_start_the_caller_cannot_see_still_shows_a_bar() -> None:
    [bar] = bars_from([entry(3, "iv", "measure.ended", measure_id="m-1")])
    assert (bar.institution, bar.kind, bar.start, bar.end) == (
        "iv",
        "measure",
        dt.date(2026, 3, 5),
        dt.date(2026, 3, 5),
    )


def test_parallel_periods_are_days_with_two_or_more_engaged_institutions() -> None:
    periods = parallel_periods(bars_from(story()), today=dt.date(2026, 3, 20))
    # rav's benefit runs to 13 March; iv is engaged from 6 March (its referral runs on)
    assert [(p.start, p.end) for p in periods] == [(dt.date(2026, 3, 6), dt.date(2026, 3, 13))]


def test_overlapping_bars_of_one_institution_are_not_parallel() -> None:
    bars = [
        Bar("rav", "benefit", "a", dt.date(2026, 1, 1), dt.date(2026, 3, 1)),
        Bar("rav", "measure", "b", dt.date(2026, 2, 1), dt.date(2026, 2, 10)),
    ]
    assert parallel_periods(bars, today=dt.date(2026, 4, 1)) == []


def test_a_waiting_referral_is_not_yet_an_engagement() -> None:
    bars = [
        Bar("rav", "benefit", "a", dt.date(2026, 1, 1), None),
        Bar("iv", "waiting", "b", dt.date(2026, 2, 1), None),
    ]
    assert parallel_periods(bars, today=dt.date(2026, 4, 1)) == []


def test_running_bars_end_today_and_touching_periods_count_day_by_day() -> None:
    bars = [
        Bar("rav", "benefit", "a", dt.date(2026, 1, 1), None),
        Bar("iv", "measure", "b", dt.date(2026, 2, 1), dt.date(2026, 2, 1)),
        Bar("zif", "measure", "c", dt.date(2026, 2, 2), None),
    ]
    [period] = parallel_periods(bars, today=dt.date(2026, 2, 5))
    assert (period.start, period.end) == (dt.date(2026, 2, 1), dt.date(2026, 2, 5))


def test_the_lead_comes_first_then_participants_then_others_with_bars() -> None:
    bars = [Bar("zif", "measure", "c", dt.date(2026, 2, 2))]
    order = lane_order(summary(dt.date(2026, 3, 1), "iv", "rav", lead="rav"), bars)
    assert order == ["rav", "iv", "zif"]


def test_layout_places_one_lane_per_institution_and_bands_inside_the_plot() -> None:
    chart = layout(summary(dt.date(2026, 3, 20), "rav", "iv"), story(), {"rav": "RAV"})

    assert [lane.institution for lane in chart.lanes] == ["rav", "iv"]
    assert chart.lanes[0].name == "RAV"
    assert chart.lanes[1].name == "iv"
    assert chart.lanes[1].y > chart.lanes[0].y
    [(_, band)] = chart.bands
    assert LABEL_WIDTH <= band.x < band.x + band.width <= chart.width
    all_rects = [d.rect for lane in chart.lanes for d in lane.bars]
    assert all(r.x >= LABEL_WIDTH and r.x + r.width <= chart.width for r in all_rects)
    assert chart.ticks[0].label == "01.03.2026"  # weekly ticks on a short axis
    assert chart.today_x is not None


def test_bars_get_german_titles() -> None:
    chart = layout(summary(dt.date(2026, 3, 20), "rav", "iv"), story(), {})
    titles = [d.title for lane in chart.lanes for d in lane.bars]
    assert any(t.startswith("Massnahme Coaching: 08.03.2026") for t in titles)
    assert any("läuft" in t for t in titles)


def test_a_long_axis_gets_month_ticks_and_beyond_18_months_quarter_ticks() -> None:
    scale = Scale(dt.date(2026, 1, 15), dt.date(2026, 6, 1), LABEL_WIDTH, 900)
    assert [t.label for t in month_ticks(scale.first, scale.last, scale)] == [
        "Feb 2026",
        "Mär 2026",
        "Apr 2026",
        "Mai 2026",
        "Jun 2026",
    ]
    long = Scale(dt.date(2025, 1, 1), dt.date(2026, 12, 31), LABEL_WIDTH, 900)
    labels = [t.label for t in month_ticks(long.first, long.last, long)]
    assert labels[:3] == ["Jan 2025", "Apr 2025", "Jul 2025"]
    xs = [t.x for t in month_ticks(long.first, long.last, long)]
    assert xs == sorted(xs)


def test_an_empty_timeline_still_draws_the_participants_lanes() -> None:
    chart = layout(summary(dt.date(2026, 3, 2), "rav"), [], {})
    assert [lane.institution for lane in chart.lanes] == ["rav"]
    assert chart.bands == []
    assert chart.ticks


def test_lanes_and_bars_name_institutions_and_purposes_in_german() -> None:
    names = InstitutionNames({"zif": "Zentrum Integrationsförderung (ZIF)"}, {"zif": "ZIF"})
    asked = entry(
        1,
        "rav",
        "referral.requested",
        referral_id="r1",
        to_institution="zif",
        purpose="zif-first-interview",
    )
    chart = layout(summary(dt.date(2026, 3, 20), "rav"), [asked], names)
    lane = next(lane for lane in chart.lanes if lane.institution == "zif")
    assert (lane.short, lane.name) == ("ZIF", "Zentrum Integrationsförderung (ZIF)")
    [drawn] = lane.bars
    assert drawn.title.startswith("Anmeldung (bis Antwort) Erstgespräch ZIF: ")
