"""Create the project's Kafka topics, idempotently.

Usage: .venv/bin/python infra/create_topics.py --bootstrap 127.0.0.1:9092[,127.0.0.1:9094,...]

It connects as the ``IIZ_KAFKA_*`` variables say (``eval "$(infra/local env)"``: SASL_SSL as the
admin principal, with the local CA); PLAINTEXT only when IIZ_KAFKA_SECURITY_PROTOCOL says so.

The replication factor follows the cluster: it describes the cluster and uses min(3, brokers), with
``min.insync.replicas`` 2 when the factor is 3 (1 otherwise), so a three-broker cluster gets RF 3 /
min ISR 2 and the single local broker RF 1 / min ISR 1. It also makes the broker create its
internal topics (``__consumer_offsets``, ``__transaction_state``; their RF is the broker's setting)
now, while every broker is up, rather than at the first consumer group or transaction.

Existing topics keep their partitions (a replication factor that differs from the plan is
reported), but the retention plan is applied to them too: where ``retention.ms`` or ``segment.ms``
differ from the plan, they are altered (AlterConfigs replaces a topic's whole dynamic config, so
the topic's other dynamic settings are sent along unchanged). A finite retention comes with a
daily ``segment.ms``: Kafka deletes only closed segments, so without it a quiet topic's records
outlive their retention (docs/retention.md).

The topic list comes from ``planned_topics()``: the one in ``schemas.topics`` when that module
exists (derived from the institution registry), otherwise the built-in fallback below.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

DAY_MS = 24 * 60 * 60 * 1000
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code
MAX_REPLICATION_FACTOR = 3
INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself
RETENTION_KEYS = ("retention.ms", "segment.ms")  # what the plan applies to existing topics

# Built-in fallback until the registry in `schemas` provides the list.
FALLBACK_INSTITUTIONS = ("rav", "iv", "ksa", "assessmentcenter", "zif", "berufsbildung")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int  # -1 = keep forever
    configs: dict[str, str] = field(default_factory=dict)


def _fallback_planned_topics() -> list[TopicSpec]:
    topics = [
        TopicSpec("iiz.case-events.v1", 6, -1),
        TopicSpec("iiz.deliveries.v1", 6, 30 * DAY_MS),
        TopicSpec("iiz.intake.rejected.v1", 3, 90 * DAY_MS),
    ]
    for inst in FALLBACK_INSTITUTIONS:
        topics.append(TopicSpec(f"iiz.intake.{inst}.v1", 3, 30 * DAY_MS))
        topics.append(TopicSpec(f"iiz.deliver.{inst}.v1", 3, 30 * DAY_MS))
    return topics


def planned_topics() -> list[TopicSpec]:
    """The topics the system needs. Prefers ``schemas.topics.planned_topics`` (registry-driven).

    The registry version may return TopicSpec-like objects (attributes ``name``, ``partitions``,
    ``retention_ms``, optional ``configs``) or mappings with the same keys.
    """
    repo = Path(__file__).resolve().parent.parent
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    try:
        from schemas.topics import planned_topics as registry_planned_topics  # type: ignore
    except ModuleNotFoundError as exc:
        if exc.name not in ("schemas", "schemas.topics"):
            raise  # schemas.topics exists but is broken: do not hide that
        return _fallback_planned_topics()
    specs = []
    for t in registry_planned_topics():
        get = t.get if isinstance(t, dict) else lambda k, d=None, _t=t: getattr(_t, k, d)
        specs.append(
            TopicSpec(
                name=get("name"),
                partitions=int(get("partitions")),
                retention_ms=int(get("retention_ms", -1)),
                configs=dict(get("configs", None) or {}),
            )
        )
    return specs


def retention_plan(spec: TopicSpec) -> dict[str, str]:
    """The retention configs the plan sets on a topic, new or existing."""
    planned = {"retention.ms": str(spec.retention_ms), **spec.configs}
    return {k: v for k, v in planned.items() if k in RETENTION_KEYS}


def retention_changes(
    specs: list[TopicSpec], dynamic: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """Per existing topic whose retention differs from the plan, the complete dynamic config to
    set (AlterConfigs replaces it whole): its current dynamic settings with the plan's on top.
    ``dynamic`` holds each existing topic's dynamic (topic-level) configs."""
    changes = {}
    for spec in specs:
        if spec.name not in dynamic:
            continue
        current, planned = dynamic[spec.name], retention_plan(spec)
        if any(current.get(k) != v for k, v in planned.items()):
            changes[spec.name] = {**current, **planned}
    return changes


