"""A worker process: its resources, its consumer edges and its health endpoints, run by FastStream.

FastStream runs the application (signals, ``faststream run --factory``, ``TestApp`` in tests);
the consumer edges (``services.common.consumer_edge``) read the topics. Start order: the
service's resources, then the edges, then the health server; shutdown in reverse, the resources
last, so no batch is cut off under a running handler.

Run as a process's main (``run_worker_process``, what the services' commands do), the garbage
collector is tuned once the worker has started, for a process that handles batches
(``settle_garbage_collector``): what start-up built is frozen out of the collections,
and the youngest generation is collected every 10,000 allocations instead of 700. Profiles of
the coordination worker put a full collection (about 18 ms) in every few batches; with this
its fold and effects took 23 % less CPU per event (docs/benchmarks.md). Nothing is kept longer
than a few batches: cycles are still collected, only less often.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream import FastStream

from services.common.consumer_edge import ConsumerEdge
from services.common.health import HealthServer
from services.common.kafka_clients import create_broker
from services.common.settings import CommonSettings

Hook = Callable[[], Awaitable[Any]]
YOUNGEST_GENERATION_THRESHOLD = 10_000  # CPython's default is 700


async def settle_garbage_collector() -> None:
    """Freeze what start-up built (modules, settings, pools) out of the collections and collect
    the youngest generation less often: a batch allocates thousands of short-lived objects."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST_GENERATION_THRESHOLD, middle, oldest)


class Worker:
    def __init__(
        self, settings: CommonSettings, edges: Sequence[ConsumerEdge], default_port: int
    ) -> None:
        port = settings.health_port
        self.edges = list(edges)
        self.health = HealthServer(
            self.edges,
            host=settings.health_host,
            port=default_port if port is None else port,
        )

        self.on_fatal: Callable[[], Any] | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for edge in self.edges:
            await edge.start()
        await self.health.start()
        self._watch = asyncio.create_task(self._stop_process_when_an_edge_ends())

    async def _stop_process_when_an_edge_ends(self) -> None:
        """A fenced producer or a lost right ends the process (its successor takes over)."""
        waits = [asyncio.create_task(edge.ended()) for edge in self.edges]
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if any(task.result() is not None for task in done) and self.on_fatal is not None:
            self.on_fatal()

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        await self.health.stop()
        await asyncio.gather(*(edge.stop() for edge in self.edges))


def run_worker_process(app: FastStream) -> None:
    """Run a worker application as this process's main: until a signal or a fatal error, with
    the garbage collector settled once it has started (not in tests, which share a process)."""
    app.after_startup(settle_garbage_collector)
    asyncio.run(app.run())


def worker_application(
    settings: CommonSettings,
    worker: Worker,
    *,
    start_resources: Sequence[Hook],
    stop_resources: Sequence[Hook],
) -> FastStream:
    """The FastStream application that runs the worker.

    FastStream insists on a broker; it gets one with no subscribers (one idle connection), as
    the edges do the consuming and the services' own transactional producers the publishing.
    """
    app = FastStream(
        create_broker(settings),
        on_startup=[*start_resources, worker.start],
        on_shutdown=[worker.stop],
        after_shutdown=list(stop_resources),
    )
    worker.on_fatal = app.exit
    return app


async def probe(pool: asyncpg.Pool | None, producer: AIOKafkaProducer | None) -> None:
    """Raise unless PostgreSQL answers a query and the broker answers a metadata request."""
    if pool is None or producer is None:
        raise ConnectionError("not started")
    await pool.fetchval("SELECT 1")
    if not await producer.client.force_metadata_update():
        raise ConnectionError("the Kafka cluster does not answer")
