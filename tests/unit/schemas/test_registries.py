"""The packaged institution and project registries, and how broken registry files fail."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from schemas.envelope import SOURCE_PATTERN
from schemas.registry import InstitutionRegistry, load_institutions, load_projects
from schemas.registry.loading import RegistryError
from schemas.topics import CASE_EVENTS, planned_topics
from schemas.vocabulary import InstitutionKind


@pytest.fixture(scope="module")
def registry() -> InstitutionRegistry:
    return load_institutions()


def test_the_packaged_registry_has_every_cantonal_partner(registry: InstitutionRegistry) -> None:
    kinds = {i.kind for i in registry.institutions}

    assert kinds == set(InstitutionKind)
    assert {"rav", "iv", "ksa", "assessmentcenter", "zif", "berufsbildung"} <= set(registry.by_id)


def test_at_least_ten_social_services_each_named_by_its_bfs_number(
    registry: InstitutionRegistry,
) -> None:
    social_services = registry.of_kind(InstitutionKind.SOCIAL_SERVICES)

    assert len(social_services) >= 10
    for service in social_services:
        assert service.bfs_number is not None
        assert 2701 <= service.bfs_number <= 2895
        assert service.id == f"sozialhilfe-{service.bfs_number}"
        assert service.source == f"/iiz/bl/sozialhilfe/{service.bfs_number}"
        assert registry.social_services_of(service.bfs_number) is service


def test_only_social_services_carry_a_bfs_number(registry: InstitutionRegistry) -> None:
    for institution in registry.institutions:
        is_social = institution.kind is InstitutionKind.SOCIAL_SERVICES
        assert (institution.bfs_number is not None) == is_social, institution.id


def test_sources_ids_and_topics_are_unique_and_well_formed(registry: InstitutionRegistry) -> None:
    count = len(registry.institutions)

    assert len(registry.by_id) == count
    assert len(registry.by_source) == count
    assert len(registry.by_intake_topic) == count
    for institution in registry.institutions:
        assert re.fullmatch(SOURCE_PATTERN, institution.source), institution.source


def test_topic_names_and_principal_derive_from_the_id(registry: InstitutionRegistry) -> None:
    liestal = registry.by_id["sozialhilfe-2829"]
    rav = registry.by_id["rav"]

    assert liestal.intake_topic == "iiz.intake.sozialhilfe-2829.v1"
    assert liestal.delivery_topic == "iiz.deliver.sozialhilfe-2829.v1"
    assert liestal.kafka_principal == "User:iiz-sozialhilfe-2829"
    assert rav.source == "/iiz/bl/rav"
    assert registry.by_intake_topic["iiz.intake.rav.v1"] is rav


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "institutions.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "named_problem"),
    [
        pytest.param(
            """
            version: 1
            institutions:
              - {id: rav, kind: alv-rav, name: "RAV Baselland"}
              - {id: rav, kind: alv-rav, name: "RAV Baselland again"}
            """,
            "listed twice: rav",
            id="duplicate id",
        ),
        pytest.param(
            """
            version: 1
            institutions:
              - {id: suva, kind: accident-insurance, name: "Suva"}
            """,
            "institutions.0.kind",
            id="unknown kind",
        ),
        pytest.param(
            """
            version: 1
            institutions:
              - {id: sozialhilfe-2829, kind: social-services, name: "Sozialdienst Liestal"}
            """,
            "BFS municipality number",
            id="social service without BFS number",
        ),
        pytest.param(
            """
            version: 1
            institutions:
              - {id: sozialhilfe-liestal, kind: social-services, bfs_number: 2829,
                 name: "Sozialdienst Liestal"}
            """,
            "sozialhilfe-<BFS number>",
            id="social service id not derived from its BFS number",
        ),
        pytest.param(
            """
            version: 1
            institutions:
              - {id: sozialhilfe-2701, kind: social-services, bfs_number: 2701,
                 name: "Sozialdienst Basel"}
              - {id: sozialhilfe-2601, kind: social-services, bfs_number: 2601,
                 name: "Sozialdienst Solothurn"}
            """,
            "institutions.1.bfs_number",
            id="BFS number outside Basel-Landschaft",
        ),
        pytest.param(
            """
            version: 1
            institutions:
              - {id: rav, kind: alv-rav, name: "RAV"
            """,
            "cannot read registry",
            id="invalid YAML",
        ),
        pytest.param("", "invalid registry", id="empty file"),
    ],
)
def test_a_broken_registry_file_fails_with_a_message_naming_the_problem(
    tmp_path: Path, body: str, named_problem: str
) -> None:
    path = _write(tmp_path, body)

    with pytest.raises(RegistryError) as caught:
        load_institutions(path)

    assert named_problem in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_registry_file_fails_with_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read registry"):
        load_institutions(tmp_path / "nope.yaml")


def test_the_packaged_projects_load_and_their_owners_are_registered(
    registry: InstitutionRegistry,
) -> None:
    projects = load_projects()

    assert {"AC-PILOT", "IIZ-FALLKOORD", "IAS-VAFL", "CM-BB"} <= set(projects.by_code)
    for project in projects.projects:
        assert project.owner in registry.by_id, project.code
        assert project.end is None or project.end >= project.start


def test_a_project_that_ends_before_it_starts_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "projects.yaml"
    path.write_text(
        "version: 1\nprojects:\n  - {code: X-1, name: Broken, owner: ksa, "
        "start: 2025-01-01, end: 2024-01-01}\n",
        encoding="utf-8",
    )

    with pytest.raises(RegistryError, match="X-1 ends before it starts"):
        load_projects(path)


def test_planned_topics_cover_every_intake_and_delivery_topic(
    registry: InstitutionRegistry,
) -> None:
    plans = {plan.name: plan for plan in planned_topics(registry)}

    for institution in registry.institutions:
        assert institution.intake_topic in plans
        assert institution.delivery_topic in plans
    assert len(plans) == len(planned_topics(registry)), "topic names are unique"
    assert plans[CASE_EVENTS].name == "iiz.case-events.v1"
    assert plans[CASE_EVENTS].partitions >= 6
    assert plans[CASE_EVENTS].retention_ms == -1
