"""Who may do what on Kafka: the principals and their ACLs, computed from the registry and the
topic plan (pure; no Kafka here).

The same plan is applied to the broker (``python -m services.ops kafka apply-acls``), printed as
the documentation's table (``... kafka acls``) and checked cell by cell against the real broker
(tests/integration/test_kafka_access_matrix.py).

- Each institution of the registry is a principal named by its id. It may produce to its own
  intake topic and consume its own delivery topic, in consumer groups whose names start with
  ``<id>.``; nothing else.
- Each service is a principal ``service-<name>`` with exactly the topics, consumer groups and
  transactional ids its code uses (see ``service_access``).
- ``admin`` (setup, credentials, ACLs, tests' setup, verify tools) and ``broker`` (the nodes
  among themselves) are super users in the broker's configuration and have no ACLs.

Kafka's operations as the plan uses them: producing needs WRITE (and DESCRIBE, for metadata) on
the topic; since Kafka 3.0 WRITE on a topic also allows an idempotent producer's
InitProducerId, so no cluster ACL is needed. Consuming needs READ on the topic (READ implies
DESCRIBE: metadata, offsets for times, end offsets) and, in a group, READ on the group (join,
commit, fetch committed offsets). A transactional producer needs WRITE and DESCRIBE on its
transactional id; sending a consumer's offsets within a transaction needs READ on that group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel

from schemas.registry.institutions import InstitutionRegistry
from schemas.topics import (
    AUDIT_CHECKPOINTS,
    CASE_EVENTS,
    COORDINATION_REJECTED,
    DELIVERIES,
    DELIVERY_OUTCOMES,
    DIGEST_QUEUE,
    INTAKE_REJECTED,
    NOTIFICATIONS_DEAD_LETTERS,
)
from services.coordination.settings import CoordinationSettings
from services.intake.settings import IntakeSettings
from services.notifications.settings import NotificationsSettings

ADMIN = "admin"
BROKER = "broker"
SUPER_USERS = (ADMIN, BROKER)
SERVICE_PREFIX = "service-"
SERVICES = ("intake", "coordination", "notifications")
INSTITUTION_GROUP_SEPARATOR = "."
# services/intake/runtime.py: transactional_id() is iiz-intake-<door>-<instance id>
INTAKE_TRANSACTIONAL_PREFIX = "iiz-intake-"
# services/notifications/app.py (the lanes) and digest_worker.py: <notifications_group_id>-<name>
NOTIFICATIONS_GROUP_SUFFIXES = ("router", "webhooks", "digest")
# services/coordination/worker/consumer.py: <coordination_group_id> and <...>-outcomes
COORDINATION_OUTCOMES_GROUP_SUFFIX = "outcomes"


class Resource(StrEnum):
    TOPIC = "TOPIC"
    GROUP = "GROUP"
    TRANSACTIONAL_ID = "TRANSACTIONAL_ID"


class Pattern(StrEnum):
    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    DESCRIBE = "DESCRIBE"


@dataclass(frozen=True, order=True)
class AclRule:
    """One ALLOW binding for ``User:<principal>`` from any host."""

    principal: str
    resource: Resource
    pattern: Pattern
    name: str
    operation: Operation

    def matches(self, resource: Resource, name: str) -> bool:
        if self.resource is not resource:
            return False
        if self.pattern is Pattern.LITERAL:
            return self.name == name
        return name.startswith(self.name)


@dataclass(frozen=True)
class Access:
    """What one principal may do, in the plan's terms (turned into rules by ``rules``)."""

    principal: str
    kind: str  # "institution" or "service"
    produces: tuple[str, ...] = ()
    consumes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # literal consumer group names
    group_prefixes: tuple[str, ...] = ()
    transactional_prefixes: tuple[str, ...] = ()
    description: str = ""

    def rules(self) -> list[AclRule]:
        out: list[AclRule] = []

        def add(resource: Resource, pattern: Pattern, name: str, *ops: Operation) -> None:
            out.extend(AclRule(self.principal, resource, pattern, name, op) for op in ops)

        for topic in self.produces:
            add(Resource.TOPIC, Pattern.LITERAL, topic, Operation.WRITE, Operation.DESCRIBE)
        for topic in self.consumes:
            add(Resource.TOPIC, Pattern.LITERAL, topic, Operation.READ, Operation.DESCRIBE)
        for group in self.groups:
            add(Resource.GROUP, Pattern.LITERAL, group, Operation.READ)
        for prefix in self.group_prefixes:
            add(Resource.GROUP, Pattern.PREFIXED, prefix, Operation.READ)
        for prefix in self.transactional_prefixes:
            add(
                Resource.TRANSACTIONAL_ID,
                Pattern.PREFIXED,
                prefix,
                Operation.WRITE,
                Operation.DESCRIBE,
            )
        return sorted(set(out))