async def dynamic_configs(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, dict[str, str]]:
    """Each topic's configs set on the topic itself (not broker defaults)."""
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
    out: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                raise SystemExit(
                    f"[topics] describe configs of {resource['resource_name']}: error "
                    f"{resource['error_code']} {resource['error_message']}"
                )
            out[resource["resource_name"]] = {
                e["config_names"]: e["config_value"]
                for e in resource["config_entries"]
                if e["config_source"] == DYNAMIC_TOPIC_CONFIG and e["config_value"] is not None
            }
    return out


async def apply_retention(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> int:
    """Bring existing topics' retention to the plan; returns how many alterations failed."""
    existing = set(await admin.list_topics())
    changes = retention_changes(
        specs, await dynamic_configs(admin, [s.name for s in specs if s.name in existing])
    )
    if not changes:
        return 0
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, c) for n, c in changes.items()]
    failed = 0
    for response in await admin.alter_configs(resources):
        for resource in response.to_object()["resources"]:
            name, code = resource["resource_name"], resource["error_code"]
            if code:
                failed += 1
                print(
                    f"[topics] FAILED  {name}: retention not applied, error {code} "
                    f"{resource['error_message']}",
                    file=sys.stderr,
                )
            else:
                planned = ", ".join(
                    f"{k}={v}" for k, v in changes[name].items() if k in RETENTION_KEYS
                )
                print(f"[topics] altered {name}: {planned}")
    return failed


