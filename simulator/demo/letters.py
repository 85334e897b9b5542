"""Example letters from the demo's data: an access report (DSG Art. 25) for a person who went
through RAV and the IV-Stelle, and one AVG Art. 35a Abs. 1ter notice, fetched through the API
as the people who would ask for them (a data-protection officer, the sending institution)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.coordination.reading.caller import Role
from simulator.demo.reading import SimulatedReading
from simulator.population import Population

PDF = {"Accept": "application/pdf"}


def person_of_rav_and_iv(population: Population) -> str | None:
    """The AHV number of the person with the most steps among those both RAV and IV wrote about."""
    both = [p for p in population.persons if {"rav", "iv"} <= {step.origin for step in p.steps}]
    chosen = max(both, key=lambda p: len(p.steps), default=None)
    return chosen.ahv if chosen else None


async def write_example_letters(
    reading: SimulatedReading, population: Population, folder: Path
) -> list[Path]:
    """The letters as PDF files in ``folder``; what could not be produced is left out."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    written: list[Path] = []
    ahv = person_of_rav_and_iv(population)
    if ahv is not None:
        answer = await reading.request(
            "POST",
            "/v1/access-reports",
            "datenschutz-rav",
            "rav",
            Role.AUDITOR,
            json={"ahv_number": ahv, "purpose": "Auskunftsbegehren", "ticket": "DEMO-1"},
            headers=PDF,
        )
        if answer.status_code == 200:
            written.append(await _write(folder / "auskunft.pdf", answer.content))
    notices = await reading.request(
        "GET", "/v1/notices", "koordination-rav", "rav", Role.COORDINATOR
    )
    items = notices.json().get("notices", []) if notices.status_code == 200 else []
    if items:
        notice = await reading.request(
            "GET",
            f"/v1/notices/{items[0]['notice_id']}",
            "koordination-rav",
            "rav",
            Role.COORDINATOR,
            headers=PDF,
        )
        if notice.status_code == 200:
            written.append(await _write(folder / "mitteilung-avg-35a.pdf", notice.content))
    return written


async def _write(path: Path, content: bytes) -> Path:
    await asyncio.to_thread(path.write_bytes, content)
    return path