def _default(settings: type[BaseModel], name: str) -> str:
    value = settings.model_fields[name].default
    assert isinstance(value, str)
    return value


@dataclass(frozen=True)
class ServiceNames:
    """The consumer group names the services are configured with (their settings' defaults
    unless the environment of the ops command sets ``IIZ_*_GROUP_ID`` like the services')."""

    intake_group_id: str = field(
        default_factory=lambda: _default(IntakeSettings, "intake_group_id")
    )
    coordination_group_id: str = field(
        default_factory=lambda: _default(CoordinationSettings, "coordination_group_id")
    )
    notifications_group_id: str = field(
        default_factory=lambda: _default(NotificationsSettings, "notifications_group_id")
    )


def institution_principal(institution_id: str) -> str:
    return institution_id


def service_principal(service: str) -> str:
    return f"{SERVICE_PREFIX}{service}"


def group_prefix(institution_id: str) -> str:
    """Consumer groups of an institution: names that start with ``<id>.`` (e.g. ``rav.inbox``)."""
    return f"{institution_id}{INSTITUTION_GROUP_SEPARATOR}"


class PrincipalCollisionError(ValueError):
    """An institution id that would name a super user or a service, or reach into another
    institution's consumer groups."""


def checked_institution_id(institution_id: str) -> str:
    """An institution's principal must be no other principal: not ``admin`` or ``broker`` (super
    users), no ``service-…`` name, and no ``.`` (``rav.x``'s groups would start with ``rav.``)."""
    if (
        institution_id in (ADMIN, BROKER)
        or institution_id.startswith(SERVICE_PREFIX)
        or INSTITUTION_GROUP_SEPARATOR in institution_id
    ):
        raise PrincipalCollisionError(
            f"institution id {institution_id!r} would collide with another Kafka principal or"
            " its consumer groups; choose another id in the registry"
        )
    return institution_id


def institution_access(registry: InstitutionRegistry) -> list[Access]:
    for institution in registry.institutions:
        checked_institution_id(institution.id)
    return [
        Access(
            principal=institution_principal(i.id),
            kind="institution",
            produces=(i.intake_topic,),
            consumes=(i.delivery_topic,),
            group_prefixes=(group_prefix(i.id),),
            description=i.name,
        )
        for i in registry.institutions
    ]


def service_access(
    registry: InstitutionRegistry, names: ServiceNames | None = None
) -> list[Access]:
    """The three services, from what their code produces, consumes, joins and opens."""
    names = names or ServiceNames()
    intake_topics = tuple(i.intake_topic for i in registry.institutions)
    delivery_topics = tuple(i.delivery_topic for i in registry.institutions)
    return [
        Access(
            principal=service_principal("intake"),
            kind="service",
            # kafka_door.py reads every intake topic in one group; pipeline.py writes the
            # canonical log, the dead letters and each sender's receipt, in one transaction
            # that also carries the consumed offsets (runtime.py: the transactional id).
            consumes=intake_topics,
            produces=(CASE_EVENTS, INTAKE_REJECTED, *delivery_topics),
            groups=(names.intake_group_id,),
            transactional_prefixes=(INTAKE_TRANSACTIONAL_PREFIX,),
            description="intake: validates, pseudonymises and publishes what partners submit",
        ),
        Access(
            principal=service_principal("coordination"),
            kind="service",
            # worker/consumer.py: the canonical log and the delivery outcomes, two groups; the
            # outbox relay writes deliveries and dead letters, the API case notes to the log,
            # the audit writes signed checkpoints; ops/rebuild + reconcile read the log.
            consumes=(CASE_EVENTS, DELIVERY_OUTCOMES),
            produces=(CASE_EVENTS, DELIVERIES, COORDINATION_REJECTED, AUDIT_CHECKPOINTS),
            groups=(
                names.coordination_group_id,
                f"{names.coordination_group_id}-{COORDINATION_OUTCOMES_GROUP_SUFFIX}",
            ),
            description="coordination: case files, policy, audit log; authorises deliveries",
        ),
        Access(
            principal=service_principal("notifications"),
            kind="service",
            # app.py: the lanes read deliveries and write to the recipients' topics, outcomes,
            # the digest queue and dead letters; digest_worker.py reads its queue; replay.py
            # reads the dead letters and puts them back on the deliveries topic.
            consumes=(DELIVERIES, DIGEST_QUEUE, NOTIFICATIONS_DEAD_LETTERS),
            produces=(
                DELIVERIES,
                DELIVERY_OUTCOMES,
                DIGEST_QUEUE,
                NOTIFICATIONS_DEAD_LETTERS,
                *delivery_topics,
            ),
            groups=tuple(
                f"{names.notifications_group_id}-{suffix}"
                for suffix in NOTIFICATIONS_GROUP_SUFFIXES
            ),
            description="notifications: hands deliveries to partners (Kafka, webhook, e-mail)",
        ),
    ]


