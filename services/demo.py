"""README command 1: show that the real infrastructure answers and what the bus consists of.

Grows into the full demo (services plus the partner simulation) as the services land.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from schemas.events.catalogue import EVENT_DATA_CLASSES
from schemas.registry import load_institutions
from schemas.topics import planned_topics
from services.common.settings import CommonSettings


async def show_infrastructure(settings: CommonSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    conn = await asyncpg.connect(settings.database_url)
    try:
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    planned = planned_topics()
    missing = [t.name for t in planned if t.name not in existing]
    registry = load_institutions()
    print(f"Kafka      {settings.kafka_bootstrap_servers}  cluster id {cluster['cluster_id']}")
    print(f"PostgreSQL {pg_version} at {settings.database_url.split('@')[-1]}")
    print(f"Topics     {len(planned) - len(missing)}/{len(planned)} planned topics exist")
    print(f"Registry   {len(registry.institutions)} institutions, {len(EVENT_DATA_CLASSES)} types")
    if missing:
        raise SystemExit(f"missing topics: {', '.join(missing[:5])} — run `infra/local up`")


def main() -> None:
    asyncio.run(show_infrastructure(CommonSettings()))


if __name__ == "__main__":
    main()
