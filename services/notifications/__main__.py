"""Notifications' commands: ``python -m services.notifications <command>``.

run                      deliver what coordination authorised (the default)
replay --recipient ID [--since ISO-TIME]
                         send one recipient's dead-lettered deliveries again
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from services.common.banner import announce, health_address, load_settings
from services.common.logging import configure_logging
from services.common.worker import run_worker_process
from services.notifications.settings import NotificationsSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.notifications",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", default="run", choices=["run", "replay"])
    parser.add_argument("--recipient", help="institution id (replay)")
    parser.add_argument(
        "--since",
        type=dt.datetime.fromisoformat,
        help="only dead letters written at or after this ISO time (replay)",
    )
    args = parser.parse_args(argv)
    if args.command == "replay" and not args.recipient:
        parser.error("replay needs --recipient")
    settings = load_settings(NotificationsSettings, f"notifications {args.command}")
    configure_logging(settings.log_level, settings.log_json)
    if args.command == "run":
        from services.notifications.app import create_app

        announce(
            "notifications run",
            settings,
            database=False,
            extra=f"SMTP {settings.notifications_smtp_host}:{settings.notifications_smtp_port}"
            f"; health on {health_address(settings, 8093)}",
        )
        run_worker_process(create_app(settings))
        return 0
    from services.notifications.replay import replay_dead_letters

    announce(f"notifications replay --recipient {args.recipient}", settings, database=False)
    count = asyncio.run(replay_dead_letters(settings, args.recipient, since=args.since))
    print(f"replayed {count} dead-lettered deliveries for {args.recipient}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