def replication_for(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster of ``brokers`` brokers:
    RF min(3, brokers); min ISR 2 at RF 3 (one broker may fail without stopping acks=all
    producers), 1 below. IIZ_KAFKA_REPLICATION_FACTOR / IIZ_KAFKA_MIN_INSYNC_REPLICAS override."""
    rf = int(os.environ.get("IIZ_KAFKA_REPLICATION_FACTOR") or min(MAX_REPLICATION_FACTOR, brokers))
    if not 1 <= rf <= brokers:
        raise SystemExit(f"[topics] replication factor {rf} impossible with {brokers} broker(s)")
    min_isr = int(os.environ.get("IIZ_KAFKA_MIN_INSYNC_REPLICAS") or (2 if rf >= 3 else 1))
    return rf, max(1, min(min_isr, rf))


def _new_topic(spec: TopicSpec, replication_factor: int, min_isr: int) -> NewTopic:
    configs = {"retention.ms": str(spec.retention_ms), "min.insync.replicas": str(min_isr)}
    configs.update(spec.configs)  # segment.ms with a finite retention
    return NewTopic(
        name=spec.name,
        num_partitions=spec.partitions,
        replication_factor=replication_factor,
        topic_configs=configs,
    )


async def _count_brokers(admin: AIOKafkaAdminClient, expect: int, within: float = 60.0) -> int:
    """The number of live brokers; waits (up to ``within`` s) until there are ``expect``."""
    deadline = time.monotonic() + within
    while True:
        brokers = len((await admin.describe_cluster())["brokers"])
        if brokers >= expect or time.monotonic() > deadline:
            if brokers < expect:
                raise SystemExit(f"[topics] the cluster shows {brokers} of {expect} brokers")
            return brokers
        await asyncio.sleep(0.5)


async def _ensure_internal_topics(admin: AIOKafkaAdminClient, within: float = 60.0) -> None:
    """Finding a group and a transaction coordinator makes the broker create its internal topics."""
    deadline = time.monotonic() + within
    for coordinator_type in (0, 1):  # 0: consumer group, 1: transaction
        while True:
            try:
                await admin.find_coordinator("iiz-create-topics-probe", coordinator_type)
                break
            except KafkaError:  # COORDINATOR_NOT_AVAILABLE while the topic is being created
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)


def _replicas_of(described: list[dict[str, object]]) -> dict[str, int]:
    """Topic name -> replication factor (replicas of its first partition)."""
    out = {}
    for topic in described:
        partitions = topic["partitions"]
        if isinstance(partitions, list) and partitions:
            out[str(topic["topic"])] = len(partitions[0]["replicas"])
    return out


def security_options() -> dict[str, object]:
    """How to connect, from the same ``IIZ_KAFKA_*`` variables the services read: SASL_SSL as
    the admin principal (``infra/local`` sets them), or PLAINTEXT when the protocol says so."""
    protocol = os.environ.get("IIZ_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    if protocol == "PLAINTEXT":
        return {"security_protocol": "PLAINTEXT"}
    if protocol != "SASL_SSL":
        raise SystemExit(
            f"[topics] IIZ_KAFKA_SECURITY_PROTOCOL must be PLAINTEXT or SASL_SSL, not {protocol}"
        )
    username, password = os.environ.get("IIZ_KAFKA_USERNAME"), os.environ.get("IIZ_KAFKA_PASSWORD")
    if not username or not password:
        raise SystemExit("[topics] SASL_SSL needs IIZ_KAFKA_USERNAME and IIZ_KAFKA_PASSWORD")
    return {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": os.environ.get("IIZ_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        "sasl_plain_username": username,
        "sasl_plain_password": password,
        "ssl_context": create_ssl_context(cafile=os.environ.get("IIZ_KAFKA_CA_FILE") or None),
    }


async def ensure_topics(bootstrap: str, expect_brokers: int = 1) -> int:
    specs = planned_topics()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=15000, **security_options()
    )
    await admin.start()
    try:
        brokers = await _count_brokers(admin, expect_brokers)
        replication_factor, min_isr = replication_for(brokers)
        await _ensure_internal_topics(admin)
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        failed = 0
        if missing:
            new_topics = [_new_topic(s, replication_factor, min_isr) for s in missing]
            response = await admin.create_topics(new_topics)
            for err in response.topic_errors:
                name, code = err[0], err[1]
                message = err[2] if len(err) > 2 else ""
                if code == 0:
                    print(f"[topics] created {name}")
                elif code == TOPIC_ALREADY_EXISTS:
                    print(f"[topics] exists  {name}")
                else:
                    failed += 1
                    print(f"[topics] FAILED  {name}: error {code} {message}", file=sys.stderr)
        names = [s.name for s in specs if s.name in existing]
        replicas = _replicas_of(await admin.describe_topics([*names, *INTERNAL_TOPICS]))
        for name in names:
            if replicas.get(name, replication_factor) != replication_factor:
                print(
                    f"[topics] NOTE    {name} exists with replication factor {replicas[name]}, "
                    f"not {replication_factor}; left as it is",
                    file=sys.stderr,
                )
        failed += await apply_retention(admin, specs)
        internal = ", ".join(f"{n} RF {replicas[n]}" for n in INTERNAL_TOPICS if n in replicas)
        print(
            f"[topics] {len(missing) - failed} created, {len(specs) - len(missing)} already existed"
            f"{f', {failed} failed' if failed else ''} ({brokers} broker(s): replication factor "
            f"{replication_factor}, min.insync.replicas {min_isr}; {internal})"
        )
        return 1 if failed else 0
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("IIZ_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (default: $IIZ_KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--expect-brokers",
        type=int,
        default=1,
        help="wait (up to 60 s) until the cluster shows this many brokers before choosing the "
        "replication factor (default 1)",
    )
    parser.add_argument("--list", action="store_true", help="only print the planned topics")
    args = parser.parse_args()
    if args.list:
        for s in planned_topics():
            configs = "".join(f"\t{k}={v}" for k, v in retention_plan(s).items())
            print(f"{s.name}\tpartitions={s.partitions}{configs}")
        return 0
    return asyncio.run(ensure_topics(args.bootstrap, args.expect_brokers))


if __name__ == "__main__":
    sys.exit(main())