def access_plan(registry: InstitutionRegistry, names: ServiceNames | None = None) -> list[Access]:
    """Every managed principal (institutions, then services)."""
    return [*institution_access(registry), *service_access(registry, names)]


def acl_plan(registry: InstitutionRegistry, names: ServiceNames | None = None) -> list[AclRule]:
    """Every ACL the broker should hold for the managed principals, sorted."""
    return sorted({r for a in access_plan(registry, names) for r in a.rules()})


def allowed(
    rules: Iterable[AclRule], principal: str, operation: Operation, resource: Resource, name: str
) -> bool:
    """Would the broker allow it? (ALLOW rules only, as the plan has no DENY; READ and WRITE
    imply DESCRIBE, as in Kafka.)"""
    implied = {Operation.DESCRIBE: {Operation.DESCRIBE, Operation.READ, Operation.WRITE}}
    wanted = implied.get(operation, {operation})
    return any(
        r.principal == principal and r.operation in wanted and r.matches(resource, name)
        for r in rules
    )


def may_produce(rules: Iterable[AclRule], principal: str, topic: str) -> bool:
    return allowed(rules, principal, Operation.WRITE, Resource.TOPIC, topic)


def may_consume(rules: Sequence[AclRule], principal: str, topic: str, group: str | None) -> bool:
    """Read ``topic``, in ``group`` (None: without a group, assigned partitions)."""
    if not allowed(rules, principal, Operation.READ, Resource.TOPIC, topic):
        return False
    return group is None or allowed(rules, principal, Operation.READ, Resource.GROUP, group)


def topic_families(plan: Sequence[Access]) -> dict[str, frozenset[str]]:
    """Every institution's intake topic, every institution's delivery topic, by label."""
    institutions = [a for a in plan if a.kind == "institution"]
    return {
        "every `iiz.intake.<id>.v1`": frozenset(t for a in institutions for t in a.produces),
        "every `iiz.deliver.<id>.v1`": frozenset(t for a in institutions for t in a.consumes),
    }


def summarise_topics(topics: Iterable[str], families: dict[str, frozenset[str]]) -> str:
    """Topic names, a whole family (every institution's intake or delivery topic) as one item."""
    rest = set(topics)
    items: list[str] = []
    for label, family in families.items():
        if family and family <= rest:
            items.append(label)
            rest -= family
    items.extend(f"`{t}`" for t in sorted(rest))
    return ", ".join(items) or "—"


def markdown_table(plan: Sequence[Access], *, all_institutions: bool = False) -> str:
    """The plan as the documentation's table. Institutions appear as one generic row (the same
    rule for each), unless ``all_institutions``."""
    institutions = [a for a in plan if a.kind == "institution"]
    families = topic_families(plan)
    lines = [
        "| principal | may produce to | may consume from | consumer groups | transactional ids |",
        "|---|---|---|---|---|",
    ]
    if institutions and not all_institutions:
        lines.append(
            f"| `<id>`: each institution of the registry ({len(institutions)}, e.g. "
            f"`{institutions[0].principal}`) | `iiz.intake.<id>.v1` | `iiz.deliver.<id>.v1` | "
            "names starting with `<id>.` | none |"
        )
    for a in plan:
        if a.kind == "institution" and not all_institutions:
            continue
        groups = [*(f"`{g}`" for g in a.groups), *(f"`{p}*`" for p in a.group_prefixes)]
        produces = summarise_topics(a.produces, {} if a.kind == "institution" else families)
        consumes = summarise_topics(a.consumes, {} if a.kind == "institution" else families)
        transactional = ", ".join(f"`{p}*`" for p in a.transactional_prefixes) or "none"
        lines.append(
            f"| `{a.principal}` | {produces} | {consumes} | {', '.join(groups) or 'none'} | "
            f"{transactional} |"
        )
    lines.append(
        f"| `{ADMIN}`, `{BROKER}` | super users (broker configuration): everything | | | |"
    )
    return "\n".join(lines) + "\n"
