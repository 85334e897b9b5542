"""Create the project's Kafka topics, idempotently.

Usage: .venv/bin/python infra/create_topics.py --bootstrap 127.0.0.1:9092

Existing topics are left untouched (no config or partition changes, no error). The topic list comes
from ``planned_topics()``: the one in ``schemas.topics`` when that module exists (derived from the
institution registry), otherwise the built-in fallback below.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

DAY_MS = 24 * 60 * 60 * 1000
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code

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


def _new_topic(spec: TopicSpec, replication_factor: int) -> NewTopic:
    min_isr = min(int(os.environ.get("IIZ_KAFKA_MIN_INSYNC_REPLICAS", "1")), replication_factor)
    configs = {"retention.ms": str(spec.retention_ms), "min.insync.replicas": str(min_isr)}
    configs.update(spec.configs)
    return NewTopic(
        name=spec.name,
        num_partitions=spec.partitions,
        replication_factor=replication_factor,
        topic_configs=configs,
    )


async def ensure_topics(bootstrap: str, replication_factor: int) -> int:
    specs = planned_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        failed = 0
        if missing:
            new_topics = [_new_topic(s, replication_factor) for s in missing]
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
        print(
            f"[topics] {len(missing) - failed} created, {len(specs) - len(missing)} already existed"
            f"{f', {failed} failed' if failed else ''} (replication factor {replication_factor})"
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
        "--replication-factor",
        type=int,
        default=int(os.environ.get("IIZ_KAFKA_REPLICATION_FACTOR", "1")),
        help="replication factor for new topics (default: $IIZ_KAFKA_REPLICATION_FACTOR or 1)",
    )
    parser.add_argument("--list", action="store_true", help="only print the planned topics")
    args = parser.parse_args()
    if args.list:
        for s in planned_topics():
            print(f"{s.name}\tpartitions={s.partitions}\tretention.ms={s.retention_ms}")
        return 0
    return asyncio.run(ensure_topics(args.bootstrap, args.replication_factor))


if __name__ == "__main__":
    sys.exit(main())
