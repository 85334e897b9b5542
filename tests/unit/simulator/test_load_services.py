"""The load run's processes: one health port each, also when every service runs twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.intake.settings import IntakeSettings
from simulator.load.__main__ import parse_plan
from simulator.load.services import LoadServices, peak_rss_kib

pytestmark = pytest.mark.unit


def services(instances: int) -> LoadServices:
    return LoadServices(IntakeSettings(), Path("/nonexistent"), 2525, 30000, instances=instances)


def test_one_instance_runs_each_process_once_with_a_port_of_its_own() -> None:
    assert services(1).ports() == {
        "intake-kafka": 30000,
        "coordination": 30001,
        "coordination-relay": 30002,
        "notifications": 30003,
    }


def test_two_instances_give_every_copy_a_port_and_a_name_of_its_own() -> None:
    ports = services(2).ports()
    assert len(ports) == 8
    assert len(set(ports.values())) == 8
    assert ports["intake-kafka-2"] == 30004
    assert ports["notifications-2"] == 30007


def test_the_plan_takes_the_number_of_instances_and_refuses_nonsense() -> None:
    assert parse_plan(["--rates", "100", "--instances", "2"]).instances == 2
    assert parse_plan(["--rates", "100"]).instances == 1
    with pytest.raises(SystemExit):
        parse_plan(["--rates", "100", "--instances", "0"])


def test_peak_memory_is_read_from_the_processes_status_file(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t 900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 100 kB\n")
    assert peak_rss_kib(status) == 123456
    assert peak_rss_kib(tmp_path / "gone") is None
