"""The ACL plan (services/ops/acl_plan.py): institutions get their own two topics and nothing
else; the services get exactly what their code subscribes to, joins and opens."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from schemas.registry.institutions import load_institutions
from schemas.topics import planned_topics
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import coordination_edges
from services.coordination.worker.runtime import CoordinationRuntime
from services.intake.kafka_door import intake_edge
from services.intake.runtime import IntakeRuntime, transactional_id
from services.intake.settings import IntakeSettings
from services.notifications import digest_worker
from services.notifications.app import NotificationsRuntime, notification_edges
from services.notifications.settings import NotificationsSettings
from services.ops.acl_plan import (
    INTAKE_TRANSACTIONAL_PREFIX,
    Access,
    AclRule,
    Operation,
    Pattern,
    PrincipalCollisionError,
    Resource,
    access_plan,
    acl_plan,
    allowed,
    checked_institution_id,
    markdown_table,
    may_consume,
    may_produce,
    service_principal,
)

REGISTRY = load_institutions()
PLAN = access_plan(REGISTRY)
RULES = acl_plan(REGISTRY)
TOPICS = [t.name for t in planned_topics(REGISTRY)]


def access(principal: str) -> Access:
    return next(a for a in PLAN if a.principal == principal)


def test_every_institution_of_the_registry_and_every_service_is_a_principal() -> None:
    assert [a.principal for a in PLAN] == [
        *(i.id for i in REGISTRY.institutions),
        "service-intake",
        "service-coordination",
        "service-notifications",
    ]


@pytest.mark.parametrize("institution", [i.id for i in REGISTRY.institutions])
def test_an_institution_may_produce_and_consume_only_its_own_topics(institution: str) -> None:
    entry = REGISTRY.by_id[institution]
    produce = {t for t in TOPICS if may_produce(RULES, institution, t)}
    consume = {t for t in TOPICS if may_consume(RULES, institution, t, f"{institution}.inbox")}

    assert produce == {entry.intake_topic}
    assert consume == {entry.delivery_topic}


def test_an_institutions_groups_are_those_under_its_prefix_only() -> None:
    own = "rav.deliveries"

    assert allowed(RULES, "rav", Operation.READ, Resource.GROUP, own)
    assert not allowed(RULES, "rav", Operation.READ, Resource.GROUP, "iv.deliveries")
    assert not allowed(RULES, "rav", Operation.READ, Resource.GROUP, "ravx")
    assert not allowed(RULES, "rav", Operation.READ, Resource.GROUP, "iiz-intake")
    assert not may_consume(RULES, "rav", "iiz.deliver.rav.v1", "deliveries")


def test_the_rules_of_an_institution_are_these_five() -> None:
    assert access("rav").rules() == sorted(
        [
            AclRule("rav", Resource.TOPIC, Pattern.LITERAL, "iiz.intake.rav.v1", Operation.WRITE),
            AclRule(
                "rav", Resource.TOPIC, Pattern.LITERAL, "iiz.intake.rav.v1", Operation.DESCRIBE
            ),
            AclRule("rav", Resource.TOPIC, Pattern.LITERAL, "iiz.deliver.rav.v1", Operation.READ),
            AclRule(
                "rav", Resource.TOPIC, Pattern.LITERAL, "iiz.deliver.rav.v1", Operation.DESCRIBE
            ),
            AclRule("rav", Resource.GROUP, Pattern.PREFIXED, "rav.", Operation.READ),
        ]
    )


def test_every_planned_topic_is_used_by_some_principal() -> None:
    used = {t for a in PLAN for t in (*a.produces, *a.consumes)}

    assert set(TOPICS) <= used
    assert used <= set(TOPICS)


def test_intakes_groups_topics_and_transactional_ids_are_what_its_code_uses() -> None:
    settings = IntakeSettings()
    edge = intake_edge(IntakeRuntime(settings, registry=REGISTRY)).config
    intake = access(service_principal("intake"))

    assert intake.groups == (edge.group_id,)
    assert set(edge.topics) == set(intake.consumes)
    for door in ("kafka", "http"):
        assert transactional_id(settings, door).startswith(INTAKE_TRANSACTIONAL_PREFIX)
    assert intake.transactional_prefixes == (INTAKE_TRANSACTIONAL_PREFIX,)


def test_coordinations_groups_and_topics_are_what_its_code_uses() -> None:
    edges = [e.config for e in coordination_edges(CoordinationRuntime(CoordinationSettings()))]
    coordination = access(service_principal("coordination"))

    assert coordination.groups == tuple(e.group_id for e in edges)
    assert {t for e in edges for t in e.topics} == set(coordination.consumes)
    assert coordination.transactional_prefixes == ()


def test_notifications_groups_and_topics_are_what_its_code_uses() -> None:
    settings = NotificationsSettings()
    edges = [e.config for e in notification_edges(NotificationsRuntime(settings))]
    notifications = access(service_principal("notifications"))
    digest_group = f"{settings.notifications_group_id}-digest"

    assert set(notifications.groups) == {*(e.group_id for e in edges), digest_group}
    assert '"{s.notifications_group_id}-digest"' in inspect.getsource(digest_worker)
    assert {t for e in edges for t in e.topics} <= set(notifications.consumes)
    assert settings.notifications_digest_topic in notifications.consumes


def test_no_service_may_read_an_intake_topic_except_intake() -> None:
    for service in ("coordination", "notifications"):
        principal = service_principal(service)
        assert not any(
            may_consume(RULES, principal, i.intake_topic, None) for i in REGISTRY.institutions
        )


def test_the_table_names_every_service_and_the_institution_rule() -> None:
    table = markdown_table(PLAN)

    assert "`iiz.intake.<id>.v1`" in table
    for service in ("intake", "coordination", "notifications"):
        assert f"`service-{service}`" in table
    assert len(markdown_table(PLAN, all_institutions=True).splitlines()) == len(PLAN) + 3


def test_the_table_in_infra_readme_is_the_plan() -> None:
    readme = (Path(__file__).resolve().parents[2] / "infra" / "README.md").read_text("utf-8")

    assert markdown_table(PLAN) in readme


@pytest.mark.parametrize("institution_id", ["admin", "broker", "service-intake", "rav.archive"])
def test_an_institution_id_that_would_be_another_principal_or_reach_its_groups_is_refused(
    institution_id: str,
) -> None:
    with pytest.raises(PrincipalCollisionError):
        checked_institution_id(institution_id)


def test_every_registered_institution_id_is_a_principal_of_its_own() -> None:
    assert all(checked_institution_id(i.id) == i.id for i in REGISTRY.institutions)
