"""Intake's commands: ``python -m services.intake <command>``.

migrate   create or upgrade the intake schema (submission ledger, HTTP access tokens); run it
          before starting a door, the doors never migrate themselves
kafka     run the Kafka door: consume every institution's intake topic
http      run the HTTP door (POST /v1/events and the web form) on 127.0.0.1:$IIZ_INTAKE_HTTP_PORT

Each running door needs its own stable IIZ_INTAKE_INSTANCE_ID (required in production): a
restarted door with the same id fences its predecessor; two doors of the same kind running at
once with the same id fence each other.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.common.banner import announce, health_address, load_settings
from services.common.logging import configure_logging
from services.common.worker import run_worker_process
from services.intake.migrate import migrate
from services.intake.settings import IntakeSettings


def _migrate(settings: IntakeSettings) -> int:
    announce(
        "intake migrate",
        settings,
        kafka=False,
        database=False,
        owner=True,
        schema=settings.intake_db_schema,
    )
    asyncio.run(migrate(settings))
    print(f"schema {settings.intake_db_schema} is at the newest revision")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.intake",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["migrate", "kafka", "http"])
    args = parser.parse_args(argv)
    settings = load_settings(IntakeSettings, f"intake {args.command}")
    configure_logging(settings.log_level, settings.log_json)
    if args.command == "migrate":
        return _migrate(settings)
    announce(
        f"intake {args.command} (instance {settings.intake_instance_id})",
        settings,
        schema=settings.intake_db_schema,
        extra=f"health on {health_address(settings, 8091)}"
        if args.command == "kafka"
        else f"HTTP on 127.0.0.1:{settings.intake_http_port}",
    )
    if args.command == "kafka":
        from services.intake.kafka_door import create_app

        run_worker_process(create_app(settings))
        return 0
    from services.intake.http_door.app import main as serve_http

    serve_http(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
